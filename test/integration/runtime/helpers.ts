/** Shared pieces of the runtime integration tests: a private control plane, objects, waits, operator processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { KubeConfig } from '@kubernetes/client-node';
import { ControlPlane, freePort, resolveAssets, type ControlPlaneOptions } from '../../envtest/controlplane.ts';
import { installCrds } from '../../envtest/crds.ts';
import { testCluster } from '../../helpers/cluster.ts';
import { RestClient } from '../../../operator/runtime/kube/rest.ts';
import { resourcePath, EntropoResources } from '../../../operator/runtime/kube/resource.ts';
import type { KubeObject } from '../../../operator/runtime/kube/types.ts';
import { parseExposition, type Sample } from '../../../operator/metrics/parse.ts';

export const RB = EntropoResources.RolloutBatch;

/** What the tests need of a cluster: a kubeconfig and the real kubectl. */
export interface Cluster {
  readonly kubeconfigPath: string;
  kubectl(args: string[], input?: string): { status: number; stdout: string; stderr: string };
}

/**
 * The suite's shared control plane under `npm run test:integration`, else a private one. Tests that
 * stop, freeze or compact the API server use controlPlane() (always private).
 */
export async function cluster(t: ExecutionContext): Promise<Cluster> {
  if (process.env.ENTROPO_TEST_KUBECONFIG && process.env.ENTROPO_TEST_KUBECTL) return testCluster();
  return controlPlane(t);
}

/** A private control plane with the CRDs installed, stopped when the test ends. */
export async function controlPlane(t: ExecutionContext, options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const cp = new ControlPlane(resolveAssets(), options);
  t.teardown(() => cp.stop());
  await cp.start();
  installCrds(cp);
  return cp;
}

export function kubeConfig(cp: Cluster): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  return kc;
}

export async function adminClient(cp: Cluster): Promise<RestClient> {
  return RestClient.fromKubeConfig(kubeConfig(cp));
}

export async function createNamespace(client: RestClient, prefix = 'rt'): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
  return name;
}

/** A store directory for the objects these tests create (the operator runs in-process or as a child on this machine). */
export const TEST_STORE = `file://${join(tmpdir(), 'entropo-runtime-tests')}`;

/**
 * A RolloutBatch that the real reconciler settles at once and cheaply: suspended (no sandbox Pod is
 * created), with a local store. The runtime tests only need "reconciled by the leader".
 */
export function rolloutBatch(namespace: string, name: string, samplesPerTask = 1): KubeObject {
  return {
    apiVersion: 'entropo.dev/v1alpha1',
    kind: 'RolloutBatch',
    metadata: { name, namespace },
    spec: {
      policy: { name: 'tiny-coder', endpoint: { url: 'http://policy:8000/v1' } },
      tasks: { builtin: { split: 'All' }, limit: 2 },
      samplesPerTask,
      suspend: true,
      storage: { uri: TEST_STORE },
    },
  };
}

export async function createRB(client: RestClient, namespace: string, name: string, samplesPerTask = 1): Promise<KubeObject> {
  return client.request<KubeObject>('POST', resourcePath(RB, namespace), { body: rolloutBatch(namespace, name, samplesPerTask) });
}

export async function getRB(client: RestClient, namespace: string, name: string): Promise<KubeObject & { status?: Record<string, any> }> {
  return client.request('GET', resourcePath(RB, namespace, name));
}

/**
 * Reconciled: the operator wrote status for the object's current generation (observedGeneration,
 * a phase, and conditions of that generation).
 */
export function isAccepted(o: KubeObject & { status?: Record<string, any> }): boolean {
  const s = o.status;
  return (
    !!s &&
    s.observedGeneration === o.metadata.generation &&
    typeof s.phase === 'string' &&
    (s.conditions ?? []).length > 0 &&
    (s.conditions as { observedGeneration?: number }[]).some((c) => c.observedGeneration === o.metadata.generation)
  );
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export async function scrape(port: number): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics: ${res.status}`);
  return parseExposition(await res.text());
}

export interface OperatorProcess {
  child: ChildProcess;
  metricsPort: number;
  healthPort: number;
  logPath: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node bin/entropo.js operator` as a real child process; killed (SIGKILL) at teardown if still running. */
export async function startOperator(t: ExecutionContext, cp: Cluster, args: string[], opts: { kubeconfigFromEnv?: boolean } = {}): Promise<OperatorProcess> {
  const metricsPort = await freePort();
  const healthPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'entropo-op-'));
  const logPath = join(dir, 'operator.log');
  const log = createWriteStream(logPath);
  const child = spawn(
    process.execPath,
    [
      'bin/entropo.js',
      'operator',
      ...(opts.kubeconfigFromEnv ? [] : ['--kubeconfig', cp.kubeconfigPath]),
      '--metrics-bind-address',
      `127.0.0.1:${metricsPort}`,
      '--health-probe-bind-address',
      `127.0.0.1:${healthPort}`,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ENTROPO_LOG_LEVEL: 'info', ...(opts.kubeconfigFromEnv ? { KUBECONFIG: cp.kubeconfigPath } : {}) } },
  );
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, metricsPort, healthPort, logPath, exited };
}

export async function readyz(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
  } catch {
    return 0;
  }
}

/** The promise's value, or undefined if it takes longer than ms (the timer does not keep the process alive). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([p, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  clearTimeout(timer);
  return r;
}

/** The pid of this control plane's kube-apiserver (found by its --secure-port flag in /proc). */
export function apiServerPid(cp: ControlPlane): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes(`--secure-port=${cp.apiPort}`) && args[0].endsWith('kube-apiserver')) return Number(entry);
    } catch {
      /* exited meanwhile */
    }
  }
  throw new Error('kube-apiserver process not found');
}
