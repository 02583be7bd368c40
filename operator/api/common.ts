/**
 * Spec and status pieces shared by TrainingRun, RolloutBatch and EvalSuite. Defaults follow the
 * paper (docs/method.md sections 2, 6, 7, 8). Every field carries a description: `kubectl explain`
 * shows them.
 */
import { Type, StringEnum, Quantity, withRules, DNS1123, DNS1123_SUBDOMAIN, QUALIFIED_NAME, type Static } from './schema.ts';

export const GROUP = 'entropo.dev';
export const VERSION = 'v1alpha1';

// ---- models ---------------------------------------------------------------------------------

export const SecretKeyRef = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 253, pattern: DNS1123_SUBDOMAIN, description: 'Secret name, in the object\'s namespace.' }),
    key: Type.String({ minLength: 1, description: 'Key within the Secret.' }),
  },
  { description: 'A key of a Secret.' },
);

export const ModelRef = withRules(
  Type.Object(
    {
      name: Type.String({
        minLength: 1,
        maxLength: 253,
        description: 'Model name as sent to the chat completions API and recorded in trajectories.',
      }),
      source: Type.Optional(
        Type.String({
          minLength: 1,
          description:
            'Checkpoint served by the operator\'s own policy server: "builtin:<name>" (a model shipped in the image), ' +
            '"store://<key>" (a checkpoint in the artifact store) or "file://<dir>" (a Hugging Face style directory).',
          pattern: '^(builtin:[a-z0-9-]+|store://.+|file://.+)$',
        }),
      ),
      endpoint: Type.Optional(
        Type.Object(
          {
            url: Type.String({
              pattern: '^https?://.+',
              description: 'Base URL of an OpenAI-compatible API (vLLM, SGLang, ...), e.g. http://vllm:8000/v1.',
            }),
            apiKeySecretRef: Type.Optional(SecretKeyRef),
          },
          { description: 'An external OpenAI-compatible endpoint serving the model.' },
        ),
      ),
    },
    { description: 'A policy model: a checkpoint the operator serves (source) or an external endpoint.' },
  ),
  [
    {
      cel: 'has(self.source) != has(self.endpoint)',
      message: 'exactly one of source or endpoint must be set',
      check: (m: { source?: string; endpoint?: unknown }) => (m.source !== undefined) !== (m.endpoint !== undefined),
    },
  ],
);
export type ModelRef = Static<typeof ModelRef>;

// ---- tasks ----------------------------------------------------------------------------------

/** Built-in task suites shipped in the image (operator/tasks/suite/<name>/; a test keeps the two in step). */
export const BuiltinSuites = ['entropo-bugs', 'entropo-bugs-variants'] as const;

