/**
 * The policy server of a checkpoint (pure builders and reader): a Deployment running
 * `entropo serve` (the serve helper's OpenAI-compatible server, /health as readiness and liveness
 * probe) and a ClusterIP Service of the same name; sandboxes call
 * http://<name>.<namespace>.svc:8000/v1. Ready when the Deployment has an available replica of
 * its current generation; Failed when its rollout exceeded the progress deadline.
 */
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { KUEUE_QUEUE, LABEL_CHECKPOINT, LABEL_OWNER_UID, LABEL_ROLE, ownerLabels } from './labels.ts';
import { ownerReference } from './sandbox-pod.ts';
import { NON_ROOT_UID, STORE_MOUNT } from './sandbox-pod.ts';
import { storeEnv, type StorageSettings } from './store-env.ts';

export const SERVE_PORT = 8000;

export interface PolicyServerInput {
  name: string;
  owner: { kind: string; namespace: string; name: string; uid?: string };
  checkpoint: number;
  /** Served model name (the spec's policy.name). */
  model: string;
  /** builtin:, store://, file:// */
  source: string;
  storeUri: string;
  replicas: number;
  resources?: Record<string, unknown>;
  queueName?: string;
}

const DEFAULT_RESOURCES = { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '2', memory: '4Gi' } };

/** Labels of one policy server's Pods (also the NetworkPolicy peer of its sandboxes). */
export function policyServerLabels(input: Pick<PolicyServerInput, 'name' | 'owner' | 'checkpoint'>): Record<string, string> {
  return {
    ...ownerLabels(input.owner, 'policy-server'),
    ...(input.owner.uid ? { [LABEL_OWNER_UID]: input.owner.uid } : {}),
    [LABEL_ROLE]: 'PolicyServer',
    [LABEL_CHECKPOINT]: String(input.checkpoint),
    'entropo.dev/policy-server': input.name,
  };
}

/** The base URL sandboxes use. */
export const policyServerUrl = (name: string, namespace: string): string => `http://${name}.${namespace}.svc:${SERVE_PORT}/v1`;

export function policyServerDeployment(input: PolicyServerInput, image: string, storage?: StorageSettings): V1Deployment {
  const labels = policyServerLabels(input);
  const pvc = /^pvc:\/\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\/.*)?$/.exec(input.storeUri);
  const selector = { 'entropo.dev/policy-server': input.name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: input.name, namespace: input.owner.namespace, labels, ownerReferences: [ownerReference(input.owner)] },
    spec: {
      replicas: input.replicas,
      selector: { matchLabels: selector },
      progressDeadlineSeconds: 600,
      template: {
        metadata: { labels: { ...labels, ...(input.queueName ? { [KUEUE_QUEUE]: input.queueName } : {}) } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: NON_ROOT_UID, runAsGroup: NON_ROOT_UID, fsGroup: NON_ROOT_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'serve',
              image,
              args: ['serve', '--model', input.source, '--served-model-name', input.model, '--host', '0.0.0.0', '--port', String(SERVE_PORT), '--store', input.storeUri],
              ports: [{ name: 'http', containerPort: SERVE_PORT }],
              env: [{ name: 'ENTROPO_MODEL_CACHE', value: '/tmp/entropo-models' }, ...storeEnv(storage)],
              readinessProbe: { httpGet: { path: '/health', port: SERVE_PORT }, periodSeconds: 2, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: '/health', port: SERVE_PORT }, initialDelaySeconds: 300, periodSeconds: 10, failureThreshold: 6 },
              resources: (input.resources as { requests?: Record<string, string>; limits?: Record<string, string> } | undefined) ?? DEFAULT_RESOURCES,
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...(pvc ? [{ name: 'store', mountPath: STORE_MOUNT }] : [])],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }, ...(pvc ? [{ name: 'store', persistentVolumeClaim: { claimName: pvc[1] } }] : [])],
        },
      },
    },
  };
}

export function policyServerService(input: PolicyServerInput): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: input.name, namespace: input.owner.namespace, labels: policyServerLabels(input), ownerReferences: [ownerReference(input.owner)] },
    spec: { selector: { 'entropo.dev/policy-server': input.name }, ports: [{ name: 'http', port: SERVE_PORT, targetPort: SERVE_PORT }] },
  };
}

/** Reader: the Deployment -> phase, ready, endpoint. */
export function observePolicyServer(d: V1Deployment): { phase: 'Pending' | 'Running' | 'Failed'; ready: boolean; endpoint?: string; reason?: string; message?: string; terminating?: boolean; createdAt?: number } {
  const ns = d.metadata?.namespace ?? 'default';
  const name = d.metadata?.name ?? '';
  const st = d.status ?? {};
  const current = (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const ready = current && (st.availableReplicas ?? 0) >= 1;
  const base = {
    ...(d.metadata?.deletionTimestamp ? { terminating: true } : {}),
    ...(d.metadata?.creationTimestamp ? { createdAt: new Date(d.metadata.creationTimestamp).getTime() } : {}),
  };
  const stuck = st.conditions?.find((c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded');
  if (stuck && !ready) return { ...base, phase: 'Failed', ready: false, reason: 'ProgressDeadlineExceeded', message: stuck.message ?? 'the policy server did not become available' };
  return { ...base, phase: ready ? 'Running' : 'Pending', ready, ...(ready ? { endpoint: policyServerUrl(name, ns) } : {}) };
}
