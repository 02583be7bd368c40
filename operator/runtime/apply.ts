/**
 * Writes for reconcilers besides merge-patched status (status.ts): server-side apply with the
 * operator's fixed field manager (children with deterministic names: a retry cannot duplicate
 * them), status by server-side apply, create-or-get and delete-if-present. Each skips the request
 * when the outcome is already in place where that can be known locally.
 */
import { isAlreadyExists, isNotFound, type RestClient } from './kube/rest.ts';
import { resourcePath, apiVersionOf, type Resource } from './kube/resource.ts';
import type { KubeObject, OwnerReference } from './kube/types.ts';
import { deepEqual } from './status.ts';

export const FIELD_MANAGER = 'entropo-operator';
const APPLY = 'application/apply-patch+yaml'; // JSON is YAML

export interface ApplyOptions {
  fieldManager?: string;
  /** Take over fields another manager owns (controllers own their objects): default true. */
  force?: boolean;
}

/** The ownerReference a child carries to its controlling owner (controller: true, blockOwnerDeletion: true). */
export function controllerRef(owner: KubeObject): OwnerReference {
  const { name, uid } = owner.metadata;
  if (!owner.apiVersion || !owner.kind || !name || !uid) throw new Error('controllerRef needs apiVersion, kind, name and uid of the owner');
  return { apiVersion: owner.apiVersion, kind: owner.kind, name, uid, controller: true, blockOwnerDeletion: true };
}

/** True when every field of `want` is present in `have` with the same value (arrays compared whole). */
export function isSubset(want: unknown, have: unknown): boolean {
  if (typeof want !== 'object' || want === null || Array.isArray(want)) return deepEqual(want, have);
  if (typeof have !== 'object' || have === null || Array.isArray(have)) return false;
  return Object.entries(want).every(([k, v]) => v === undefined || isSubset(v, (have as Record<string, unknown>)[k]));
}

/** Server-side apply of a whole object (create or update), as the operator's field manager. */
export async function apply<T extends KubeObject>(client: RestClient, resource: Resource, obj: T, opts: ApplyOptions = {}): Promise<T> {
  const { namespace, name } = obj.metadata;
  if (!name) throw new Error('apply needs metadata.name (deterministic names make retries idempotent)');
  return client.request<T>('PATCH', resourcePath(resource, namespace, name), {
    body: { apiVersion: apiVersionOf(resource), kind: resource.kind, ...obj },
    contentType: APPLY,
    query: { fieldManager: opts.fieldManager ?? FIELD_MANAGER, force: opts.force ?? true },
  });
}

/**
 * Server-side apply of the status fields this controller owns, through /status; no request when
 * `current` already has them (a reconcile that changes nothing writes nothing).
 */
export async function applyStatus<T extends KubeObject>(
  client: RestClient,
  resource: Resource,
  current: T,
  status: Record<string, unknown>,
  opts: ApplyOptions = {},
): Promise<{ changed: boolean; object: T }> {
  if (isSubset(status, current.status ?? {})) return { changed: false, object: current };
  const { namespace, name } = current.metadata;
  const object = await client.request<T>('PATCH', resourcePath(resource, namespace, name, 'status'), {
    body: { apiVersion: apiVersionOf(resource), kind: resource.kind, metadata: { name, namespace }, status },
    contentType: APPLY,
    query: { fieldManager: opts.fieldManager ?? FIELD_MANAGER, force: opts.force ?? true },
  });
  return { changed: true, object };
}

/** POST; if the name is taken, the existing object (created: false). */
export async function createOrGet<T extends KubeObject>(client: RestClient, resource: Resource, obj: T): Promise<{ created: boolean; object: T }> {
  const { namespace, name } = obj.metadata;
  try {
    const object = await client.request<T>('POST', resourcePath(resource, namespace), { body: { apiVersion: apiVersionOf(resource), kind: resource.kind, ...obj } });
    return { created: true, object };
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    return { created: false, object: await client.request<T>('GET', resourcePath(resource, namespace, name)) };
  }
}

/** DELETE with propagation (default Background); false when it was already gone. */
export async function deleteIfExists(
  client: RestClient,
  resource: Resource,
  namespace: string,
  name: string,
  propagationPolicy: 'Background' | 'Foreground' | 'Orphan' = 'Background',
): Promise<boolean> {
  try {
    await client.request('DELETE', resourcePath(resource, namespace, name), { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy } });
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}