export const TaskSource = withRules(
  Type.Object(
    {
      builtin: Type.Optional(
        withRules(
        Type.Object(
          {
            suite: Type.String({ default: 'entropo-bugs', description: `Built-in task suite name: ${BuiltinSuites.join(', ')}.` }),
            split: StringEnum(['Train', 'Eval', 'All'] as const, {
              default: 'Train',
              description: 'Which split of the suite.',
            }),
          },
          { description: 'A task suite shipped with the operator (self-contained tasks).' },
        ),
        [
          {
            cel: `self.suite in [${BuiltinSuites.map((n) => `'${n}'`).join(', ')}]`,
            message: `unknown built-in suite: the operator ships ${BuiltinSuites.join(', ')}`,
            fieldPath: '.suite',
            check: (b: { suite: string }) => (BuiltinSuites as readonly string[]).includes(b.suite),
          },
        ],
        ),
      ),
      jsonl: Type.Optional(
        Type.Object(
          {
            uri: Type.String({
              pattern: '^(store://|file://|https?://).+',
              description: 'Location of a JSONL file of task records (store://, file:// or http(s)://).',
            }),
            format: StringEnum(['SWEBench', 'SelfContained'] as const, {
              default: 'SWEBench',
              description: 'Record format of each line.',
            }),
          },
          { description: 'A JSONL task dataset.' },
        ),
      ),
      configMapRef: Type.Optional(
        Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 253, pattern: DNS1123_SUBDOMAIN, description: 'ConfigMap name.' }),
            key: Type.String({ default: 'tasks.jsonl', description: 'Key holding JSONL task records.' }),
          },
          { description: 'Tasks stored as JSONL in a ConfigMap.' },
        ),
      ),
      instanceIds: Type.Optional(
        Type.Array(Type.String({ minLength: 1 }), {
          maxItems: 10000,
          description: 'Only these task ids (default: every task of the source).',
        }),
      ),
      limit: Type.Optional(Type.Integer({ minimum: 1, description: 'At most this many tasks, after filtering.' })),
      shuffleSeed: Type.Optional(Type.Integer({ description: 'Shuffle tasks with this seed before applying limit.' })),
    },
    { description: 'Where the tasks come from. Exactly one of builtin, jsonl, configMapRef.' },
  ),
  [
    {
      cel: '(has(self.builtin) ? 1 : 0) + (has(self.jsonl) ? 1 : 0) + (has(self.configMapRef) ? 1 : 0) == 1',
      message: 'exactly one of builtin, jsonl or configMapRef must be set',
      check: (t: Record<string, unknown>) =>
        ['builtin', 'jsonl', 'configMapRef'].filter((k) => t[k] !== undefined).length === 1,
    },
  ],
);
export type TaskSource = Static<typeof TaskSource>;

// ---- rollouts -------------------------------------------------------------------------------

export const Sampling = Type.Object(
  {
    temperature: Type.Number({ minimum: 0, maximum: 2, default: 0.7, description: 'Sampling temperature (paper: 0.7).' }),
    topP: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.8, description: 'Nucleus sampling mass (paper: 0.8).' }),
    topK: Type.Integer({ minimum: 0, default: 20, description: 'Top-k sampling; 0 disables (paper: 20).' }),
    maxTokensPerTurn: Type.Integer({
      minimum: 1,
      maximum: 131072,
      default: 4096,
      description: 'Completion tokens per assistant turn.',
    }),
    seed: Type.Optional(Type.Integer({ description: 'Base seed; sample i of a task uses seed + i.' })),
  },
  { description: 'Sampling parameters passed to the model for every turn.', default: {} },
);
export type Sampling = Static<typeof Sampling>;

export const RolloutLimits = Type.Object(
  {
    maxSteps: Type.Integer({ minimum: 1, maximum: 1000, default: 200, description: 'Assistant turns per rollout (paper: 200).' }),
    maxTokens: Type.Integer({
      minimum: 256,
      maximum: 1048576,
      default: 131072,
      description: 'Total tokens (prompt + completion) per rollout (paper: 128k).',
    }),
    timeoutSeconds: Type.Integer({ minimum: 10, default: 3600, description: 'Wall time per rollout.' }),
    toolTimeoutSeconds: Type.Integer({ minimum: 1, default: 120, description: 'Wall time per tool call.' }),
    toolCallFormat: StringEnum(['Native', 'Text'] as const, {
      default: 'Native',
      description: 'Native: the API\'s tool calls; Text: tool calls written in the message text (Hermes/Qwen <tool_call> blocks), for models without them.',
    }),
  },
  { description: 'Limits of one rollout. A rollout cut off by a limit is not "finished".', default: {} },
);
export type RolloutLimits = Static<typeof RolloutLimits>;

export const Resources = Type.Object(
  {
    requests: Type.Optional(Type.Record(Type.String(), Quantity('Quantity.'), { description: 'Resource requests.' })),
    limits: Type.Optional(Type.Record(Type.String(), Quantity('Quantity.'), { description: 'Resource limits.' })),
  },
  { description: 'Compute resources, as in a container spec.' },
);

