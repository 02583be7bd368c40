/**
 * The three custom resources: TrainingRun, RolloutBatch, EvalSuite (entropo.dev/v1alpha1).
 * These schemas are the one source of the TypeScript types, the CRD YAML in crds/ and the
 * validation of local mode.
 */
import { Type, StringEnum, withRules, type Static, type TSchema } from './schema.ts';
import {
  CommonStatusFields,
  EvalMetrics,
  ModelRef,
  PodCounts,
  Preference,
  RolloutLimits,
  RunPolicyFields,
  Sampling,
  Sandbox,
  Selection,
  Storage,
  TaskSource,
  Training,
  TrainMetrics,
  Verifier,
  VerifierNeeded,
  Resources,
} from './common.ts';

const Metadata = Type.Object(
  {
    name: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
    generation: Type.Optional(Type.Integer()),
    uid: Type.Optional(Type.String()),
    resourceVersion: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
    creationTimestamp: Type.Optional(Type.String()),
    deletionTimestamp: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  schema: TSchema;
  printerColumns: { name: string; type: string; jsonPath: string; description: string; format?: string; priority?: number }[];
}

const samplesPerTask = (dflt: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: 256, default: dflt, description });

const parallelism = Type.Integer({
  minimum: 1,
  maximum: 10000,
  default: 16,
  description: 'Sandbox Pods running at once.',
});

// ---- RolloutBatch ---------------------------------------------------------------------------

export const RolloutBatchSpec = Type.Object(
  {
    policy: ModelRef,
    tasks: TaskSource,
    samplesPerTask: samplesPerTask(1, 'Rollouts per task (one sandbox Pod each).'),
    sampling: Sampling,
    limits: RolloutLimits,
    sandbox: Sandbox,
    parallelism,
    storage: Storage,
    ...RunPolicyFields,
  },
  { description: 'One batch of rollouts of one policy over a task set.' },
);

export const RolloutBatchStatus = Type.Object(
  {
    ...CommonStatusFields,
    counts: Type.Optional(PodCounts),
    resolveRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Resolved / completed rollouts (pass@1).' })),
    completedIndexes: Type.Optional(Type.String({ description: 'Slots (taskIndex * samplesPerTask + sample) with a sample, as an Indexed Job\'s list, e.g. "0-3,5".' })),
    failedIndexes: Type.Optional(Type.String({ description: 'Slots that gave up after backoffLimit retries (no sample), same format.' })),
    records: Type.Optional(Type.String({ description: 'Store prefix of the attempt records (one JSON per finished sandbox, written before it is deleted).' })),
    trajectories: Type.Optional(Type.String({ description: 'Store key of the batch\'s trajectories (JSONL).' })),
    predictions: Type.Optional(Type.String({ description: 'Store key of the SWE-bench predictions JSONL (sample 0 of each task).' })),
  },
  { description: 'Observed state of the RolloutBatch.' },
);

export const RolloutBatch = Type.Object({
  apiVersion: Type.Literal('entropo.dev/v1alpha1'),
  kind: Type.Literal('RolloutBatch'),
  metadata: Metadata,
  spec: RolloutBatchSpec,
  status: Type.Optional(RolloutBatchStatus),
});
export type RolloutBatch = Static<typeof RolloutBatch>;
export type RolloutBatchSpec = Static<typeof RolloutBatchSpec>;
export type RolloutBatchStatus = Static<typeof RolloutBatchStatus>;

// ---- EvalSuite ------------------------------------------------------------------------------

export const TaskSelection = Type.Object(
  {
    task: Type.String({ description: 'Task id.' }),
    selected: Type.String({ description: 'Id of the selected trajectory.' }),
    decidedBy: Type.String({ description: 'Step type that decided, or OnlyCandidate (one from the start) or TieBreak (several left after the last step).' }),
    survivors: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 17, description: 'Candidates left after each step, starting with N.' }),
    resolved: Type.Optional(Type.Boolean({ description: 'Whether the pick resolved the task (graded after selection).' })),
  },
  { description: 'The selection for one task, with its explanation.' },
);

