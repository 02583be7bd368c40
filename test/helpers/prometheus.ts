/**
 * A real Prometheus server for tests (the Debian package prometheus, .ci/apt-packages.txt):
 * static scrape targets by job, optional rule files, its HTTP API for queries. Started on a free
 * loopback port (retried on a bind race), with its TSDB in a temporary directory; stop() ends the
 * process it started and removes the directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../envtest/controlplane.ts';

export const PROMETHEUS = process.env.PROMETHEUS ?? 'prometheus';

export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

export interface PrometheusOptions {
  /** job -> targets (host:port). */
  jobs: Record<string, string[]>;
  /** Rule files' contents (YAML of {groups: [...]}), by file name. */
  rules?: Record<string, string>;
  scrapeInterval?: string;
}

export class Prometheus {
  readonly dir: string;
  url = '';
  private child?: ChildProcess;
  private log = '';

  constructor(private readonly o: PrometheusOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'entropo-prometheus-'));
  }

  /** Starts Prometheus and waits until /-/ready answers 200 (up to 60 s). */
  async start(): Promise<this> {
    const version = spawnSync(PROMETHEUS, ['--version'], { encoding: 'utf8' });
    if (version.error) throw new Error(`${PROMETHEUS}: ${version.error.message} (install the Debian package prometheus: .ci/apt-packages.txt)`);
    const interval = this.o.scrapeInterval ?? '1s';
    for (const [name, text] of Object.entries(this.o.rules ?? {})) writeFileSync(join(this.dir, name), text);
    writeFileSync(
      join(this.dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
        rule_files: Object.keys(this.o.rules ?? {}),
        scrape_configs: Object.entries(this.o.jobs).map(([job, targets]) => ({ job_name: job, static_configs: [{ targets }] })),
      }),
    );
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      this.url = `http://127.0.0.1:${port}`;
      this.log = '';
      const child = spawn(
        PROMETHEUS,
        [`--config.file=${join(this.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      this.child = child;
      child.stdout!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-8000)));
      child.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-8000)));
      const exited = new Promise<'exited'>((res) => child.once('exit', () => res('exited')));
      const deadline = Date.now() + 60_000;
      let ready = false;
      while (Date.now() < deadline) {
        const r = await Promise.race([fetch(`${this.url}/-/ready`).then((x) => x.ok, () => false), exited]);
        if (r === 'exited') break;
        if (r) {
          ready = true;
          break;
        }
        await new Promise((res) => setTimeout(res, 200));
      }
      if (ready) return this;
      await this.kill();
      if (attempt < 2 && /address already in use/.test(this.log)) continue;
      throw new Error(`prometheus did not become ready: ${this.log}`);
    }
  }

  private async api<T>(path: string, params: Record<string, string | string[]>): Promise<T> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) body.append(k, x);
    const r = await fetch(`${this.url}${path}`, { method: 'POST', body });
    const j = (await r.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (j.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${j.errorType}: ${j.error}`);
    return j.data;
  }

  /** An instant query (at `time`, Unix seconds; default now): the result vector (scalars as one series). */
  async query(expr: string, time?: number): Promise<PromSeries[]> {
    const d = await this.api<{ resultType: string; result: PromSeries[] | [number, string] }>('/api/v1/query', { query: expr, ...(time ? { time: String(time) } : {}) });
    return d.resultType === 'scalar' || d.resultType === 'string' ? [{ metric: {}, value: d.result as [number, string] }] : (d.result as PromSeries[]);
  }

  /** A range query: series with values over [start, end] every `step` seconds. */
  queryRange(expr: string, start: number, end: number, step: number): Promise<PromSeries[]> {
    return this.api<{ result: PromSeries[] }>('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(step) }).then((d) => d.result);
  }

  /** Series matching selectors (label_values of Grafana). */
  series(match: string): Promise<Array<Record<string, string>>> {
    return this.api('/api/v1/series', { 'match[]': match });
  }

  /** Every scrape target with its health and last error. */
  async targets(): Promise<Array<{ labels: Record<string, string>; health: string; lastError: string }>> {
    const r = await fetch(`${this.url}/api/v1/targets`);
    return ((await r.json()) as { data: { activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }> } }).data.activeTargets;
  }

  /** Every rule with its health and last evaluation error. */
  async rules(): Promise<Array<{ name: string; query: string; health: string; lastError?: string; type: string }>> {
    const r = await fetch(`${this.url}/api/v1/rules`);
    const j = (await r.json()) as { data: { groups: Array<{ rules: Array<{ name: string; query: string; health: string; lastError?: string; type: string }> }> } };
    return j.data.groups.flatMap((g) => g.rules);
  }

  private async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const done = new Promise((res) => c.once('exit', res));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(t);
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
