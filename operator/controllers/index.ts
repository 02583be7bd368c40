/**
 * Registers the operator's controllers on a Manager: RolloutBatch, EvalSuite and TrainingRun,
 * each through the Kubernetes executor (controllers/reconciler.ts) driving its pure decide
 * function (the same one local mode runs). Children are cached by
 * label (`app.kubernetes.io/managed-by=entropo-operator`): the operator never caches every Pod of
 * the cluster.
 */
import type { Manager } from '../runtime/manager.ts';
import { Deployments, EntropoResources, Jobs, Pods } from '../runtime/kube/resource.ts';
import { EventRecorder } from '../runtime/events.ts';
import { EvalSuite, RolloutBatch, TrainingRun } from '../api/kinds.ts';
import type { EvalSuite as EvalSuiteT, RolloutBatch as RolloutBatchT, TrainingRun as TrainingRunT } from '../api/kinds.ts';
import { domainMetrics } from '../metrics/domain.ts';
import { logger } from '../logging/logger.ts';
import { MANAGED_SELECTOR } from '../workloads/labels.ts';
import { ClusterExecutor, type ClusterExecutorOptions, type KindBinding } from './reconciler.ts';
import { decideRolloutBatch } from './rolloutbatch.ts';
import { decideEvalSuite } from './evalsuite.ts';
import { decideTrainingRun } from './trainingrun.ts';
import type { ArtifactStore } from '../store/store.ts';
import type { OpenStoreOptions } from '../store/open.ts';

export interface ControllerOptions {
  workers?: number;
  /** Image of the operator: runtime copy, prepare phases, policy server. Default ENTROPO_OPERATOR_IMAGE or entropo-operator:0.1.0. */
  operatorImage?: string;
  /** Task image of self-contained tasks (Python, Node, git). Default ENTROPO_SANDBOX_BASE_IMAGE or the operator image. */
  sandboxBaseImage?: string;
  /** At most one status write per object per this many ms (default 1000). */
  minStatusIntervalMs?: number;
  /** Opens a spec.storage.uri's store (opts.s3: spec.storage.s3 with the Secret's credentials). */
  openStore?: (uri: string, opts?: OpenStoreOptions) => ArtifactStore;
}

export function registerControllers(mgr: Manager, opts: ControllerOptions = {}): void {
  const log = logger.child({ component: 'controllers' });
  const operatorImage = opts.operatorImage ?? process.env.ENTROPO_OPERATOR_IMAGE ?? 'entropo-operator:0.1.0';
  // The children's caches hold no managedFields (never read; most of a Pod's size).
  const pods = mgr.cache(Pods, MANAGED_SELECTOR, { stripManagedFields: true });
  const deployments = mgr.cache(Deployments, MANAGED_SELECTOR, { stripManagedFields: true });
  const jobs = mgr.cache(Jobs, MANAGED_SELECTOR, { stripManagedFields: true });
  const children = { RolloutBatch: mgr.cache(EntropoResources.RolloutBatch), EvalSuite: mgr.cache(EntropoResources.EvalSuite) };
  const events = new EventRecorder(mgr.client, log);
  const metrics = domainMetrics(mgr.registry);
  const base = (resource: (typeof EntropoResources)[string]): ClusterExecutorOptions => ({
    client: mgr.client,
    objects: mgr.cache(resource),
    pods,
    deployments,
    jobs,
    children,
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
  const tr: KindBinding<TrainingRunT & { metadata: { name?: string } }, Record<string, unknown>> = {
    kind: 'TrainingRun',
    resource: EntropoResources.TrainingRun,
    schema: TrainingRun,
    decide: (o, observed) => decideTrainingRun(o, observed) as unknown as ReturnType<KindBinding['decide']>,
  };
  for (const binding of [rb, es, tr] as unknown as KindBinding[]) {
    const labelled = (resource: typeof Pods) => ({ resource, labelSelector: MANAGED_SELECTOR });
    const owns =
      binding.kind === 'TrainingRun'
        ? [labelled(Jobs), labelled(Deployments), { resource: EntropoResources.RolloutBatch }, { resource: EntropoResources.EvalSuite }]
        : [labelled(Pods), labelled(Deployments)];
    mgr.addController({
      name: binding.kind.toLowerCase(),
      for: binding.resource,
      owns,
      reconciler: new ClusterExecutor(binding, base(binding.resource)),
      workers: opts.workers,
    });
  }
}