export const EvalSuiteSpec = withRules(
  Type.Object(
  {
    policy: ModelRef,
    tasks: TaskSource,
    samplesPerTask: samplesPerTask(16, 'N: candidates per task for test-time scaling (paper: 16).'),
    sampling: Sampling,
    limits: RolloutLimits,
    sandbox: Sandbox,
    parallelism,
    selection: Selection,
    verifier: Type.Optional(Verifier),
    storage: Storage,
    ...RunPolicyFields,
  },
  { description: 'Evaluate one policy on a task set with test-time scaling and hybrid selection.' },
  ),
  [VerifierNeeded],
);

export const EvalSuiteStatus = Type.Object(
  {
    ...CommonStatusFields,
    counts: Type.Optional(PodCounts),
    completedIndexes: Type.Optional(Type.String({ description: 'Slots (taskIndex * samplesPerTask + sample) with a sample, as an Indexed Job\'s list, e.g. "0-3,5".' })),
    failedIndexes: Type.Optional(Type.String({ description: 'Slots that gave up after backoffLimit retries (no sample), same format.' })),
    records: Type.Optional(Type.String({ description: 'Store prefix of the attempt records (one JSON per finished sandbox, written before it is deleted).' })),
    metrics: Type.Optional(EvalMetrics),
    decidedBy: Type.Optional(
      Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'Tasks per selection step that decided the pick (Finished, Regression, VerifierThreshold, Steps, ..., OnlyCandidate, TieBreak).' }),
    ),
    trajectories: Type.Optional(Type.String({ description: 'Store key of the evaluation\'s trajectories (JSONL).' })),
    verifierScores: Type.Optional(Type.String({ description: 'Store key of the verifier scores (JSON, by trajectory id).' })),
    predictions: Type.Optional(Type.String({ description: 'Store key of the selected predictions (SWE-bench JSONL, one per task).' })),
    selections: Type.Optional(
      Type.Array(TaskSelection, {
        maxItems: 1000,
        description: 'Per-task selections with explanations (the first 100 tasks; all of them are in the store under results).',
      }),
    ),
    results: Type.Optional(Type.String({ description: 'Store key of the full results (selections, predictions JSONL).' })),
  },
  { description: 'Observed state of the EvalSuite.' },
);

export const EvalSuite = Type.Object({
  apiVersion: Type.Literal('entropo.dev/v1alpha1'),
  kind: Type.Literal('EvalSuite'),
  metadata: Metadata,
  spec: EvalSuiteSpec,
  status: Type.Optional(EvalSuiteStatus),
});
export type EvalSuite = Static<typeof EvalSuite>;
export type EvalSuiteSpec = Static<typeof EvalSuiteSpec>;
export type EvalSuiteStatus = Static<typeof EvalSuiteStatus>;

// ---- TrainingRun ----------------------------------------------------------------------------

