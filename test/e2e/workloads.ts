/**
 * Helpers of the e2e tests that run the operator's workloads on the real node: the artifact store
 * as a hostPath PersistentVolume claimed as `entropo-artifacts` (one PV per namespace, all on the
 * same directory, as a ReadWriteMany share looks from each namespace), and waiting for an
 * entropo.dev object to finish.
 */
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ClusterHandle } from './cluster.ts';

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
