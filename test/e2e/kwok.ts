/**
 * Simulated nodes for scale tests and benchmarks (kwok v0.8.0, sigs.k8s.io/kwok) on the API
 * server of the real node cluster (test/e2e/cluster.ts) or of the envtest control plane: kwok
 * plays the kubelet of every Node annotated `kwok.x-k8s.io/node=fake`, so Pods scheduled there go
 * Pending -> Running -> Succeeded without containers, while the real node keeps running real ones.
 *
 *   const kwok = await startKwok({ kubeconfig: c.kubeconfigPath, nodes: 4 });
 *   // Pods that should land on a simulated node: add kwok.podPlacement (nodeSelector + toleration)
 *   const spec = { ...podSpec, ...kwok.podPlacement };
 *   ...
 *   await kwok.stop();   // stops kwok and deletes its Nodes
 *
 * Lifecycle (kwok's "general" Pod stages, with the completion stage opened to every owner and
 * no random jitter): a Pod becomes Running and Ready `startDelayMs` (x2) after it is bound, and Succeeded
 * (every container terminated, exit code 0, reason Completed) `completeDelayMs` later. Per-Pod
 * overrides are kwok's annotations (`pod-complete.stage.kwok.x-k8s.io/delay: "5s"`); the
 * annotation `kwok.entropo.dev/termination-message` becomes every container's
 * `state.terminated.message` (what a sandbox Pod writes to /dev/termination-log).
 * With no scheduler running (envtest), set `spec.nodeName` to one of `kwok.nodes` yourself, or
 * start kube-scheduler (bench/fanout.ts does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { logTail, runTool } from '../envtest/controlplane.ts';
import { provisionNode } from './cluster.ts';

export const KWOK_TAINT = { key: 'kwok.x-k8s.io/node', value: 'fake', effect: 'NoSchedule' } as const;
export const TERMINATION_MESSAGE_ANNOTATION = 'kwok.entropo.dev/termination-message';

export interface KwokOptions {
  kubeconfig: string;
  /** kubectl binary (default: ENTROPO_TEST_KUBECTL, else the provisioned one on PATH). */
  kubectl?: string;
  /** Number of simulated nodes (default 1), named kwok-node-0..n-1. */
  nodes?: number;
  /** Allocatable per node (default cpu 1000, memory 4Ti, ephemeral-storage 100Ti, pods 10000). */
  capacity?: { cpu: string; memory: string; pods: string; 'ephemeral-storage'?: string };
  /** Delay before a Running Pod completes, ms (default 1000). */
  completeDelayMs?: number;
  /** Delay of each start stage (created, init containers, ready), ms (default 0). No jitter. */
  startDelayMs?: number;
  /**
   * The termination message of every container, as a Go template (kwok's functions; `$root` is
   * the Pod, `$item` the container) rendering one YAML scalar on one line, e.g. a JSON summary
   * built from the Pod's labels and env piped through `Quote`. Default: the Pod's annotation
   * TERMINATION_MESSAGE_ANNOTATION, quoted ("" when absent).
   */
  terminationMessageTemplate?: string;
}

export interface Kwok {
  /** Names of the simulated nodes. */
  nodes: string[];
  /** Merge into a Pod spec so that it lands on a simulated node. */
  podPlacement: { nodeSelector: Record<string, string>; tolerations: Array<Record<string, string>> };
  /** kwok's log (last bytes). */
  log(bytes?: number): string;
  stop(): Promise<void>;
}

const ANNOTATION_MESSAGE = `{{ with $root.metadata.annotations }}{{ with index . "${TERMINATION_MESSAGE_ANNOTATION}" }}{{ . | Quote }}{{ else }}""{{ end }}{{ else }}""{{ end }}`;