export const TrainingRunSpec = withRules(
  Type.Object(
    {
      policy: ModelRef,
      reference: Type.Optional(ModelRef),
      iterations: Type.Integer({ minimum: 1, maximum: 100, default: 1, description: 'Iterations of rollout -> update -> evaluate.' }),
      tasks: TaskSource,
      rollout: Type.Object(
        {
          samplesPerTask: samplesPerTask(2, 'Rollouts per training task per iteration (DPO needs >= 2).'),
          sampling: Sampling,
          limits: RolloutLimits,
          sandbox: Sandbox,
          parallelism,
        },
        { description: 'Rollouts that produce the preference data of each iteration.', default: {} },
      ),
      preference: Preference,
      training: Training,
      evaluation: Type.Optional(
        withRules(
        Type.Object(
          {
            tasks: TaskSource,
            samplesPerTask: samplesPerTask(16, 'N for test-time scaling (paper: 16).'),
            every: Type.Integer({ minimum: 1, default: 1, description: 'Evaluate every this many iterations (and after the last).' }),
            selection: Selection,
            verifier: Type.Optional(Verifier),
          },
          { description: 'Evaluation after updates: an EvalSuite per evaluated iteration.' },
        ),
        [VerifierNeeded],
        ),
      ),
      serving: Type.Optional(
        Type.Object(
          {
            replicas: Type.Integer({ minimum: 1, maximum: 64, default: 1, description: 'Policy server replicas.' }),
            resources: Type.Optional(Resources),
          },
          { description: 'The operator\'s policy server (when policy.source is set).' },
        ),
      ),
      storage: Storage,
      ...RunPolicyFields,
    },
    { description: 'The whole EntroPO loop: iterations of rollout -> preference update -> evaluation.' },
  ),
  [
    {
      cel: "self.preference.algorithm != 'DPO' || self.rollout.samplesPerTask >= 2",
      message: 'preference.algorithm DPO needs rollout.samplesPerTask >= 2 (pairs come from two rollouts of a task)',
      fieldPath: '.rollout.samplesPerTask',
      check: (s: { preference: { algorithm: string }; rollout: { samplesPerTask: number } }) =>
        s.preference.algorithm !== 'DPO' || s.rollout.samplesPerTask >= 2,
    },
    {
      cel: '!has(self.policy.endpoint) || self.iterations == 1',
      message: 'a policy served by an external endpoint cannot be updated: iterations must be 1 (use policy.source to train)',
      fieldPath: '.iterations',
      check: (s: { policy: { endpoint?: unknown }; iterations: number }) => s.policy.endpoint === undefined || s.iterations === 1,
    },
  ],
);

export const IterationRecord = Type.Object(
  {
    iteration: Type.Integer({ minimum: 1, description: 'Iteration number, from 1.' }),
    phase: StringEnum(['Rollout', 'Training', 'Evaluating', 'Succeeded', 'Failed'] as const, { description: 'Stage of the iteration.' }),
    rolloutBatch: Type.Optional(Type.String({ description: 'Name of the iteration\'s RolloutBatch.' })),
    trainingJob: Type.Optional(Type.String({ description: 'Name of the iteration\'s trainer Job.' })),
    evalSuite: Type.Optional(Type.String({ description: 'Name of the iteration\'s EvalSuite.' })),
    checkpoint: Type.Optional(Type.String({ description: 'Store key of the checkpoint written by the update.' })),
    startTime: Type.Optional(Type.String({ format: 'date-time', description: 'Start.' })),
    completionTime: Type.Optional(Type.String({ format: 'date-time', description: 'End.' })),
    rolloutResolveRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Resolve rate of the training rollouts.' })),
    training: Type.Optional(TrainMetrics),
    evaluation: Type.Optional(EvalMetrics),
  },
  { description: 'One iteration of the loop.' },
);

export const TrainingRunStatus = Type.Object(
  {
    ...CommonStatusFields,
    iteration: Type.Optional(Type.Integer({ minimum: 0, description: 'Current iteration (0 before the first).' })),
    progress: Type.Optional(Type.String({ maxLength: 256, description: 'Where in the loop the run is, e.g. "2/3 Training step 40/120 loss 0.61 ETA 3m".' })),
    checkpoint: Type.Optional(Type.String({ description: 'Store key of the latest checkpoint.' })),
    metrics: Type.Optional(EvalMetrics),
    training: Type.Optional(TrainMetrics),
    history: Type.Optional(Type.Array(IterationRecord, { maxItems: 100, description: 'Per-iteration history.' })),
  },
  { description: 'Observed state of the TrainingRun.' },
);

/** Spec fields that cannot change once the run has left Pending (they define the experiment). */
const FROZEN_ONCE_STARTED = ['policy', 'reference', 'tasks', 'preference', 'training', 'rollout'] as const;

