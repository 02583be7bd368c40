/**
 * Helpers of the e2e tests that run the operator's workloads on the real node: the artifact store
 * as a hostPath PersistentVolume claimed as `entropo-artifacts` (one PV per namespace, all on the
 * same directory, as a ReadWriteMany share looks from each namespace), and waiting for an
 * entropo.dev object to finish.
 */
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { SelfContainedTask } from '../../operator/api/records.ts';
import { stringify } from 'yaml';
import type { ClusterHandle } from './cluster.ts';
import { REPO } from './images.ts';

/** The claim name every spec of these tests names (storage.uri pvc://entropo-artifacts). */
export const STORE_CLAIM = 'entropo-artifacts';

/**
 * A store directory on the host (mode 0777: the Pods' non-root uid writes it), bound as the claim
 * STORE_CLAIM in each of `namespaces`. Returns the directory and a cleanup that deletes the PVs
 * and the directory.
 */
export function hostStore(c: ClusterHandle, namespaces: string[], prefix = 'entropo-e2e-store-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join('/tmp', prefix));
  chmodSync(dir, 0o777);
  const pvs: string[] = [];
  const docs: unknown[] = [];
  for (const ns of namespaces) {
    const pv = `${STORE_CLAIM}-${ns}`;
    pvs.push(pv);
    docs.push(
      { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: pv }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany'], storageClassName: 'manual', hostPath: { path: dir, type: 'Directory' }, claimRef: { namespace: ns, name: STORE_CLAIM } } },
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: STORE_CLAIM, namespace: ns }, spec: { accessModes: ['ReadWriteMany'], storageClassName: 'manual', volumeName: pv, resources: { requests: { storage: '1Gi' } } } },
    );
  }
  const r = c.kubectl(['apply', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
  if (r.status !== 0) throw new Error(`store volumes: ${r.stderr}`);
  return {
    dir,
    cleanup: () => {
      for (const pv of pvs) c.kubectl(['delete', 'pv', pv, '--wait=false']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `kubectl get <kind> <name>` every 2 s until status.phase is Succeeded or Failed; throws with the last status after timeoutMs. */
export async function waitFinished(c: ClusterHandle, ns: string, kind: string, name: string, timeoutMs: number, onPoll?: (obj: Record<string, any>) => void): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, any> = {};
  while (Date.now() < deadline) {
    const r = c.kubectl(['-n', ns, 'get', kind, name, '-o', 'json']);
    if (r.status === 0) {
      last = JSON.parse(r.stdout);
      onPoll?.(last);
      if (last.status?.phase === 'Succeeded' || last.status?.phase === 'Failed') return last;
    }
    await new Promise((res) => setTimeout(res, 2_000));
  }
  throw new Error(`${kind}/${name} did not finish in ${timeoutMs} ms; status: ${JSON.stringify(last.status)}`);
}

/** What to read when an object fails: the namespace's Warning events and the attempt records in the store. */
export function diagnose(c: ClusterHandle, ns: string, store: string): string {
  const events = c.kubectl(['-n', ns, 'get', 'events', '--field-selector', 'type=Warning', '-o', 'custom-columns=OBJ:.involvedObject.name,REASON:.reason,MSG:.message']).stdout;
  const records: string[] = [];
  for (const f of readdirSync(store, { recursive: true }) as string[]) if (/\/records\/[^/]+\.json$/.test(f)) records.push(readFileSync(join(store, f), 'utf8'));
  return `Warning events:\n${events}\nattempt records:\n${records.join('\n').slice(0, 8000)}`;
}

/** The endpoint Pod's program: resolves a task when its problem statement matches a scripted patch, else finishes at once. */
const SERVE = `import { readFileSync } from 'node:fs';
import { startScriptedLLM } from './scripted-llm.mts';
const fixes = JSON.parse(readFileSync('/llm/fixes.json', 'utf8'));
const llm = await startScriptedLLM((req, turn) => {
  const text = JSON.stringify(req.body.messages);
  // The match as it appears inside the JSON of the messages (quotes and backslashes escaped).
  const fix = fixes.find((f) => text.includes(JSON.stringify(f.match).slice(1, -1)));
  if (turn === 0 && fix) return { content: 'Applying the fix.', tool_calls: [{ name: 'execute_bash', arguments: { command: "patch -p1 <<'ENTROPO_PATCH'\\n" + fix.patch + 'ENTROPO_PATCH' } }] };
  return { content: 'Done.', tool_calls: [{ name: 'finish', arguments: { message: 'done' } }] };
}, { host: '0.0.0.0', port: 8000 });
console.log('serving', llm.url);
`;

/**
 * A scripted OpenAI-compatible endpoint in `ns` (test/helpers/scripted-llm.ts run by the operator
 * image's Node, Pod + Service `llm`): it applies the gold patch of each task in `solve` (matched by
 * the first line of its problem statement) and finishes every other task at once. Waits until the
 * Pod is Ready; returns the base URL the sandboxes use.
 */
export async function patchingEndpoint(c: ClusterHandle, ns: string, solve: Pick<SelfContainedTask, 'problem_statement' | 'patch'>[]): Promise<string> {
  const fixes = solve.map((x) => ({ match: x.problem_statement.split('\n')[0], patch: x.patch }));
  const docs = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'llm' }, data: { 'scripted-llm.mts': readFileSync(join(REPO, 'test', 'helpers', 'scripted-llm.ts'), 'utf8'), 'serve.mts': SERVE, 'fixes.json': JSON.stringify(fixes) } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'llm', labels: { app: 'llm' } },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'llm', image: c.images.operator, command: ['/opt/entropo/bin/node', '/llm/serve.mts'], ports: [{ containerPort: 8000 }], readinessProbe: { tcpSocket: { port: 8000 }, periodSeconds: 1 }, volumeMounts: [{ name: 'llm', mountPath: '/llm' }] }],
        volumes: [{ name: 'llm', configMap: { name: 'llm' } }],
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'llm' }, spec: { selector: { app: 'llm' }, ports: [{ port: 8000, targetPort: 8000 }] } },
  ];
  const r = c.kubectl(['-n', ns, 'apply', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
  if (r.status !== 0) throw new Error(`scripted endpoint: ${r.stderr}`);
  await c.waitForPodReady(ns, 'llm', 120_000);
  return `http://llm.${ns}.svc.cluster.local:8000/v1`;
}