/** core/v1 Toleration, checked as the API server checks a Pod's (validation.ValidateTolerations). */
export const Toleration = withRules(
  Type.Object(
    {
      key: Type.Optional(Type.String({ maxLength: 317, pattern: QUALIFIED_NAME, description: 'Taint key (a qualified name); empty with operator Exists matches every taint.' })),
      operator: Type.Optional(StringEnum(['Exists', 'Equal'] as const, { description: 'Exists or Equal (the default when empty).' })),
      value: Type.Optional(Type.String({ maxLength: 63, description: 'Taint value; must be empty with operator Exists.' })),
      effect: Type.Optional(
        StringEnum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const, { description: 'Taint effect to match; empty matches every effect.' }),
      ),
      tolerationSeconds: Type.Optional(Type.Integer({ description: 'NoExecute only: how long the Pod stays bound after the taint appears.' })),
    },
    { description: 'A toleration (core/v1 Toleration).' },
  ),
  [
    {
      cel: "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
      message: 'operator must be Exists when key is empty',
      fieldPath: '.operator',
      check: (t: { key?: string; operator?: string }) => !!t.key || t.operator === 'Exists',
    },
    {
      cel: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
      message: 'value must be empty when operator is Exists',
      fieldPath: '.value',
      check: (t: { operator?: string; value?: string }) => t.operator !== 'Exists' || !t.value,
    },
    {
      cel: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
      message: "effect must be 'NoExecute' when tolerationSeconds is set",
      fieldPath: '.effect',
      check: (t: { effect?: string; tolerationSeconds?: number }) => t.tolerationSeconds === undefined || t.effect === 'NoExecute',
    },
  ],
);

export const Sandbox = Type.Object(
  {
    image: Type.Optional(
      Type.String({
        description:
          'Image of the task container. Default: the task\'s own image (SWE-bench: sweb.eval.x86_64.<id>), else a Python + Node base image.',
      }),
    ),
    runtimeImage: Type.Optional(
      Type.String({ description: 'Image holding the agent runtime that an init container copies into the sandbox: /opt/entropo/bin/node and /opt/entropo/sandbox/ (the one-file entropo-sandbox.mjs and its runners), as in the operator image. Default: the operator image.' }),
    ),
    runtimeClassName: Type.Optional(
      Type.String({ maxLength: 253, pattern: DNS1123_SUBDOMAIN, description: 'RuntimeClass for stronger isolation (gVisor, Kata).' }),
    ),
    resources: Type.Optional(Resources),
    network: StringEnum(['PolicyOnly', 'None', 'Unrestricted'] as const, {
      default: 'PolicyOnly',
      description: 'Egress allowed from the sandbox: PolicyOnly (only to the policy endpoint, by NetworkPolicy), None, or Unrestricted.',
    }),
    runAsNonRoot: Type.Boolean({ default: true, description: 'Run the task container as non-root (when the image allows).' }),
    nodeSelector: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Node selector for sandbox Pods.' })),
    tolerations: Type.Optional(Type.Array(Toleration, { maxItems: 64, description: 'Tolerations for sandbox Pods.' })),
    env: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1, pattern: '^[-._a-zA-Z][-._a-zA-Z0-9]*$', description: 'Variable name (as a container\'s env: letters, digits, -, _ and ., not starting with a digit).' }),
            value: Type.String({ description: 'Value.' }),
          },
          { description: 'An environment variable.' },
        ),
        { description: 'Extra environment for the task container (TZ and PYTHONHASHSEED are pinned).' },
      ),
    ),
  },
  { description: 'The sandbox Pod that runs one rollout (one per task x sample).', default: {} },
);
export type Sandbox = Static<typeof Sandbox>;

// ---- preference optimisation ----------------------------------------------------------------

export const ReferencePointModes = ['Exact', 'AuthorsKL', 'TRLKL'] as const;

