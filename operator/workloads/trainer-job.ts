/**
 * The trainer Job of one iteration's preference update (pure builder and reader). The Pod runs
 * `entropo train-job` (operator/cli/commands/train-job.ts): it resolves the starting and reference
 * policies, runs `entropo train --config` on the batch's merged trajectories with the TrainingRun's
 * `training` and `preference` sections, writes its progress record to the store while it runs
 * and its summary (TrainerSummary JSON) to the termination message.
 *
 * The output (checkpoint) directory is the same store key for every attempt of an iteration and
 * the trainer resumes from its newest checkpoint there, so a retried Job continues where the
 * previous one stopped instead of starting from zero. Retries are the decision core's (a new Job
 * per attempt): the Job itself has backoffLimit 0.
 *
 * GPU: `training.resources` is passed as is (`nvidia.com/gpu` limits schedule it on a GPU node);
 * nodeSelector, tolerations, image (default: the operator image), priorityClassName and the Kueue
 * queue label come from the spec.
 */
import type { V1Job, V1Pod, V1Toleration } from '@kubernetes/client-node';
import type { Preference, Training } from '../api/common.ts';
import { KUEUE_QUEUE, LABEL_ATTEMPT, LABEL_ITERATION, LABEL_OWNER_UID, LABEL_ROLE, ownerLabels } from './labels.ts';
import { NON_ROOT_UID, STORE_MOUNT, ownerReference } from './sandbox-pod.ts';
import { parseTerminationMessage, type PodObservation } from './pod-state.ts';
import { storeEnv, type StorageSettings } from './store-env.ts';

export const TRAINER_UNIT_ENV = 'ENTROPO_TRAINER_UNIT';
/** Label on the trainer Pod naming its Job (the unit). */
export const LABEL_UNIT = 'entropo.dev/unit';

/** A trainer unit, in the shape of controllers/decision.ts TrainerUnit. */
export interface TrainerJobInput {
  name: string;
  owner: { kind: string; namespace: string; name: string; uid?: string };
  iteration: number;
  attempt: number;
  trajectoriesKey: string;
  init: string;
  reference: string;
  preference: Preference;
  training: Training;
  storeUri: string;
  checkpointKey: string;
  progressKey: string;
  queueName?: string;
  priorityClassName?: string;
}

/** What the trainer Pod reads from ENTROPO_TRAINER_UNIT. */
export type TrainerAssignment = Pick<TrainerJobInput, 'iteration' | 'attempt' | 'trajectoriesKey' | 'init' | 'reference' | 'preference' | 'training' | 'storeUri' | 'checkpointKey' | 'progressKey'>;

const DEFAULT_RESOURCES = { requests: { cpu: '1', memory: '4Gi' }, limits: { cpu: '4', memory: '8Gi' } };

/** The trainer Job (pure); `storage` (spec.storage) gives an s3:// store's settings to the container (store-env.ts). */
export function trainerJob(u: TrainerJobInput, operatorImage: string, storage?: StorageSettings): V1Job {
  const labels = {
    ...ownerLabels(u.owner, 'trainer'),
    ...(u.owner.uid ? { [LABEL_OWNER_UID]: u.owner.uid } : {}),
    [LABEL_ROLE]: 'Trainer',
    [LABEL_ITERATION]: String(u.iteration),
    [LABEL_ATTEMPT]: String(u.attempt),
    ...(u.queueName ? { [KUEUE_QUEUE]: u.queueName } : {}),
  };
  const assignment: TrainerAssignment = {
    iteration: u.iteration,
    attempt: u.attempt,
    trajectoriesKey: u.trajectoriesKey,
    init: u.init,
    reference: u.reference,
    preference: u.preference,
    training: u.training,
    storeUri: u.storeUri,
    checkpointKey: u.checkpointKey,
    progressKey: u.progressKey,
  };
  const pvc = /^pvc:\/\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\/.*)?$/.exec(u.storeUri);
  const t = u.training;
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
          ...(t.nodeSelector ? { nodeSelector: t.nodeSelector } : {}),
          ...(t.tolerations ? { tolerations: t.tolerations as V1Toleration[] } : {}),
          ...(u.priorityClassName ? { priorityClassName: u.priorityClassName } : {}),
          containers: [
            {
              name: 'train',
              image: t.image ?? operatorImage,
              args: ['train-job'],
              env: [
                { name: TRAINER_UNIT_ENV, value: JSON.stringify(assignment) },
                { name: 'ENTROPO_MODEL_CACHE', value: '/tmp/entropo-models' },
                { name: 'TZ', value: 'UTC' },
                ...storeEnv(storage),
              ],
              resources: (t.resources as { requests?: Record<string, string>; limits?: Record<string, string> } | undefined) ?? DEFAULT_RESOURCES,
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...(pvc ? [{ name: 'store', mountPath: STORE_MOUNT }] : [])],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }, ...(pvc ? [{ name: 'store', persistentVolumeClaim: { claimName: pvc[1] } }] : [])],
        },
      },
    },
  };
}

/**
 * Reader: a trainer Job (and its Pod, when there is one) -> phase, reason, summary. Succeeded:
 * the Job completed; the summary is the Pod's termination message. Failed: the Job failed
 * (BackoffLimitExceeded: the container exited non-zero; DeadlineExceeded) or its Pod failed
 * (eviction, OOM). Pending until the Pod runs; ImagePullBackOff etc. say why.
 */
export function observeTrainerJob(job: V1Job, pod: V1Pod | undefined, container = 'train'): PodObservation {
  const base: Omit<PodObservation, 'phase'> = {
    ...(job.metadata?.creationTimestamp ? { createdAt: new Date(job.metadata.creationTimestamp).getTime() } : {}),
    ...(job.metadata?.deletionTimestamp ? { terminating: true } : {}),
  };
  const cs = pod?.status?.containerStatuses?.find((c) => c.name === container);
  const term = cs?.state?.terminated;
  const cond = (type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
  if (cond('Complete') || (term && term.exitCode === 0)) {
    return { ...base, phase: 'Succeeded', exitCode: 0, ...(term?.finishedAt ? { finishedAt: new Date(term.finishedAt).getTime() } : {}), ...parseTerminationMessage(term?.message) };
  }
  const failed = cond('Failed');
  if (failed || pod?.status?.phase === 'Failed' || (term && term.exitCode !== 0)) {
    const oom = term?.reason === 'OOMKilled';
    const reason = pod?.status?.reason === 'Evicted' ? 'Evicted' : oom ? 'OOMKilled' : (failed?.reason ?? 'Error');
    const message = pod?.status?.message ?? (term ? `${container} exited ${term.exitCode}: ${(term.message ?? '').trim().split('\n').pop() ?? ''}` : (failed?.message ?? 'the trainer Job failed'));
    return { ...base, phase: 'Failed', reason, message: message.slice(0, 1024), infrastructure: true, ...(term ? { exitCode: term.exitCode } : {}) };
  }
  if (cs?.state?.running || (job.status?.active ?? 0) > 0 && pod?.status?.phase === 'Running') {
    return { ...base, phase: 'Running', ...(cs?.state?.running?.startedAt ? { startedAt: new Date(cs.state.running.startedAt).getTime() } : {}) };
  }
  const waiting = cs?.state?.waiting;
  if (waiting?.reason && waiting.reason !== 'ContainerCreating') return { ...base, phase: 'Pending', reason: waiting.reason, message: waiting.message ?? waiting.reason };
  return { ...base, phase: 'Pending' };
}
