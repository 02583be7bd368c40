/**
 * A real Prometheus (Debian package) scrapes the operator's metrics while the operator runs: the
 * controllers (Manager with leader election, against the real API server) reconciling a
 * RolloutBatch, a TrainingRun of the built-in tiny coder in local mode (rollouts, EntroPO-KTO
 * update, evaluation: the domain metrics), and a policy server (`entropo serve`'s server) answering
 * chat completions. The rendered alert rules are loaded into that Prometheus.
 *
 * Then: every PromQL expression of the dashboard returns at least one series, every variable
 * query finds values, every selector of every alert returns at least one series and every rule
 * evaluates without error. The dashboard's panels over the run are rendered to SVG
 * (charts/render-dashboard.ts); with ENTROPO_DASHBOARD_OUT=<dir> the SVG and PNG are kept there
 * (how docs/dashboard.svg and docs/dashboard.png are made).
 */
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { Registry } from 'prom-client';
import { Prometheus } from '../helpers/prometheus.ts';
import { helmTemplate } from '../../charts/generate.ts';
import { renderDashboardSvg, svgToPng, type PanelData } from '../../charts/render-dashboard.ts';
import { DASHBOARD_ROWS, DASHBOARD_VARIABLES, dashboardQueries } from '../../operator/metrics/dashboard.ts';
import { createRegistry } from '../../operator/metrics/registry.ts';
import { Manager } from '../../operator/runtime/manager.ts';
import { registerControllers } from '../../operator/controllers/index.ts';
import { runLocal } from '../../operator/local/run.ts';
import { logger } from '../../operator/logging/logger.ts';
import { kubeConfig } from './runtime/helpers.ts';
import { adminClient, cluster, create, createNamespace, RB, rolloutBatch, tempStore } from './controllers/helpers.ts';

const OPERATOR_JOB = 'entropo-operator-metrics';
const POLICY_JOB = 'entropo-system/entropo-operator-policy-servers';
const TASKS = ['lru-overwrite-leaks-size', 'mb-allocate-zero-ratio-gets-cents'];

