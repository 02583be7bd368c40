/** Installs crds/*.yaml with the real kubectl and waits until every CRD is Established. */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ControlPlane } from './controlplane.ts';

export const CRD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'crds');

type Kubectl = (args: string[]) => { status: number; stdout: string; stderr: string };

/**
 * `kubectl wait --for=condition=Established` on the CRDs, retried while a CRD just created has no
 * status.conditions yet: kubectl then fails at once ("conditions accessor error: <nil>") instead of
 * waiting, which a loaded machine hits now and then. Throws with kubectl's words after timeoutMs.
 */
export function waitEstablished(kubectl: Kubectl, dir = CRD_DIR, timeoutMs = 60_000): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = Math.max(1, Math.round((deadline - Date.now()) / 1000));
    const wait = kubectl(['wait', '--for=condition=Established', `--timeout=${left}s`, '-f', dir]);
    if (wait.status === 0) return;
    if (Date.now() >= deadline || !/accessor error|not found/.test(wait.stderr)) throw new Error(`CRDs not established: ${wait.stderr}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
  }
}

export function installCrds(cp: ControlPlane): void {
  const apply = cp.kubectl(['apply', '--server-side', '--force-conflicts', '-f', CRD_DIR]);
  if (apply.status !== 0) throw new Error(`installing CRDs failed: ${apply.stderr}`);
  waitEstablished((args) => cp.kubectl(args));
}