export const Preference = withRules(
  Type.Object(
    {
      algorithm: StringEnum(['KTO', 'DPO'] as const, {
        default: 'KTO',
        description: 'KTO: unpaired trajectories labelled by reward (Eqs. 11-13); DPO: same-task pairs, one resolved (Eq. 7).',
      }),
      zeta: Type.Number({
        exclusiveMinimum: 0,
        maximum: 10,
        default: 0.11,
        description: 'zeta = gamma + lambda, the inverse temperature of the implicit reward (paper: 0.11).',
      }),
      gamma: Type.Number({
        exclusiveMinimum: 0,
        maximum: 10,
        default: 0.1,
        description: 'KL weight to the reference policy (paper: 0.1). zeta = gamma gives the M-DPO / M-KTO baselines.',
      }),
      kto: Type.Optional(
        Type.Object(
          {
            desirableWeight: Type.Number({ exclusiveMinimum: 0, default: 1, description: 'lambda_D.' }),
            undesirableWeight: Type.Number({ exclusiveMinimum: 0, default: 1, description: 'lambda_U.' }),
            referencePoint: StringEnum(ReferencePointModes, {
              default: 'Exact',
              description:
                'z0 estimate: Exact (Eq. 13 over the full vocabulary), AuthorsKL (the authors\' released code: clamped mismatched-pair KL), TRLKL (TRL\'s KTO estimate).',
            }),
            referencePointEvery: Type.Integer({
              minimum: 1,
              default: 1,
              description: 'Recompute z0 every K optimizer steps (Exact mode; K > 1 saves reference forwards).',
            }),
          },
          { description: 'KTO options.', default: {} },
        ),
      ),
    },
    { description: 'The preference objective: max E[r] - gamma KL(pi||pi_ref) + lambda H(pi).', default: {} },
  ),
  [
    {
      cel: 'self.zeta >= self.gamma',
      message: 'zeta must be >= gamma (lambda = zeta - gamma is the entropy weight)',
      fieldPath: '.zeta',
      check: (p: { zeta: number; gamma: number }) => p.zeta >= p.gamma,
    },
  ],
);
export type Preference = Static<typeof Preference>;

/** tfjs backends a trainer may ask for (Auto: the first that works, in this order). */
export const TrainingBackends = ['Auto', 'TfjsNodeGPU', 'TfjsNode', 'Wasm', 'CPU'] as const;

export const DefaultLoraTargets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

