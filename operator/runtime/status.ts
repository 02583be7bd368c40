/**
 * Status writes: only through the /status subresource, only when something changed, with
 * optimistic concurrency. patchStatus() sends a JSON merge patch holding just the changed fields
 * plus the resourceVersion it was computed from, so a concurrent write answers 409 Conflict instead
 * of being overwritten; the controller then requeues the key (rate-limited) and the reconciler
 * re-reads the object from the cache and decides again.
 */
import type { RestClient } from './kube/rest.ts';
import { resourcePath, type Resource } from './kube/resource.ts';
import type { KubeObject } from './kube/types.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * The RFC 7386 merge patch that turns `from` into `to` (undefined when they are equal). Objects
 * recurse, removed keys become null, arrays and scalars are replaced whole.
 */
export function mergePatch(from: unknown, to: unknown): Json | undefined {
  if (deepEqual(from, to)) return undefined;
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(from) || !isObj(to)) return (to === undefined ? null : (to as Json));
  const patch: Record<string, Json> = {};
  for (const k of Object.keys(from)) if (from[k] !== undefined && to[k] === undefined) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined) continue;
    const p = mergePatch(from[k], v);
    if (p !== undefined) patch[k] = p;
  }
  return patch;
}

export interface StatusPatchResult<T> {
  /** false: the status was already as desired and nothing was sent. */
  changed: boolean;
  object: T;
}

/**
 * Makes obj.status equal to `status` through PATCH .../status (merge patch), or sends nothing when
 * it already is. Throws ApiError 409 when obj is stale (someone wrote since we read it).
 */
export async function patchStatus<T extends KubeObject>(client: RestClient, resource: Resource, obj: T, status: Record<string, unknown>): Promise<StatusPatchResult<T>> {
  const diff = mergePatch(obj.status ?? {}, status);
  if (diff === undefined) return { changed: false, object: obj };
  const { namespace, name, resourceVersion } = obj.metadata;
  const body = { metadata: { resourceVersion }, status: diff };
  const object = await client.request<T>('PATCH', resourcePath(resource, namespace, name, 'status'), {
    body,
    contentType: 'application/merge-patch+json',
  });
  return { changed: true, object };
}
