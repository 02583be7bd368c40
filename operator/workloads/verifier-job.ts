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
import { storeEnv, type StorageSettings } from './store-env.ts';

export interface VerifierJobInput {
  name: string;
  owner: { kind: string; namespace: string; name: string; uid?: string };
  attempt: number;
  model: ModelRef;
  storeUri: string;
  inputKey: string;
  outputKey: string;
}

/**
 * The verifier Job (pure): `entropo verifier score` reads the suite's trajectories and a store://
 * verifier from the store and writes the scores to outputKey, all through --store (any backend);
 * `storage` (spec.storage) gives an s3:// store's settings to the container (store-env.ts).
 */
export function verifierJob(u: VerifierJobInput, operatorImage: string, storage?: StorageSettings): V1Job {
  const labels = { ...ownerLabels(u.owner, 'verifier'), ...(u.owner.uid ? { [LABEL_OWNER_UID]: u.owner.uid } : {}), [LABEL_ROLE]: 'Verifier', [LABEL_ATTEMPT]: String(u.attempt) };
  const pvc = /^pvc:\/\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\/.*)?$/.exec(u.storeUri);
  // Every trajectory the suite's sandboxes wrote: <prefix>/trajectories/<unit>.json (input: <prefix>/verifier/input.jsonl).
  const trajectories = u.inputKey.replace(/\/verifier\/[^/]*$/, '/trajectories');
  const m = u.model;
  const how = m.endpoint
    ? ['--endpoint', m.endpoint.url, '--endpoint-model', m.name]
    : ['--verifier', m.source!.startsWith('store://') ? m.source! : m.source!.replace(/^file:\/\//, '')];
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
              args: ['verifier', 'score', trajectories, ...how, '--store', u.storeUri, '--out-key', u.outputKey],
              env: [
                { name: 'TZ', value: 'UTC' },
                ...(m.endpoint?.apiKeySecretRef ? [{ name: 'OPENAI_API_KEY', valueFrom: { secretKeyRef: m.endpoint.apiKeySecretRef } }] : []),
                ...storeEnv(storage),
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
