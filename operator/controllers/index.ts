/**
 * Registers the operator's controllers on a Manager: RolloutBatch and EvalSuite through the
 * Kubernetes executor (controllers/reconciler.ts) driving the pure decide functions; TrainingRun
 * is accepted (status Pending, Accepted=True) until its executor lands. Children are cached by
 * label (`app.kubernetes.io/managed-by=entropo-operator`): the operator never caches every Pod of
 * the cluster.
 */
import type { Manager } from '../runtime/manager.ts';
import { Deployments, EntropoResources, Pods } from '../runtime/kube/resource.ts';
import { EventRecorder } from '../runtime/events.ts';
import { EvalSuite, RolloutBatch } from '../api/kinds.ts';
import type { EvalSuite as EvalSuiteT, RolloutBatch as RolloutBatchT } from '../api/kinds.ts';
import { domainMetrics } from '../metrics/domain.ts';
import { logger } from '../logging/logger.ts';
import { MANAGED_SELECTOR } from '../workloads/labels.ts';
import { acceptReconciler } from './accept.ts';
import { ClusterExecutor, type ClusterExecutorOptions, type KindBinding } from './reconciler.ts';
import { decideRolloutBatch } from './rolloutbatch.ts';
import { decideEvalSuite } from './evalsuite.ts';
import type { ArtifactStore } from '../store/store.ts';

export interface ControllerOptions {
  workers?: number;
  /** Image of the operator: runtime copy, prepare phases, policy server. Default ENTROPO_OPERATOR_IMAGE or entropo-operator:0.1.0. */
  operatorImage?: string;
  /** Task image of self-contained tasks (Python, Node, git). Default ENTROPO_SANDBOX_BASE_IMAGE or the operator image. */
  sandboxBaseImage?: string;
  /** At most one status write per object per this many ms (default 1000). */
  minStatusIntervalMs?: number;
  openStore?: (uri: string) => ArtifactStore;
}

export function registerControllers(mgr: Manager, opts: ControllerOptions = {}): void {
  const log = logger.child({ component: 'controllers' });
  const operatorImage = opts.operatorImage ?? process.env.ENTROPO_OPERATOR_IMAGE ?? 'entropo-operator:0.1.0';
  const pods = mgr.cache(Pods, MANAGED_SELECTOR);
  const deployments = mgr.cache(Deployments, MANAGED_SELECTOR);
  const events = new EventRecorder(mgr.client, log);
  const metrics = domainMetrics(mgr.registry);
  const base = (resource: (typeof EntropoResources)[string]): ClusterExecutorOptions => ({
    client: mgr.client,
    objects: mgr.cache(resource),
    pods,
    deployments,
    operatorImage,
    sandboxBaseImage: opts.sandboxBaseImage ?? process.env.ENTROPO_SANDBOX_BASE_IMAGE ?? operatorImage,
    events,
    metrics,
    log,
    ...(opts.minStatusIntervalMs !== undefined ? { minStatusIntervalMs: opts.minStatusIntervalMs } : {}),
    ...(opts.openStore ? { openStore: opts.openStore } : {}),
  });
  const rb: KindBinding<RolloutBatchT & { metadata: { name?: string } }, Record<string, unknown>> = {
    kind: 'RolloutBatch',
    resource: EntropoResources.RolloutBatch,
    schema: RolloutBatch,
    decide: (o, observed) => decideRolloutBatch(o, observed) as unknown as ReturnType<KindBinding['decide']>,
    tasks: (o) => o.spec.tasks,
  };
  const es: KindBinding<EvalSuiteT & { metadata: { name?: string } }, Record<string, unknown>> = {
    kind: 'EvalSuite',
    resource: EntropoResources.EvalSuite,
    schema: EvalSuite,
    decide: (o, observed) => decideEvalSuite(o, observed) as unknown as ReturnType<KindBinding['decide']>,
    tasks: (o) => o.spec.tasks,
  };
  for (const binding of [rb, es] as unknown as KindBinding[]) {
    mgr.addController({
      name: binding.kind.toLowerCase(),
      for: binding.resource,
      owns: [Pods, Deployments],
      ownedLabelSelector: MANAGED_SELECTOR,
      reconciler: new ClusterExecutor(binding, base(binding.resource)),
      workers: opts.workers,
    });
  }
  const tr = EntropoResources.TrainingRun;
  mgr.addController({ name: 'trainingrun', for: tr, reconciler: acceptReconciler(tr, mgr.cache(tr)), workers: opts.workers });
}
