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
 * Leaf paths of a managedFields FieldsV1 set, pruned at list items: {"f:status": {"f:phase": {},
 * "f:conditions": {"k:{\"type\":\"Ready\"}": {...}}}} -> {"status.phase", "status.conditions"}.
 */
export function fieldSetPaths(fields: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown, at: string) => {
    const keys = typeof node === 'object' && node !== null ? Object.keys(node).filter((k) => k !== '.') : [];
    if (keys.length === 0 || keys.some((k) => /^[kvi]:/.test(k))) {
      if (at) out.add(at);
      return;
    }
    for (const k of keys) if (k.startsWith('f:')) walk((node as Record<string, unknown>)[k], at ? `${at}.${k.slice(2)}` : k.slice(2));
  };
  walk(fields, prefix);
  return out;
}

/** Leaf paths of an applied configuration, pruned at arrays (the same shape as fieldSetPaths). */
export function valuePaths(value: unknown, prefix: string): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, at: string) => {
    if (v === undefined) return;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).some((x) => x !== undefined)) {
      for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
      return;
    }
    out.add(at);
  };
  walk(value, prefix);
  return out;
}

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: unknown;
}

/**
 * The status paths `manager` owns through server-side apply on /status, from the object's
 * metadata.managedFields (undefined when the object carries no managedFields at all).
 */
export function ownedStatusPaths(obj: KubeObject, manager: string): Set<string> | undefined {
  const entries = obj.metadata.managedFields as ManagedFieldsEntry[] | undefined;
  if (!Array.isArray(entries)) return undefined;
  const mine = entries.find((e) => e.manager === manager && e.operation === 'Apply' && e.subresource === 'status');
  if (!mine) return new Set();
  return fieldSetPaths((mine.fieldsV1 as Record<string, unknown> | undefined)?.['f:status'], 'status');
}

/**
 * Whether applying `status` as `manager` would change nothing: the live status already holds every
 * field with the same value AND the manager owns exactly these fields (a field it stops applying
 * must be removed by sending the apply, even though the new status is a subset of the live one).
 */
export function statusApplyIsNoop(current: KubeObject, status: Record<string, unknown>, manager: string = FIELD_MANAGER): boolean {
  const owned = ownedStatusPaths(current, manager);
  if (!owned) return false;
  const applied = valuePaths(status, 'status');
  if (applied.size !== owned.size || [...applied].some((p) => !owned.has(p))) return false;
  return isSubset(status, current.status ?? {});
}

/**
 * Server-side apply of the status fields this controller owns, through /status. No request when
 * the apply would change nothing (statusApplyIsNoop: same values AND the same owned field set,
 * read from metadata.managedFields); a field dropped from `status` is sent, so the API server
 * removes it.
 */
export async function applyStatus<T extends KubeObject>(
  client: RestClient,
  resource: Resource,
  current: T,
  status: Record<string, unknown>,
  opts: ApplyOptions = {},
): Promise<{ changed: boolean; object: T }> {
  const manager = opts.fieldManager ?? FIELD_MANAGER;
  if (statusApplyIsNoop(current, status, manager)) return { changed: false, object: current };
  const { namespace, name } = current.metadata;
  const object = await client.request<T>('PATCH', resourcePath(resource, namespace, name, 'status'), {
    body: { apiVersion: apiVersionOf(resource), kind: resource.kind, metadata: { name, namespace }, status },
    contentType: APPLY,
    query: { fieldManager: manager, force: opts.force ?? true },
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
