/**
 * The sandbox Pod of one rollout (task x sample x attempt), built as a pure function of the
 * assignment. Its shape follows the sandbox phase contract (prepare -> agent -> grade):
 *
 *   initContainers  copy-runtime     operator image: /opt/entropo/bin (node) and /opt/entropo/sandbox
 *                                    (`entropo sandbox` bundled into one file + its grading runner,
 *                                    operator/cli/sandbox-main.ts) -> the `runtime` emptyDir
 *                   prepare          operator image: task record -> agent work tree + agent view
 *                                    of the task in the `workspace` emptyDir
 *                   agent            TASK image, runs /entropo/bin/node: the agent loop against the
 *                                    policy endpoint (API key from the Secret by valueFrom); sees
 *                                    no task record, no hidden tests, no store
 *                   prepare-grading  operator image: hidden tests / grading material -> `hidden`
 *   containers      grade            TASK image: applies the agent's patch to a fresh copy, runs
 *                                    the tests, writes the trajectory to the store and the summary
 *                                    (<= 4 KiB JSON) to /dev/termination-log (policy File)
 *
 * Init containers run one after another, so every process of the agent is gone before grading.
 * The task record is read from the store (ENTROPO_TASK_KEY, the batch's resolved task list) by
 * prepare and prepare-grading only; the agent container gets neither the record nor the store.
 *
 * Hardening (docs/architecture.md): no service-account token, seccomp RuntimeDefault, all
 * capabilities dropped, no privilege escalation, runAsNonRoot where the image allows it (our own
 * images and self-contained tasks; SWE-bench images own /testbed as root), CPU / memory /
 * ephemeral-storage limits on every container, activeDeadlineSeconds from the rollout limits,
 * TZ and PYTHONHASHSEED pinned, no service links. The environment variables are the ENTROPO_*
 * names documented in operator/rollout/assignment.ts.
 */
import type { V1Container, V1EnvVar, V1Pod, V1ResourceRequirements, V1SecurityContext, V1Toleration, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { GROUP, VERSION, type RolloutLimits, type Sampling } from '../api/common.ts';
import type { OwnerReference } from '../runtime/kube/types.ts';
import { ANNOTATION_TASK_ID, KUEUE_QUEUE, LABEL_ATTEMPT, LABEL_INDEX, LABEL_ITERATION, LABEL_OWNER_UID, LABEL_ROLE, LABEL_SAMPLE, LABEL_TASK, labelValue, ownerLabels } from './labels.ts';
import { sandboxImage } from './swebench.ts';
import { storeEnv, type StorageSettings } from './store-env.ts';

/** Where the runtime emptyDir is mounted in every container. */
export const RUNTIME_MOUNT = '/entropo';
/**
 * What copy-runtime copies from the runtime image (the operator image, or spec.sandbox.runtimeImage
 * laid out the same way; see the Dockerfile): the Node binary at bin/node and the sandbox bundle.
 */
export const RUNTIME_SOURCES = ['/opt/entropo/bin', '/opt/entropo/sandbox'] as const;
/** The sandbox bundle under RUNTIME_MOUNT (npm run build:sandbox). */
export const RUNTIME_ENTRY = 'sandbox/entropo-sandbox.mjs';
export const WORKSPACE_MOUNT = '/workspace';
export const HIDDEN_MOUNT = '/hidden';
/** Where a pvc:// store is mounted (operator/store/fs-store.ts PVC_MOUNT). */
export const STORE_MOUNT = '/artifacts';
export const TERMINATION_LOG = '/dev/termination-log';
/** The uid/gid of the operator image (and of sandboxes where the image allows non-root). */
export const NON_ROOT_UID = 65532;

/** Defaults of the task container's resources (spec.sandbox.resources overrides them). */
export const DEFAULT_SANDBOX_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '2Gi' },
  limits: { cpu: '2', memory: '4Gi', 'ephemeral-storage': '10Gi' },
};
/** Resources of the operator-image helper containers (copy, prepare). */
export const HELPER_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '100m', memory: '128Mi', 'ephemeral-storage': '256Mi' },
  limits: { cpu: '1', memory: '512Mi', 'ephemeral-storage': '2Gi' },
};

/** The sandbox settings of a spec (api/common.ts Sandbox) that shape the Pod. */
export interface SandboxSettings {
  image?: string;
  runtimeImage?: string;
  runtimeClassName?: string;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  network?: 'PolicyOnly' | 'None' | 'Unrestricted';
  runAsNonRoot?: boolean;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  env?: { name: string; value: string }[];
}

/**
 * One rollout to run, in the shape of the decision core's SandboxUnit (controllers/decision.ts):
 * the reconciler passes the unit as is plus the images and the task's format.
 */
export interface SandboxPodInput {
  /** Deterministic Pod name (the unit's name). */
  name: string;
  /** The controlling owner (RolloutBatch, or an EvalSuite running its own Pods). */
  owner: { kind: string; namespace: string; name: string; uid?: string };
  index: number;
  taskId: string;
  sample: number;
  attempt: number;
  /** Store key of the resolved task list (JSONL); read by prepare / prepare-grading only. */
  tasksKey: string;
  policy: { model: string; url: string; apiKeySecretRef?: { name: string; key: string } };
  sampling: Sampling;
  limits: RolloutLimits;
  sandbox: SandboxSettings;
  storeUri: string;
  trajectoryKey: string;
  /** The run part of the trajectory id (<task>/<sample>/<run>). */
  run: string;
  source: { kind: string; namespace: string; name: string; iteration?: number };
  activeDeadlineSeconds: number;
  queueName?: string;
  priorityClassName?: string;
  iteration?: number;
}

/** What the cluster adds to a unit: images, and the task's format / own image (SWE-bench). */
export interface SandboxPodEnv {
  /** The operator image (runtime copy, prepare, prepare-grading). */
  operatorImage: string;
  /** Base image of self-contained tasks (Python + Node + git). */
  baseImage: string;
  task: { format: 'swe-bench' | 'self-contained'; image?: string };
  /** spec.storage: an s3:// store's settings reach the containers that open the store (store-env.ts). */
  storage?: StorageSettings;
}

/** The ownerReference of a child of an entropo.dev object (controller, blockOwnerDeletion). */
export function ownerReference(owner: { kind: string; name: string; uid?: string }): OwnerReference {
  if (!owner.uid) throw new Error(`owner ${owner.kind}/${owner.name} has no uid: children need an ownerReference`);
  return { apiVersion: `${GROUP}/${VERSION}`, kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true };
}

const restricted = (nonRoot: boolean): V1SecurityContext => ({
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  privileged: false,
  ...(nonRoot ? { runAsNonRoot: true, runAsUser: NON_ROOT_UID, runAsGroup: NON_ROOT_UID } : {}),
});

const pinned: V1EnvVar[] = [
  { name: 'TZ', value: 'UTC' },
  { name: 'PYTHONHASHSEED', value: '0' },
];

/**
 * The task containers find the injected node first (JavaScript tasks' test commands run `node`)
 * and have a writable HOME (git, pip and npm write there; a non-root uid has no home in the image).
 */
