/** The informer's object cache and the pure diff a relist applies to it. */
import { objectKey, type KubeObject } from './kube/types.ts';

export interface SnapshotDiff<T extends KubeObject> {
  added: T[];
  updated: { old: T; obj: T }[];
  /** Objects in the cache that the new snapshot no longer has (they vanished while we were not watching). */
  deleted: T[];
}

/** What replacing the cache's contents with `items` changes (unchanged resourceVersions are no change). */
export function diffSnapshot<T extends KubeObject>(cache: ReadonlyMap<string, T>, items: readonly T[]): SnapshotDiff<T> {
  const seen = new Set<string>();
  const out: SnapshotDiff<T> = { added: [], updated: [], deleted: [] };
  for (const obj of items) {
    const key = objectKey(obj);
    seen.add(key);
    const old = cache.get(key);
    if (!old) out.added.push(obj);
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) out.updated.push({ old, obj });
  }
  for (const [key, old] of cache) if (!seen.has(key)) out.deleted.push(old);
  return out;
}

export function matchesLabels(labels: Record<string, string> | undefined, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Equality-based label selector string (k=v,k2=v2) for list/watch. */
export function labelSelectorString(selector: Record<string, string> | string | undefined): string | undefined {
  if (selector === undefined) return undefined;
  if (typeof selector === 'string') return selector || undefined;
  const s = Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return s || undefined;
}