function stageDocs(dir: string, completeDelayMs: number, startDelayMs: number, message: string): string {
  if (message.includes('\n')) throw new Error('kwok terminationMessageTemplate: must be one line');
  const docs: unknown[] = [];
  const take = (sub: string, skip: (name: string) => boolean = () => false) => {
    for (const f of readdirSync(join(dir, sub)).sort()) {
      if (!f.endsWith('.yaml') || f === 'kustomization.yaml' || skip(f)) continue;
      for (const d of parseAllDocuments(readFileSync(join(dir, sub, f), 'utf8'))) {
        const js = d.toJS() as { kind?: string; metadata?: { name?: string }; spec?: any };
        if (js?.kind !== 'Stage') continue;
        if (js.spec?.resourceRef?.kind === 'Pod' && js.spec.delay) {
          // No random jitter: a benchmark's numbers must not depend on it (annotations still override).
          delete js.spec.delay.jitterDurationMilliseconds;
          if (js.metadata?.name !== 'pod-complete' && js.metadata?.name !== 'pod-delete') js.spec.delay.durationMilliseconds = startDelayMs;
        }
        if (js.metadata?.name === 'pod-complete') {
          // Every Pod completes (upstream: Job-owned Pods only), with a fixed delay and the
          // termination message from an annotation (or the caller's template).
          js.spec.selector.matchExpressions = js.spec.selector.matchExpressions.filter((e: { key: string }) => !e.key.includes('ownerReferences'));
          js.spec.delay.durationMilliseconds = completeDelayMs;
          delete js.spec.delay.jitterDurationMilliseconds;
          js.spec.next.statusTemplate = String(js.spec.next.statusTemplate).replace(
            /^( *)reason: Completed$/m,
            (_m: string, indent: string) => `${indent}reason: Completed\n${indent}message: ${message}`,
          );
        }
        docs.push(js);
      }
    }
  };
  take('node/fast');
  take('node/heartbeat-with-lease');
  take('pod/general');
  return docs.map((d) => stringify(d)).join('---\n');
}

/** Starts kwok against `kubeconfig` and registers the simulated nodes; see the module comment. */
export async function startKwok(options: KwokOptions): Promise<Kwok> {
  const assets = provisionNode();
  const kubectl = options.kubectl ?? process.env.ENTROPO_TEST_KUBECTL ?? 'kubectl';
  const dir = mkdtempSync(join(tmpdir(), 'entropo-kwok-'));
  const config = join(dir, 'kwok.yaml');
  writeFileSync(config, stageDocs(join(assets.dir, 'kwok-stages'), options.completeDelayMs ?? 1000, options.startDelayMs ?? 0, options.terminationMessageTemplate ?? ANNOTATION_MESSAGE));
  const k = (args: string[], input?: string) => runTool(kubectl, ['--kubeconfig', options.kubeconfig, ...args], input);
  const n = options.nodes ?? 1;
  const cap = options.capacity ?? { cpu: '1000', memory: '4Ti', 'ephemeral-storage': '100Ti', pods: '10000' };
  const nodes = Array.from({ length: n }, (_, i) => `kwok-node-${i}`);
  const logFile = join(dir, 'kwok.log');
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null) {
      const done = new Promise<void>((r) => child!.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child!.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(t);
    }
    k(['delete', 'node', ...nodes, '--ignore-not-found', '--wait=false']);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const nodeDocs = nodes.map((name) =>
      stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
        },
        spec: { taints: [{ ...KWOK_TAINT }] },
        status: { allocatable: cap, capacity: cap },
      }),
    );
    const created = k(['apply', '-f', '-'], nodeDocs.join('---\n'));
    if (created.status !== 0) throw new Error(`creating kwok nodes failed: ${created.stderr}`);
    const log = createWriteStream(logFile);
    child = spawn(
      assets.kwok,
      [
        `--kubeconfig=${options.kubeconfig}`,
        `--config=${config}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        '--cidr=10.246.0.0/16',
        '--node-ip=10.246.0.1',
        '--node-lease-duration-seconds=40',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    // Ready when every simulated node reports Ready.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`kwok exited with ${child.exitCode}: ${logTail(logFile)}`);
      const r = k(['get', 'nodes', '-l', 'type=kwok', '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
      if (r.status === 0 && r.stdout.split('\n').filter((s) => s === 'True').length === n) break;
      if (Date.now() > deadline) throw new Error(`kwok nodes not Ready after 60 s: ${r.stdout || r.stderr} ${logTail(logFile)}`);
      await new Promise((res) => setTimeout(res, 300));
    }
    // Without a node lifecycle controller (envtest: no kube-controller-manager) the
    // node.kubernetes.io/not-ready taint that admission puts on every new Node is never lifted:
    // leave only kwok's own taint once the nodes are Ready (what that controller would do).
    for (const name of nodes) {
      const p = k(['patch', 'node', name, '--type=merge', '-p', JSON.stringify({ spec: { taints: [{ ...KWOK_TAINT }] } })]);
      if (p.status !== 0) throw new Error(`untainting kwok node ${name} failed: ${p.stderr}`);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    nodes,
    podPlacement: {
      nodeSelector: { type: 'kwok' },
      tolerations: [{ key: KWOK_TAINT.key, operator: 'Exists', effect: KWOK_TAINT.effect }],
    },
    log: (bytes = 4000) => logTail(logFile, bytes),
    stop,
  };
}
