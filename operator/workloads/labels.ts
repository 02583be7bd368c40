/**
 * Labels, annotations and names the operator puts on the objects it creates (pure). Every child
 * carries app.kubernetes.io/managed-by=entropo-operator, which is also the label selector of the
 * operator's Pod / Job / Deployment caches: the operator caches only what it made.
 */
import { createHash } from 'node:crypto';

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGER = 'entropo-operator';
/** The label selector of every cache of owned objects. */
export const MANAGED_SELECTOR = `${MANAGED_BY}=${MANAGER}`;

export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
/** Name of the owning object (batch, suite or run), and its kind in lower case. */
export const LABEL_OWNER = 'entropo.dev/owner';
export const LABEL_OWNER_KIND = 'entropo.dev/owner-kind';
/** Task (label-safe form: see labelValue), sample index and attempt of a sandbox Pod. */
export const LABEL_TASK = 'entropo.dev/task';
export const LABEL_SAMPLE = 'entropo.dev/sample';
export const LABEL_ATTEMPT = 'entropo.dev/attempt';
export const LABEL_ITERATION = 'entropo.dev/iteration';
/** The uid of the owning object (children of a deleted-and-recreated object are told apart). */
export const LABEL_OWNER_UID = 'entropo.dev/owner-uid';
/** The unit's role (Sandbox, Trainer, PolicyServer, Verifier), slot index and checkpoint. */
export const LABEL_ROLE = 'entropo.dev/role';
export const LABEL_INDEX = 'entropo.dev/index';
export const LABEL_CHECKPOINT = 'entropo.dev/checkpoint';
/** The full task id (labels are limited to 63 characters). */
export const ANNOTATION_TASK_ID = 'entropo.dev/task-id';
export const KUEUE_QUEUE = 'kueue.x-k8s.io/queue-name';

/** A short, stable hex digest of a string. */
export const shortHash = (s: string, n = 8): string => createHash('sha256').update(s).digest('hex').slice(0, n);

/**
 * A label value for any string: [A-Za-z0-9._-], at most 63 characters, starting and ending with
 * an alphanumeric. Long or unusual values keep a readable prefix and end in a hash of the whole.
 */
export function labelValue(s: string): string {
  const clean = s.replace(/[^A-Za-z0-9._-]/g, '_');
  const trim = (v: string) => v.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
  if (clean === s && s.length <= 63 && trim(s) === s) return s;
  return trim(`${trim(clean).slice(0, 54)}-${shortHash(s)}`);
}

/**
 * A DNS-1123 label (Pod, Service, ConfigMap names that must also be hostnames): lower case
 * [a-z0-9-], at most `max` characters; when cut, a hash of the whole keeps it unique.
 */
export function dnsName(parts: (string | number)[], max = 63): string {
  const raw = parts.join('-');
  const clean = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (clean === raw && clean.length <= max) return clean;
  return `${clean.slice(0, max - 9).replace(/-+$/, '')}-${shortHash(raw)}`;
}

/** Labels every object made for `owner` carries. */
export function ownerLabels(owner: { kind: string; name: string }, component: string): Record<string, string> {
  return {
    [MANAGED_BY]: MANAGER,
    [LABEL_NAME]: 'entropo',
    [LABEL_COMPONENT]: component,
    [LABEL_OWNER]: labelValue(owner.name),
    [LABEL_OWNER_KIND]: owner.kind.toLowerCase(),
  };
}