export const TrainingRun = withRules(
  Type.Object({
    apiVersion: Type.Literal('entropo.dev/v1alpha1'),
    kind: Type.Literal('TrainingRun'),
    metadata: Metadata,
    spec: TrainingRunSpec,
    status: Type.Optional(TrainingRunStatus),
  }),
  FROZEN_ONCE_STARTED.map((f) => ({
    cel:
      `!has(oldSelf.status) || !has(oldSelf.status.phase) || oldSelf.status.phase == 'Pending' || ` +
      `(has(self.spec.${f}) == has(oldSelf.spec.${f}) && (!has(self.spec.${f}) || self.spec.${f} == oldSelf.spec.${f}))`,
    message: `spec.${f} is immutable once the run has started`,
    fieldPath: `.spec.${f}`,
    transition: true,
    check: (self: { spec: Record<string, unknown> }, old?: { spec: Record<string, unknown>; status?: { phase?: string } }) =>
      !old?.status?.phase || old.status.phase === 'Pending' || JSON.stringify(self.spec[f]) === JSON.stringify(old.spec[f]),
  })),
);
export type TrainingRun = Static<typeof TrainingRun>;
export type TrainingRunSpec = Static<typeof TrainingRunSpec>;
export type TrainingRunStatus = Static<typeof TrainingRunStatus>;

// ---- registry -------------------------------------------------------------------------------

const age = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' };
const phase = { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Phase.' };

export const KINDS: KindInfo[] = [
  {
    kind: 'TrainingRun',
    plural: 'trainingruns',
    singular: 'trainingrun',
    shortNames: ['trun'],
    description: 'TrainingRun: iterations of rollout -> entropy-regularized preference update -> evaluation (EntroPO).',
    schema: TrainingRun,
    printerColumns: [
      phase,
      { name: 'Iteration', type: 'integer', jsonPath: '.status.iteration', description: 'Current iteration.' },
      { name: 'Progress', type: 'string', jsonPath: '.status.progress', description: 'Where in the loop the run is (iteration, stage, trainer step and ETA).' },
      { name: 'Pass@1', type: 'number', jsonPath: '.status.metrics.pass1', description: 'Latest evaluation pass@1.' },
      { name: 'Best@N', type: 'number', jsonPath: '.status.metrics.bestAtN', description: 'Latest evaluation best@N.' },
      { name: 'Of', type: 'integer', jsonPath: '.spec.iterations', description: 'Iterations asked for.', priority: 1 },
      { name: 'Algorithm', type: 'string', jsonPath: '.spec.preference.algorithm', description: 'KTO or DPO.', priority: 1 },
      { name: 'Entropy', type: 'number', jsonPath: '.status.training.entropy', description: 'Policy token entropy.', priority: 1 },
      age,
    ],
  },
  {
    kind: 'RolloutBatch',
    plural: 'rolloutbatches',
    singular: 'rolloutbatch',
    shortNames: ['rb'],
    description: 'RolloutBatch: rollouts of one policy over a task set, one sandbox Pod per task x sample.',
    schema: RolloutBatch,
    printerColumns: [
      phase,
      { name: 'Completed', type: 'integer', jsonPath: '.status.counts.completed', description: 'Rollouts with a trajectory.' },
      { name: 'Total', type: 'integer', jsonPath: '.status.counts.total', description: 'Rollouts asked for.' },
      { name: 'Resolved', type: 'number', jsonPath: '.status.resolveRate', description: 'Resolve rate (pass@1).' },
      { name: 'Model', type: 'string', jsonPath: '.spec.policy.name', description: 'Policy.', priority: 1 },
      age,
    ],
  },
  {
    kind: 'EvalSuite',
    plural: 'evalsuites',
    singular: 'evalsuite',
    shortNames: ['evs'],
    description: 'EvalSuite: evaluate a policy with N samples per task and hybrid best-trajectory selection.',
    schema: EvalSuite,
    printerColumns: [
      phase,
      { name: 'N', type: 'integer', jsonPath: '.spec.samplesPerTask', description: 'Samples per task.' },
      { name: 'Pass@1', type: 'number', jsonPath: '.status.metrics.pass1', description: 'pass@1.' },
      { name: 'Pass@N', type: 'number', jsonPath: '.status.metrics.passAtN', description: 'pass@N.' },
      { name: 'Best@N', type: 'number', jsonPath: '.status.metrics.bestAtN', description: 'best@N (selector).' },
      age,
    ],
  },
];