export const Training = Type.Object(
  {
    method: StringEnum(['LoRA', 'Full'] as const, { default: 'LoRA', description: 'LoRA adapters or Full fine-tuning.' }),
    lora: Type.Optional(
      Type.Object(
        {
          rank: Type.Integer({ minimum: 1, maximum: 1024, default: 8, description: 'LoRA rank r (paper: 8).' }),
          alpha: Type.Number({ exclusiveMinimum: 0, default: 16, description: 'LoRA alpha (paper: 16).' }),
          dropout: Type.Number({ minimum: 0, maximum: 1, default: 0, description: 'LoRA dropout.' }),
          targetModules: Type.Array(Type.String({ minLength: 1 }), {
            minItems: 1,
            maxItems: 64,
            default: DefaultLoraTargets,
            description: 'Linear layers that get adapters (paper: all linear layers).',
          }),
        },
        { description: 'LoRA settings.', default: {} },
      ),
    ),
    learningRate: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 1e-5, description: 'Peak learning rate (paper: 1e-5).' }),
    warmupRatio: Type.Number({ minimum: 0, maximum: 1, default: 0.1, description: 'Fraction of steps of linear warm-up (paper: 0.1).' }),
    scheduler: StringEnum(['Cosine', 'Linear', 'Constant'] as const, { default: 'Cosine', description: 'Learning-rate schedule after warm-up.' }),
    epochs: Type.Integer({ minimum: 1, maximum: 100, default: 1, description: 'Passes over the preference data (paper: 1).' }),
    batchSize: Type.Integer({ minimum: 1, default: 8, description: 'Examples (KTO) or pairs (DPO) per optimizer step.' }),
    gradientAccumulationSteps: Type.Integer({ minimum: 1, default: 1, description: 'Micro-batches accumulated per optimizer step.' }),
    maxGradNorm: Type.Number({ minimum: 0, default: 1, description: 'Gradient clipping by global norm; 0 disables.' }),
    weightDecay: Type.Number({ minimum: 0, default: 0, description: 'AdamW weight decay.' }),
    maxSequenceLength: Type.Integer({ minimum: 64, default: 18432, description: 'Token budget per trajectory (paper: 18k).' }),
    truncation: StringEnum(['KeepEnd', 'Drop'] as const, {
      default: 'KeepEnd',
      description: 'Over-long trajectories: KeepEnd (keep the final turns and patch) or Drop them. Never cuts off the end.',
    }),
    seed: Type.Integer({ default: 0, description: 'Seed for data order, initialisation and dropout.' }),
    backend: StringEnum(TrainingBackends, {
      default: 'Auto',
      description: 'tfjs backend: TfjsNodeGPU (@tensorflow/tfjs-node-gpu), TfjsNode, Wasm, CPU; Auto tries them in that order.',
    }),
    image: Type.Optional(Type.String({ description: 'Trainer image. Default: the operator image (GPU variant).' })),
    resources: Type.Optional(Resources),
    nodeSelector: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Node selector for the trainer Pod.' })),
    tolerations: Type.Optional(Type.Array(Toleration, { maxItems: 64, description: 'Tolerations for the trainer Pod.' })),
  },
  { description: 'Training hyperparameters and the trainer Pod (paper recipe: LoRA 8/16, lr 1e-5, warm-up 0.1, cosine, 1 epoch).', default: {} },
);
export type Training = Static<typeof Training>;

// ---- evaluation and selection ---------------------------------------------------------------

export const SelectionStepTypes = [
  'Finished',
  'Regression',
  'Reproduction',
  'VerifierThreshold',
  'VerifierArgmax',
  'Steps',
  'Majority',
  'Random',
] as const;

export const SelectionStep = withRules(
  Type.Object(
  {
    type: StringEnum(SelectionStepTypes, { description: 'Filter or ranking step.' }),
    threshold: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'VerifierThreshold: keep candidates with p(YES) >= threshold.' }),
    ),
    mode: Type.Optional(
      StringEnum(['AllPass', 'MaxCount'] as const, {
        description: 'Regression: keep candidates passing every existing test (AllPass), or those with the maximum pass count (MaxCount).',
      }),
    ),
    order: Type.Optional(StringEnum(['Most', 'Fewest'] as const, { description: 'Steps: prefer the Most or the Fewest steps.' })),
  },
  { description: 'One step of the selection pipeline. A step that would leave no candidate is skipped.' },
  ),
  [
    {
      cel: "!has(self.threshold) || self.type == 'VerifierThreshold'",
      message: 'threshold belongs to the VerifierThreshold step only',
      fieldPath: '.threshold',
      check: (s: { type: string; threshold?: number }) => s.threshold === undefined || s.type === 'VerifierThreshold',
    },
    {
      cel: "self.type != 'VerifierThreshold' || has(self.threshold)",
      message: 'a VerifierThreshold step needs a threshold (the paper uses 0.01)',
      fieldPath: '.threshold',
      check: (s: { type: string; threshold?: number }) => s.type !== 'VerifierThreshold' || s.threshold !== undefined,
    },
    {
      cel: "!has(self.mode) || self.type == 'Regression'",
      message: 'mode belongs to the Regression step only',
      fieldPath: '.mode',
      check: (s: { type: string; mode?: string }) => s.mode === undefined || s.type === 'Regression',
    },
    {
      cel: "!has(self.order) || self.type == 'Steps'",
      message: 'order belongs to the Steps step only',
      fieldPath: '.order',
      check: (s: { type: string; order?: string }) => s.order === undefined || s.type === 'Steps',
    },
  ],
);
export type SelectionStep = Static<typeof SelectionStep>;

/** The paper's hybrid pipeline (docs/method.md section 8); its verifier step needs spec.verifier. */
export const PaperSelection: SelectionStep[] = [
  { type: 'Finished' },
  { type: 'Regression', mode: 'AllPass' },
  { type: 'VerifierThreshold', threshold: 0.01 },
  { type: 'Steps', order: 'Most' },
];

/** The pipeline used without a verifier when none is written: the paper's, minus its verifier step. */
export const NoVerifierSelection: SelectionStep[] = PaperSelection.filter((s) => s.type !== 'VerifierThreshold');

/**
 * The pipeline an object runs: the one it writes, else the paper's hybrid when it has a verifier,
 * else the paper's minus the verifier step (a step that could not run is never implied).
 */
export function selectionPipeline(selection: { pipeline?: SelectionStep[] } | undefined, hasVerifier: boolean): SelectionStep[] {
  return selection?.pipeline ?? (hasVerifier ? PaperSelection : NoVerifierSelection);
}

/** Step types that read verifier scores. */
export const VerifierStepTypes = ['VerifierThreshold', 'VerifierArgmax'] as const;

/**
 * The rule that an object whose selection pipeline has a verifier step names a verifier; attached
 * to EvalSuite.spec and TrainingRun.spec.evaluation (both carry selection and verifier).
 */
export const VerifierNeeded = {
  cel: `!has(self.selection.pipeline) || !self.selection.pipeline.exists(s, s.type in [${VerifierStepTypes.map((t) => `'${t}'`).join(', ')}]) || has(self.verifier)`,
  message: 'selection.pipeline has a verifier step (VerifierThreshold or VerifierArgmax): set verifier, or remove the step',
  fieldPath: '.verifier',
  check: (o: { selection?: { pipeline?: { type: string }[] }; verifier?: unknown }) =>
    o.verifier !== undefined || !(o.selection?.pipeline ?? []).some((s) => (VerifierStepTypes as readonly string[]).includes(s.type)),
};

export const Selection = Type.Object(
  {
    pipeline: Type.Optional(
      Type.Array(SelectionStep, {
        minItems: 1,
        maxItems: 16,
        description:
          'Ordered steps. When unset: the paper\'s hybrid (Finished; Regression AllPass; VerifierThreshold 0.01; Steps Most) ' +
          'if a verifier is set, else the same without the verifier step. A verifier step needs a verifier.',
      }),
    ),
    seed: Type.Integer({ default: 0, description: 'Seed of the random tie-break.' }),
  },
  { description: 'Hybrid best-trajectory selection among a task\'s N candidates (docs/method.md section 8).', default: {} },
);
export type Selection = Static<typeof Selection>;

export const Verifier = Type.Object(
  {
    model: ModelRef,
  },
  { description: 'Execution-free verifier: scores p(YES) for a finished trajectory and its patch.' },
);

// ---- storage and run policy -----------------------------------------------------------------

export const Storage = Type.Object(
  {
    uri: Type.String({
      pattern: '^(pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?(/.*)?|file:///.*|s3://.+)$',
      default: 'pvc://entropo-artifacts',
      description: 'Artifact store: pvc://<claim>[/prefix], file:///<dir> (local mode) or s3://<bucket>[/prefix].',
    }),
    s3: Type.Optional(
      Type.Object(
        {
          endpoint: Type.Optional(Type.String({ pattern: '^https?://[^/]+/?$', description: 'S3-compatible endpoint URL (http(s)://host[:port]), e.g. https://storage.googleapis.com or http://minio.storage.svc:9000; default: AWS S3 of the region.' })),
          region: Type.Optional(Type.String({ description: 'Region (default us-east-1).' })),
          forcePathStyle: Type.Optional(Type.Boolean({ description: 'Path-style addressing (endpoint/bucket/key) instead of virtual-hosted (bucket.endpoint/key). Default: true with a custom endpoint, false for AWS S3.' })),
          credentialsSecretRef: Type.Optional(Type.Object({ name: Type.String({ minLength: 1, maxLength: 253, pattern: DNS1123_SUBDOMAIN, description: 'Secret name.' }) }, { description: 'Secret in the object\'s namespace with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally AWS_SESSION_TOKEN; read by the operator and passed to Pods by reference. Without it: the default AWS credential chain (IRSA, workload identity, instance role).' })),
        },
        { description: 'Settings for an s3:// store.' },
      ),
    ),
  },
  { description: 'Where trajectories, preference data and checkpoints are written.', default: {} },
);

