/** Where a kind lives in the REST API (pure path building). */
import { KINDS } from '../../api/kinds.ts';
import { GROUP, VERSION } from '../../api/common.ts';

export interface Resource {
  /** '' for the core group. */
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export const apiVersionOf = (r: Resource): string => (r.group ? `${r.group}/${r.version}` : r.version);

/** /api/v1/namespaces/ns/pods[/name][/sub], /apis/g/v/... ; namespace undefined or '' = all namespaces. */
export function resourcePath(r: Resource, namespace?: string, name?: string, subresource?: string): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${r.plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

export const Pods: Resource = { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true };
export const Jobs: Resource = { group: 'batch', version: 'v1', kind: 'Job', plural: 'jobs', namespaced: true };
export const Leases: Resource = { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true };
export const ConfigMaps: Resource = { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };

export const ENTROPO_GROUP = GROUP;
export const ENTROPO_VERSION = VERSION;

/** The entropo.dev custom resources, by kind (TrainingRun, RolloutBatch, EvalSuite). */
export const EntropoResources: Record<string, Resource> = Object.fromEntries(
  KINDS.map((k) => [k.kind, { group: ENTROPO_GROUP, version: ENTROPO_VERSION, kind: k.kind, plural: k.plural, namespaced: true }]),
);
export const Deployments: Resource = { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true };
export const Services: Resource = { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true };
export const NetworkPolicies: Resource = { group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy', plural: 'networkpolicies', namespaced: true };
export const Secrets: Resource = { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };
