/**
 * The controller runtime's public API (what reconcilers import):
 *
 *   const mgr = await Manager.create({ kubeConfig, namespaces, leaderElection: { namespace, id } });
 *   const batches = mgr.cache<RolloutBatch>(EntropoResources.RolloutBatch);
 *   mgr.addController({
 *     name: 'rolloutbatch', for: EntropoResources.RolloutBatch, owns: [Pods], ownedLabelSelector: 'app.kubernetes.io/managed-by=entropo',
 *     workers: 4,
 *     reconciler: { async reconcile({ namespace, name }, ctx) {
 *       const obj = batches.get(namespace, name); if (!obj) return;           // read from the cache
 *       const status = { ...obj.status, conditions: setCondition(obj.status?.conditions, {...}) };
 *       await patchStatus(ctx.client, EntropoResources.RolloutBatch, obj, status); // no request if unchanged; 409 -> retried
 *       return { requeueAfterMs: 30_000 };                                         // or {} / throw
 *     } },
 *   });
 *   await mgr.start(); ... await mgr.stop();
 */
export { Manager, type ManagerOptions, type ControllerSpec, type LeaderElectionOptions, type StopReason, type Runnable } from './manager.ts';
export { Controller, controllerOwnerKey, TerminalError, isTerminal, type Reconciler, type ReconcileContext, type ReconcileResult, type Source } from './controller.ts';
export { Cache } from './cache.ts';
export { Informer, type EventHandler, type InformerOptions } from './informer.ts';
export { WorkQueue } from './workqueue.ts';
export { LeaderElector } from './leader.ts';
export { setCondition, findCondition, isTrue, removeCondition, type ConditionInput } from './conditions.ts';
export { patchStatus, mergePatch, deepEqual } from './status.ts';
export { apply, applyStatus, createOrGet, deleteIfExists, controllerRef, isSubset, FIELD_MANAGER } from './apply.ts';
export { RestClient, ApiError, isConflict, isNotFound, isGone, isAlreadyExists, retryAfterOf } from './kube/rest.ts';
export { makeCountedApiClient } from './kube/typed.ts';
export { resourcePath, apiVersionOf, EntropoResources, Pods, Jobs, Leases, ConfigMaps, type Resource } from './kube/resource.ts';
export { keyOf, parseKey, objectKey, type KubeObject, type ObjectMeta, type OwnerReference, type Request } from './kube/types.ts';
