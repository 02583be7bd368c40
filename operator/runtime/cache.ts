/**
 * The cache of one kind over the manager's namespace scope: one informer per watched namespace
 * (or one cluster-wide informer), read as one. Reconcilers read from here, never from the API.
 */
import { Informer, type EventHandler, type InformerOptions } from './informer.ts';
import type { KubeObject } from './kube/types.ts';
import type { Resource } from './kube/resource.ts';

export class Cache<T extends KubeObject = KubeObject> {
  readonly informers: Informer<T>[];

  constructor(
    readonly resource: Resource,
    namespaces: string[] | undefined,
    base: Omit<InformerOptions, 'resource' | 'namespace'>,
  ) {
    const scope = !resource.namespaced || !namespaces || namespaces.length === 0 ? [''] : [...new Set(namespaces)];
    this.informers = scope.map((namespace) => new Informer<T>({ ...base, resource, namespace }));
  }

  addHandler(h: EventHandler<T>): void {
    for (const i of this.informers) i.addHandler(h);
  }

  get(namespace: string, name: string): T | undefined {
    for (const i of this.informers) {
      if (i.options.namespace && i.options.namespace !== namespace) continue;
      const o = i.get(namespace, name);
      if (o) return o;
    }
    return undefined;
  }

  /** Objects in one namespace (or all), optionally filtered. */
  list(namespace?: string, filter?: (o: T) => boolean): T[] {
    const out: T[] = [];
    for (const i of this.informers) {
      if (namespace && i.options.namespace && i.options.namespace !== namespace) continue;
      for (const o of i.list()) if ((!namespace || o.metadata.namespace === namespace) && (!filter || filter(o))) out.push(o);
    }
    return out;
  }

  hasSynced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    const r = await Promise.all(this.informers.map((i) => i.waitForSync(signal)));
    return r.every(Boolean);
  }

  start(): void {
    for (const i of this.informers) i.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
