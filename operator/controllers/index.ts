/** Registers the operator's controllers on a Manager (today: the accept reconciler for each kind). */
import type { Manager } from '../runtime/manager.ts';
import { EntropoResources } from '../runtime/kube/resource.ts';
import { acceptReconciler } from './accept.ts';

export function registerControllers(mgr: Manager, opts: { workers?: number } = {}): void {
  for (const resource of Object.values(EntropoResources)) {
    mgr.addController({
      name: resource.kind.toLowerCase(),
      for: resource,
      reconciler: acceptReconciler(resource, mgr.cache(resource)),
      workers: opts.workers,
    });
  }
}