/** Fields users of Kubeflow Trainer, JobSet and KubeRay expect on every workload kind. */
export const RunPolicyFields = {
  suspend: Type.Boolean({ default: false, description: 'Suspend: no new Pods; running ones are deleted and recreated on resume.' }),
  activeDeadlineSeconds: Type.Optional(
    Type.Integer({ minimum: 1, description: 'Fail the object when it has been active this long.' }),
  ),
  startDeadlineSeconds: Type.Integer({
    minimum: 1,
    default: 300,
    description: 'Fail a Pod that has not started within this time (ImagePullBackOff, CreateContainerConfigError, unschedulable) with that reason.',
  }),
  ttlSecondsAfterFinished: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Delete the object this long after it finished.' }),
  ),
  backoffLimit: Type.Integer({
    minimum: 0,
    maximum: 100,
    default: 3,
    description: 'Retries of a Pod lost to an infrastructure failure (eviction, image pull, OOM) before the sample counts as failed.',
  }),
  queueName: Type.Optional(
    Type.String({ pattern: DNS1123, maxLength: 63, description: 'Kueue LocalQueue; set as the kueue.x-k8s.io/queue-name label on Pods and Jobs.' }),
  ),
  priorityClassName: Type.Optional(Type.String({ maxLength: 253, pattern: DNS1123_SUBDOMAIN, description: 'PriorityClass of the Pods.' })),
};

// ---- status ---------------------------------------------------------------------------------

export const Phases = ['Pending', 'Running', 'Succeeded', 'Failed', 'Suspended'] as const;
export type Phase = (typeof Phases)[number];

/** metav1.Condition's type pattern (apimachinery): an optional DNS-subdomain prefix and a name. */
export const CONDITION_TYPE_PATTERN =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$';

export const Condition = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      maxLength: 316,
      pattern: CONDITION_TYPE_PATTERN,
      description: 'Condition type (CamelCase): Running, Suspended, Succeeded, Failed (the contract of the status; wait on them with kubectl wait --for=condition=Succeeded).',
    }),
    status: StringEnum(['True', 'False', 'Unknown'] as const, { description: 'True, False or Unknown.' }),
    reason: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$', description: 'CamelCase reason.' }),
    message: Type.String({ maxLength: 32768, description: 'Human-readable details.' }),
    lastTransitionTime: Type.String({ format: 'date-time', description: 'When status last changed.' }),
    observedGeneration: Type.Optional(Type.Integer({ minimum: 0, description: 'Generation the condition was set for.' })),
  },
  { description: 'metav1.Condition: the contract of the status; phase summarises the conditions.' },
);
export type Condition = Static<typeof Condition>;

export const Conditions = Type.Array(Condition, {
  maxItems: 16,
  description: 'Observations of the object\'s state.',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
});

export const PodCounts = Type.Object(
  {
    total: Type.Integer({ minimum: 0, description: 'Rollouts asked for (tasks x samples).' }),
    pending: Type.Integer({ minimum: 0, description: 'Not started yet.' }),
    running: Type.Integer({ minimum: 0, description: 'In flight: created and not finished yet.' }),
    completed: Type.Integer({ minimum: 0, description: 'Ended with a trajectory (finished or cut off).' }),
    failed: Type.Integer({ minimum: 0, description: 'Lost to infrastructure after every retry (no sample).' }),
    retries: Type.Integer({ minimum: 0, description: 'Pods recreated after infrastructure failures.' }),
    resolved: Type.Integer({ minimum: 0, description: 'Completed rollouts that resolved their task.' }),
    finished: Type.Integer({ minimum: 0, description: 'Completed rollouts the agent ended itself.' }),
  },
  { description: 'Rollout counts.' },
);

