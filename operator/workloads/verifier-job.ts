/**
 * The verifier Job of an EvalSuite (pure builder): `entropo verifier score` over the suite's
 * trajectories in the store, with the trained verifier (a store:// or file:// model directory) or
 * an OpenAI-compatible endpoint, writing the scores keyed by trajectory id (JSONL {id, taskId,
 * score}) to the unit's output key. The executor reads them back as observed.verifierScores.
 * Selection never sees rewards: the verifier scores execution-free.
 */
import type { V1Job } from '@kubernetes/client-node';
import type { ModelRef } from '../api/common.ts';
import { LABEL_ATTEMPT, LABEL_OWNER_UID, LABEL_ROLE, ownerLabels } from './labels.ts';
import { NON_ROOT_UID, STORE_MOUNT, ownerReference } from './sandbox-pod.ts';
import { LABEL_UNIT } from './trainer-job.ts';

export interface VerifierJobInput {
  name: string;
  owner: { kind: string; namespace: string; name: string; uid?: string };
  attempt: number;
  model: ModelRef;
  storeUri: string;
  inputKey: string;
  outputKey: string;
}

/** The store's mount path of a key inside operator-made Pods (pvc:// stores only). */
export function mountedPath(storeUri: string, key: string): string {
  const pvc = /^pvc:\/\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\/.*)?$/.exec(storeUri);
  if (pvc) return `${STORE_MOUNT}${pvc[3] ?? ''}/${key}`.replace(/\/+/g, '/');
  // file:// (single-node clusters, tests): the same directory on the node.
  if (storeUri.startsWith('file://')) return `${storeUri.slice('file://'.length)}/${key}`.replace(/\/+/g, '/');
  throw new Error(`${storeUri}: the verifier Job reads trajectories from a pvc:// or file:// store`);
}

export function verifierJob(u: VerifierJobInput, operatorImage: string): V1Job {
  const labels = { ...ownerLabels(u.owner, 'verifier'), ...(u.owner.uid ? { [LABEL_OWNER_UID]: u.owner.uid } : {}), [LABEL_ROLE]: 'Verifier', [LABEL_ATTEMPT]: String(u.attempt) };
  const pvc = /^pvc:\/\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\/.*)?$/.exec(u.storeUri);
  // Every trajectory the suite's sandboxes wrote: <prefix>/trajectories/<unit>.json (input: <prefix>/verifier/input.jsonl).
  const trajectories = mountedPath(u.storeUri, u.inputKey.replace(/\/verifier\/[^/]*$/, '/trajectories'));
  const m = u.model;
  const how = m.endpoint
    ? ['--endpoint', m.endpoint.url, '--endpoint-model', m.name]
    : ['--verifier', m.source!.startsWith('store://') ? mountedPath(u.storeUri, m.source!.slice('store://'.length)) : m.source!.replace(/^file:\/\//, '')];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: u.name, namespace: u.owner.namespace, labels, ownerReferences: [ownerReference(u.owner)] },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { ...labels, [LABEL_UNIT]: u.name } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: NON_ROOT_UID, runAsGroup: NON_ROOT_UID, fsGroup: NON_ROOT_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'verify',
              image: operatorImage,
              args: ['verifier', 'score', trajectories, ...how, '--out-file', mountedPath(u.storeUri, u.outputKey)],
              env: [
                { name: 'TZ', value: 'UTC' },
                ...(m.endpoint?.apiKeySecretRef ? [{ name: 'OPENAI_API_KEY', valueFrom: { secretKeyRef: m.endpoint.apiKeySecretRef } }] : []),
              ],
              resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '4', memory: '8Gi' } },
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...(pvc ? [{ name: 'store', mountPath: STORE_MOUNT }] : [])],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }, ...(pvc ? [{ name: 'store', persistentVolumeClaim: { claimName: pvc[1] } }] : [])],
        },
      },
    },
  };
}

/** Scores written by `entropo verifier score -o` (JSONL {id, score}) or as JSON {scores: {id: p}}. */
export function parseScores(text: string): Record<string, number> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') && !trimmed.includes('\n')) {
    const o = JSON.parse(trimmed) as { scores?: Record<string, number>; id?: string; score?: number };
    if (o.scores) return o.scores;
  }
  const out: Record<string, number> = {};
  for (const line of trimmed.split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { id?: string; score?: number };
    if (typeof r.id === 'string' && typeof r.score === 'number') out[r.id] = r.score;
  }
  return out;
}