const taskShell: V1EnvVar[] = [
  { name: 'PATH', value: `${RUNTIME_MOUNT}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
  { name: 'HOME', value: '/tmp' },
];

function toResources(r: SandboxSettings['resources']): V1ResourceRequirements {
  if (!r) return DEFAULT_SANDBOX_RESOURCES;
  const str = (m?: Record<string, string | number>) => (m ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)])) : undefined);
  return {
    requests: { ...DEFAULT_SANDBOX_RESOURCES.requests, ...str(r.requests) },
    limits: { ...DEFAULT_SANDBOX_RESOURCES.limits, ...str(r.limits) },
  };
}

/** The store volume and ENTROPO_STORE_URI for a storage URI (pvc:// is mounted; s3:// and file:// pass as is). */
function storeVolume(uri: string): { volume?: V1Volume; mount?: V1VolumeMount } {
  const pvc = /^pvc:\/\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\/.*)?$/.exec(uri);
  if (!pvc) return {};
  return { volume: { name: 'store', persistentVolumeClaim: { claimName: pvc[1] } }, mount: { name: 'store', mountPath: STORE_MOUNT } };
}

/** True when the task container can run as a non-root user: asked for, and not a SWE-bench image (root-owned /testbed). */
export function sandboxRunsAsNonRoot(sandbox: SandboxSettings, task: SandboxPodEnv['task']): boolean {
  if (sandbox.runAsNonRoot === false) return false;
  return task.format === 'self-contained' || sandbox.image !== undefined;
}

/** The sandbox Pod (pure). */
export function sandboxPod(unit: SandboxPodInput, env: SandboxPodEnv): V1Pod {
  const { sandbox } = unit;
  const task = { id: unit.taskId, ...env.task };
  const taskImage = sandboxImage(task, sandbox.image, env.baseImage);
  const runtimeImage = sandbox.runtimeImage ?? env.operatorImage;
  const nonRoot = sandboxRunsAsNonRoot(sandbox, env.task);
  const node = `${RUNTIME_MOUNT}/bin/node`;
  const entropo = `${RUNTIME_MOUNT}/${RUNTIME_ENTRY}`;
  const store = storeVolume(unit.storeUri);
  const resources = toResources(sandbox.resources);
  const repoDir = task.format === 'swe-bench' ? '/testbed' : `${WORKSPACE_MOUNT}/repo`;
  const v = (name: string, value: string): V1EnvVar => ({ name, value });

  // Integrity's phase contract: each phase gets only what it needs.
  const workspace = v('ENTROPO_WORKSPACE', WORKSPACE_MOUNT);
  const hidden = v('ENTROPO_HIDDEN', HIDDEN_MOUNT);
  const repo = v('ENTROPO_REPO_DIR', repoDir);
  const taskRef = [v('ENTROPO_TASK_KEY', unit.tasksKey), v('ENTROPO_TASK_ID', unit.taskId), v('ENTROPO_STORE_URI', unit.storeUri), ...storeEnv(env.storage)];
  const identity = [v('ENTROPO_SAMPLE', String(unit.sample)), v('ENTROPO_RUN', unit.run), v('ENTROPO_SOURCE', JSON.stringify(unit.source))];
  const termination = v('ENTROPO_TERMINATION_LOG', TERMINATION_LOG);
  const apiKey: V1EnvVar[] = unit.policy.apiKeySecretRef
    ? [{ name: 'ENTROPO_API_KEY', valueFrom: { secretKeyRef: { name: unit.policy.apiKeySecretRef.name, key: unit.policy.apiKeySecretRef.key } } }]
    : [];
  const user = sandbox.env ?? [];

  const m = {
    runtime: { name: 'runtime', mountPath: RUNTIME_MOUNT },
    runtimeRo: { name: 'runtime', mountPath: RUNTIME_MOUNT, readOnly: true },
    workspace: { name: 'workspace', mountPath: WORKSPACE_MOUNT },
    hidden: { name: 'hidden', mountPath: HIDDEN_MOUNT },
    hiddenRo: { name: 'hidden', mountPath: HIDDEN_MOUNT, readOnly: true },
  } satisfies Record<string, V1VolumeMount>;
  const storeMounts = store.mount ? [store.mount] : [];

  const helper = (name: string, args: string[], envs: V1EnvVar[], mounts: V1VolumeMount[]): V1Container => ({
    name,
    image: runtimeImage,
    args,
    env: [...pinned, ...envs],
    volumeMounts: mounts,
    resources: HELPER_RESOURCES,
    securityContext: restricted(true),
    terminationMessagePolicy: 'FallbackToLogsOnError',
  });

  const initContainers: V1Container[] = [
    {
      // Node and the one-file sandbox bundle (~125 MB in 3 files), not the operator's install
      // (~550 MB in tens of thousands of files: minutes per Pod on a busy node).
      ...helper('copy-runtime', [], [], [m.runtime]),
      command: ['cp', '-R', ...RUNTIME_SOURCES, `${RUNTIME_MOUNT}/`],
    },
    helper('prepare', ['sandbox', 'prepare'], [...taskRef, workspace, repo], [m.workspace, ...storeMounts]),
    {
      // The agent: no task record, no hidden tests, no store; the API key only here.
      name: 'agent',
      image: taskImage,
      command: [node, entropo, 'sandbox', 'agent'],
      env: [
        ...pinned,
        ...taskShell,
        workspace,
        v('ENTROPO_ENDPOINT', unit.policy.url),
        ...apiKey,
        v('ENTROPO_MODEL', unit.policy.model),
        v('ENTROPO_SAMPLING', JSON.stringify(unit.sampling)),
        v('ENTROPO_LIMITS', JSON.stringify(unit.limits)),
        ...identity,
        v('ENTROPO_SANDBOX_ISOLATION', 'none'),
        repo,
        termination,
        ...user,
      ],
      volumeMounts: [m.runtimeRo, m.workspace],
      resources,
      securityContext: restricted(nonRoot),
      terminationMessagePath: TERMINATION_LOG,
      terminationMessagePolicy: 'File',
    },
    helper('prepare-grading', ['sandbox', 'prepare-grading'], [...taskRef, hidden], [m.hidden, ...storeMounts]),
  ];

  const grade: V1Container = {
    name: 'grade',
    image: taskImage,
    command: [node, entropo, 'sandbox', 'grade'],
    env: [
      ...pinned,
      ...taskShell,
      workspace,
      hidden,
      v('ENTROPO_STORE_URI', unit.storeUri),
      ...storeEnv(env.storage),
      v('ENTROPO_TRAJECTORY_KEY', unit.trajectoryKey),
      ...identity,
      termination,
      repo,
      ...user,
    ],
    volumeMounts: [m.runtimeRo, m.workspace, m.hiddenRo, ...storeMounts],
    resources,
    securityContext: restricted(nonRoot),
    terminationMessagePath: TERMINATION_LOG,
    terminationMessagePolicy: 'File',
  };

  const volumes: V1Volume[] = [
    { name: 'runtime', emptyDir: {} },
    { name: 'workspace', emptyDir: {} },
    { name: 'hidden', emptyDir: {} },
    ...(store.volume ? [store.volume] : []),
  ];
  const owner = { kind: unit.owner.kind, name: unit.owner.name };

  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: unit.name,
      namespace: unit.owner.namespace,
      labels: {
        ...ownerLabels(owner, 'sandbox'),
        ...(unit.owner.uid ? { [LABEL_OWNER_UID]: unit.owner.uid } : {}),
        [LABEL_ROLE]: 'Sandbox',
        [LABEL_INDEX]: String(unit.index),
        [LABEL_TASK]: labelValue(unit.taskId),
        [LABEL_SAMPLE]: String(unit.sample),
        [LABEL_ATTEMPT]: String(unit.attempt),
        ...(unit.iteration !== undefined ? { [LABEL_ITERATION]: String(unit.iteration) } : {}),
        ...(unit.queueName ? { [KUEUE_QUEUE]: unit.queueName } : {}),
      },
      annotations: { [ANNOTATION_TASK_ID]: unit.taskId },
      ownerReferences: [ownerReference(unit.owner)],
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      activeDeadlineSeconds: unit.activeDeadlineSeconds,
      terminationGracePeriodSeconds: 10,
      securityContext: {
        seccompProfile: { type: 'RuntimeDefault' },
        ...(nonRoot ? { runAsNonRoot: true, runAsUser: NON_ROOT_UID, runAsGroup: NON_ROOT_UID, fsGroup: NON_ROOT_UID } : {}),
      },
      ...(sandbox.runtimeClassName ? { runtimeClassName: sandbox.runtimeClassName } : {}),
      ...(sandbox.nodeSelector ? { nodeSelector: sandbox.nodeSelector } : {}),
      ...(sandbox.tolerations ? { tolerations: sandbox.tolerations as V1Toleration[] } : {}),
      ...(unit.priorityClassName ? { priorityClassName: unit.priorityClassName } : {}),
      initContainers,
      containers: [grade],
      volumes,
    },
  };
}