export const PassAtK = Type.Array(
  Type.Object({ k: Type.Integer({ minimum: 1, description: 'k.' }), value: Type.Number({ minimum: 0, maximum: 1, description: 'Value at k.' }) }, { description: 'A value at k.' }),
  { maxItems: 1024, description: 'Values for k = 1..N.' },
);

/** Evaluation metrics of docs/method.md section 9. */
export const EvalMetrics = Type.Object(
  {
    pass1: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Resolve rate (mean over samples).' })),
    passAtN: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Unbiased pass@N.' })),
    bestAtN: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Resolve rate of the selector\'s pick.' })),
    oracleGap: Type.Optional(Type.Number({ description: 'pass@N - best@N.' })),
    passAtK: Type.Optional(PassAtK),
    bestAtK: Type.Optional(PassAtK),
    selectionAccuracy: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Picks that resolved among tasks with any resolved candidate.' })),
    distinctPatchesPerTask: Type.Optional(Type.Number({ minimum: 0, description: 'Mean distinct final patches per task.' })),
    finishedRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Share of rollouts the agent ended itself.' })),
    meanSteps: Type.Optional(Type.Number({ minimum: 0, description: 'Mean steps per rollout.' })),
  },
  { description: 'Evaluation metrics.' },
);
export type EvalMetrics = Static<typeof EvalMetrics>;

/** Training metrics of docs/method.md section 9 (last step of an iteration's update). */
export const TrainMetrics = Type.Object(
  {
    loss: Type.Optional(Type.Number({ description: 'Final training loss.' })),
    rewardMargin: Type.Optional(Type.Number({ description: 'Mean implicit-reward margin, chosen - rejected (or desirable - undesirable).' })),
    z0: Type.Optional(Type.Number({ description: 'KTO reference point.' })),
    entropy: Type.Optional(Type.Number({ description: 'Mean policy token entropy over assistant tokens (nats).' })),
    klToReference: Type.Optional(Type.Number({ description: 'Mean per-token KL to the reference (nats).' })),
    gradNorm: Type.Optional(Type.Number({ minimum: 0, description: 'Gradient norm before clipping.' })),
    tokensPerSecond: Type.Optional(Type.Number({ minimum: 0, description: 'Training throughput.' })),
    examples: Type.Optional(Type.Integer({ minimum: 0, description: 'Preference examples (KTO) or pairs (DPO) trained on.' })),
    steps: Type.Optional(Type.Integer({ minimum: 0, description: 'Optimizer steps taken (all epochs; a resumed trainer counts those before the restart too).' })),
    backend: Type.Optional(Type.String({ maxLength: 64, description: 'The tfjs backend the update ran on: tfjs-node-gpu, tfjs-node, wasm or cpu.' })),
  },
  { description: 'Training metrics.' },
);
export type TrainMetrics = Static<typeof TrainMetrics>;

export const CommonStatusFields = {
  phase: Type.Optional(
    StringEnum(Phases, {
      description: 'Summary of the conditions for humans and printer columns: Pending, Running, Succeeded, Failed or Suspended. Clients should read conditions.',
    }),
  ),
  conditions: Type.Optional(Conditions),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, description: 'metadata.generation last reconciled.' })),
  startTime: Type.Optional(Type.String({ format: 'date-time', description: 'When work started.' })),
  completionTime: Type.Optional(Type.String({ format: 'date-time', description: 'When the object finished.' })),
  message: Type.Optional(Type.String({ maxLength: 4096, description: 'Why the object is in its phase.' })),
};
