/** Installs crds/*.yaml with the real kubectl and waits until every CRD is Established. */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ControlPlane } from './controlplane.ts';

export const CRD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'crds');

export function installCrds(cp: ControlPlane): void {
  const apply = cp.kubectl(['apply', '--server-side', '--force-conflicts', '-f', CRD_DIR]);
  if (apply.status !== 0) throw new Error(`installing CRDs failed: ${apply.stderr}`);
  const wait = cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', CRD_DIR]);
  if (wait.status !== 0) throw new Error(`CRDs not established: ${wait.stderr}`);
}