/** Serves a registry's /metrics on 127.0.0.1 (any free port). */
async function serveRegistry(registry: Registry): Promise<{ server: Server; target: string }> {
  const server = createServer((req, res) => {
    void registry.metrics().then((body) => {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(body);
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return { server, target: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A dashboard expression with Grafana's variables bound: every job / namespace / run, 1m rate windows. */
const bind = (expr: string) => expr.replace(/\$__rate_interval/g, '1m').replace(/\$(job|namespace|run|policy_job)\b/g, '.+');

/** The vector selectors of an alert expression (metric{matchers}). */
const selectors = (expr: string) => [...expr.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)].map((m) => `${m[1]}{${m[2]}}`);

test('a real Prometheus scraping the operator: every dashboard query and alert selector returns series, every rule evaluates', async (t) => {
  t.timeout(15 * 60_000); // a local TrainingRun on a loaded 2-core machine
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 'prom');

  // 1. The controllers with leader election and /metrics, reconciling a RolloutBatch.
  const opRegistry = createRegistry();
  const mgr = await Manager.create({
    kubeConfig: kubeConfig(cp),
    namespaces: [ns],
    leaderElection: { namespace: ns, id: 'entropo-operator.entropo.dev' },
    metricsBindAddress: '127.0.0.1:0',
    healthProbeBindAddress: '0',
    registry: opRegistry,
    log: logger.child({ test: 'prometheus' }),
    gracefulShutdownMs: 5_000,
  });
  registerControllers(mgr, { workers: 2, operatorImage: 'entropo.local/operator:test', sandboxBaseImage: 'entropo.local/task-base:test' });
  t.teardown(() => mgr.stop());
  await mgr.start();
  await create(admin, RB, rolloutBatch(ns, 'scraped', tempStore().uri));

  // 2. A policy server (the server of `entropo serve`) with its /metrics.
  const [{ resolveModel }, { startPolicyServer }] = await Promise.all([import('../../operator/serving/source.ts'), import('../../operator/serving/server.ts')]);
  const model = await resolveModel('builtin:tiny-coder');
  const ps = await startPolicyServer({ modelDir: model.modelDir, servedModelName: 'tiny-coder', host: '127.0.0.1', port: 0, log: logger.child({ test: 'prometheus' }) });
  t.teardown(() => ps.close());
  const chat = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = await fetch(`${ps.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny-coder', messages: [{ role: 'user', content: `fix bug ${i}` }], max_tokens: 16, seed: i }),
      });
      t.is(r.status, 200, await r.clone().text());
      await r.json();
    }
  };
  await chat(3);

  // 3. Local mode's registry, served for as long as the test needs it.
  const localRegistry = createRegistry();
  const local = await serveRegistry(localRegistry);
  t.teardown(() => new Promise<void>((res) => local.server.close(() => res())));

  // 4. Prometheus: the operator and local mode as one job (two instances), the policy server as
  //    the PodMonitor's job; the chart's rules with the default values (those job names).
  const rendered = parse(helmTemplate(['--set', 'prometheusRule.enabled=true', '--show-only', 'templates/prometheusrule.yaml'])) as { spec: { groups: unknown[] } };
  const prom = await new Prometheus({
    jobs: { [OPERATOR_JOB]: [`127.0.0.1:${mgr.metricsPort}`, local.target], [POLICY_JOB]: [new URL(ps.url).host] },
    rules: { 'entropo.rules.yaml': stringify({ groups: rendered.spec.groups }) },
  }).start();
  t.teardown(() => prom.stop());
  const start = Date.now() / 1000;

  // 5. The TrainingRun, locally.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-prom-run-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'tr.yaml');
  await writeFile(
    file,
    `apiVersion: entropo.dev/v1alpha1
kind: TrainingRun
metadata: {name: observed, namespace: ml}
spec:
  policy: {name: tiny-coder, source: "builtin:tiny-coder"}
  iterations: 1
  tasks:
    builtin: {split: Train}
    instanceIds: [${TASKS.join(', ')}]
  rollout:
    samplesPerTask: 2
    parallelism: 2
    sampling: {seed: 3, maxTokensPerTurn: 384}
    limits: {maxSteps: 8, maxTokens: 4096, timeoutSeconds: 300}
  preference: {algorithm: KTO}
  training: {method: LoRA, learningRate: 0.002, batchSize: 2, maxSequenceLength: 1024}
  evaluation:
    tasks:
      builtin: {split: Train}
      instanceIds: [${TASKS.join(', ')}]
    samplesPerTask: 2
`,
  );
  const r = await runLocal({ file, store: path.join(dir, 'store'), resume: false, metricsPort: -1, progress: false, isolation: 'auto', out: () => undefined, registry: localRegistry });
  t.is(r.object.status?.phase, 'Succeeded', r.object.status?.message);
  await chat(3);

  // 6. Wait until Prometheus has scraped the final state (the run's best@N is set last).
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && (await prom.query('entropo_best_at_n{kind="TrainingRun"}')).length === 0) await new Promise((res) => setTimeout(res, 500));
  await new Promise((res) => setTimeout(res, 3_000)); // a few more scrapes for the rate windows
  const targets = await prom.targets();
  t.is(targets.length, 3);
  for (const x of targets) t.is(x.health, 'up', `${x.labels.job} ${x.labels.instance}: ${x.lastError}`);

  // 7. Every dashboard expression returns a series; every variable finds values.
  const empty: string[] = [];
  for (const q of dashboardQueries()) {
    const res = await prom.query(bind(q.expr));
    if (res.length === 0) empty.push(`${q.row} / ${q.panel}: ${q.expr}`);
  }
  t.deepEqual(empty, [], 'dashboard expressions with no series');
  for (const v of DASHBOARD_VARIABLES) {
    const m = /^label_values\((.*), (\w+)\)$/.exec(v.query)!;
    const values = new Set((await prom.series(bind(m[1]))).map((s) => s[m[2]]).filter(Boolean));
    t.true(values.size > 0, `variable ${v.name}: ${v.query}`);
  }
  t.deepEqual((await prom.series('entropo_phase{kind="TrainingRun"}')).map((s) => s.name), ['observed', 'observed', 'observed', 'observed', 'observed']);

  // 8. Every alert's selectors return series; every rule evaluated without error.
  const rules = await prom.rules();
  t.is(rules.length, 7);
  for (const rule of rules) {
    t.is(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);
    for (const s of selectors(rule.query)) t.true((await prom.query(s)).length > 0, `${rule.name}: ${s} has no series`);
  }
  // the operator is up and has a leader: those alerts are quiet
  t.deepEqual(await prom.query('ALERTS{alertname=~"EntroPOOperatorDown|EntroPOOperatorNoLeader"}'), []);

  // 9. The dashboard over the run, rendered.
  const end = Date.now() / 1000;
  const step = Math.max(1, Math.round((end - start) / 150));
  const data: PanelData[] = [];
  for (const row of DASHBOARD_ROWS) {
    for (const panel of row.panels) {
      const series = [];
      for (const target of panel.targets) {
        for (const s of await prom.queryRange(bind(target.expr), start, end, step)) {
          series.push({ name: target.legend.replace(/\{\{(\w+)\}\}/g, (_, l: string) => s.metric[l] ?? ''), points: s.values!.map(([x, y]) => [x, Number(y)] as [number, number]) });
        }
      }
      data.push({ row: row.title, title: panel.title, unit: panel.unit, series });
    }
  }
  t.true(data.every((p) => p.series.length > 0), data.filter((p) => p.series.length === 0).map((p) => p.title).join(', '));
  const svg = await renderDashboardSvg(data, { title: `EntroPO operator: TrainingRun ml/observed (1 iteration) scraped by Prometheus every 1 s` });
  t.regex(svg, /^<svg/);
  for (const p of data) t.true(svg.includes(p.title.replace(/&/g, '&amp;')), `the SVG shows ${p.title}`);
  const png = await svgToPng(svg);
  t.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
  const out = process.env.ENTROPO_DASHBOARD_OUT;
  if (out) {
    await writeFile(path.join(out, 'dashboard.svg'), svg);
    await writeFile(path.join(out, 'dashboard.png'), png);
    t.log(`wrote ${out}/dashboard.svg and dashboard.png (${(end - start).toFixed(0)} s of data)`);
  }
});
