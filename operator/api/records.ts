/**
 * Data records that travel between the parts of the pipeline: tasks, trajectories, the rollout
 * summary a sandbox Pod writes to its termination message, and preference examples.
 * The trajectory record is the same everywhere: sandbox, store, trainer, selector, local mode.
 */
import { Type, StringEnum, type Static } from './schema.ts';

// ---------------------------------------------------------------------------------------------
// Tasks (SWE-bench's fields)

/** SWE-bench lists arrive as JSON arrays or as JSON-encoded strings (the HF datasets form). */
const TestIdList = (description: string) =>
  Type.Array(Type.String({ minLength: 1 }), { description });

export const TestFrameworks = ['pytest', 'unittest', 'node'] as const;
export type TestFramework = (typeof TestFrameworks)[number];

/**
 * Where a SWE-bench task's repository is checked out on this machine and which environment runs
 * its tests (issue 18): a field of the task record (`environment`) or an entry of an environments
 * file (operator/tasks/environments.ts) keyed by repo and version. The checkout is only read: every
 * rollout and every grading run works in a clone of it. Paths are absolute, or relative to the
 * file that names them.
 */
export const TaskEnvironment = Type.Object(
  {
    checkout: Type.Optional(Type.String({ minLength: 1, description: 'A git checkout of the repository holding base_commit (never modified: cloned per rollout).' })),
    python: Type.Optional(Type.String({ minLength: 1, description: 'A virtual environment directory (with pyvenv.cfg) or a Python interpreter; its bin directory goes first on PATH.' })),
    path: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Directories put on PATH (after python\'s), shown read-only in the sandbox.' })),
    env: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Environment variables of the agent\'s commands and of the test run.' })),
    setup: Type.Optional(Type.String({ minLength: 1, description: 'Shell command run in each fresh clone before the agent starts and before grading (e.g. building extensions in place); what it creates is kept out of the patch.' })),
    test_command: Type.Optional(Type.String({ minLength: 1, description: 'Test command for tasks that carry none (the SWE-bench harness keeps it per repo and version).' })),
  },
  { additionalProperties: false },
);
export type TaskEnvironment = Static<typeof TaskEnvironment>;

/** A task environment with every path absolute and PATH worked out (operator/tasks/environments.ts resolveEnvironment). */
export interface ResolvedEnvironment {
  /** The user's checkout (read only). */
  checkout?: string;
  /** Directories to put first on PATH, in order. */
  pathEntries: string[];
  /** Variables for commands and test runs (VIRTUAL_ENV included for a venv). */
  env: Record<string, string>;
  setup?: string;
  testCommand?: string;
  /** Directories the sandbox must show read-only at their own paths (the venv, its base interpreter, PATH entries). */
  readOnlyDirs: string[];
  /** Where it came from, for messages: "environments.yaml: python-attrs/attrs 23.1", "task record". */
  origin: string;
}

/** A task in SWE-bench format: per-instance image, repository at base_commit. */
export const SweBenchTask = Type.Object(
  {
    instance_id: Type.String({ minLength: 1, description: 'Unique task id, e.g. "django__django-11099".' }),
    repo: Type.String({ minLength: 1, description: 'Repository, "owner/name".' }),
    base_commit: Type.String({ minLength: 1, description: 'Commit the task starts from.' }),
    problem_statement: Type.String({ minLength: 1, description: 'The issue text given to the agent.' }),
    patch: Type.String({ description: 'Gold patch (never shown to the agent).' }),
    test_patch: Type.String({ description: 'Patch adding the hidden grading tests.' }),
    FAIL_TO_PASS: TestIdList('Hidden tests that must go from failing to passing.'),
    PASS_TO_PASS: TestIdList('Existing tests that must keep passing (regression tests).'),
    version: Type.Optional(Type.String()),
    environment_setup_commit: Type.Optional(Type.String()),
    created_at: Type.Optional(Type.String()),
    hints_text: Type.Optional(Type.String()),
    image: Type.Optional(Type.String({ description: 'Sandbox image; default sweb.eval.x86_64.<instance_id>.' })),
    test_command: Type.Optional(Type.String({ description: 'Command running the tests; default by framework.' })),
    test_framework: Type.Optional(StringEnum(TestFrameworks)),
    environment: Type.Optional(TaskEnvironment),
  },
  { additionalProperties: true },
);
export type SweBenchTask = Static<typeof SweBenchTask>;

/** A self-contained task: carries its own files and test command, no per-instance image. */
export const SelfContainedTask = Type.Object(
  {
    instance_id: Type.String({ minLength: 1 }),
    repo: Type.String({ minLength: 1, description: 'Name of the library the task is about.' }),
    problem_statement: Type.String({ minLength: 1 }),
    language: StringEnum(['python', 'javascript'] as const),
    files: Type.Record(Type.String(), Type.String(), {
      description: 'Repository contents at the base state: relative path -> file text.',
    }),
    patch: Type.String({ description: 'Gold patch (unified diff against files).' }),
    test_patch: Type.String({ description: 'Patch adding the hidden grading tests; may be empty.' }),
    test_command: Type.String({ minLength: 1, description: 'Command that runs the tests, from the work tree root.' }),
    test_framework: StringEnum(TestFrameworks),
    FAIL_TO_PASS: TestIdList('Hidden tests that must go from failing to passing.'),
    PASS_TO_PASS: TestIdList('Existing tests that must keep passing.'),
    split: Type.Optional(StringEnum(['train', 'eval'] as const)),
    difficulty: Type.Optional(StringEnum(['easy', 'medium', 'hard'] as const)),
  },
  { additionalProperties: true },
);
export type SelfContainedTask = Static<typeof SelfContainedTask>;

export type TaskRecord = SweBenchTask | SelfContainedTask;
export const isSelfContained = (t: TaskRecord): t is SelfContainedTask =>
  typeof (t as SelfContainedTask).files === 'object' && (t as SelfContainedTask).files !== null;

// ---------------------------------------------------------------------------------------------
// Chat messages (OpenAI format)

export const ToolCall = Type.Object({
  id: Type.String(),
  type: Type.Literal('function'),
  function: Type.Object({ name: Type.String(), arguments: Type.String({ description: 'JSON string.' }) }),
});
export type ToolCall = Static<typeof ToolCall>;

export const ChatMessage = Type.Object(
  {
    role: StringEnum(['system', 'user', 'assistant', 'tool'] as const),
    content: Type.Union([Type.String(), Type.Null()]),
    tool_calls: Type.Optional(Type.Array(ToolCall)),
    tool_call_id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type ChatMessage = Static<typeof ChatMessage>;

// ---------------------------------------------------------------------------------------------
// Trajectories

export const ExitReasons = [
  'finished', // the agent called finish (or stopped with no tool call): ended on its own
  'max_steps',
  'max_tokens',
  'timeout',
  'context_length',
  'model_error',
  'sandbox_error', // infrastructure: no sample, retry
] as const;
export type ExitReason = (typeof ExitReasons)[number];

/**
 * Exit reasons that yield no sample: the infrastructure failed (the sandbox, or the policy
 * endpoint after the client's retries). Such trajectories are retried, never counted as reward 0
 * and never training data in any objective (SFT, KTO, DPO), whatever their `finished` flag says.
 * context_length is a sample: the agent's conversation outgrew the model, like max_tokens.
 */
export const NO_SAMPLE_EXITS: readonly ExitReason[] = ['sandbox_error', 'model_error'];
/** True when the record is a sample (the one predicate every consumer uses). */
export const isSample = (t: Pick<TrajectoryRecord, 'exitReason'>): boolean => !NO_SAMPLE_EXITS.includes(t.exitReason);

export const TestOutcome = Type.Object({
  passed: Type.Array(Type.String(), { description: 'Test ids that passed.' }),
  failed: Type.Array(Type.String(), { description: 'Test ids that failed, errored or were missing from the log.' }),
});
export type TestOutcome = Static<typeof TestOutcome>;

export const SamplingParams = Type.Object({
  temperature: Type.Number(),
  top_p: Type.Number(),
  top_k: Type.Integer(),
  max_tokens: Type.Optional(Type.Integer()),
  seed: Type.Optional(Type.Integer()),
});
export type SamplingParams = Static<typeof SamplingParams>;

export const StepTiming = Type.Object({
  step: Type.Integer({ minimum: 1 }),
  modelSeconds: Type.Number({ minimum: 0 }),
  toolSeconds: Type.Number({ minimum: 0 }),
  tool: Type.Optional(Type.String()),
});
export type StepTiming = Static<typeof StepTiming>;

export const TrajectoryRecord = Type.Object({
  schema: Type.Literal('entropo.dev/trajectory/v1'),
  id: Type.String({ minLength: 1, description: 'Stable id: <taskId>/<sample>/<run uid or batch name>.' }),
  taskId: Type.String({ minLength: 1 }),
  sample: Type.Integer({ minimum: 0 }),
  source: Type.Optional(
    Type.Object({
      kind: Type.String(),
      namespace: Type.String(),
      name: Type.String(),
      iteration: Type.Optional(Type.Integer({ minimum: 0 })),
    }),
  ),
  model: Type.String(),
  sampling: SamplingParams,
  tools: Type.Optional(Type.Array(Type.Unknown(), { description: 'Tool schemas offered to the model.' })),
  messages: Type.Array(ChatMessage),
  exitReason: StringEnum(ExitReasons),
  finished: Type.Boolean({ description: 'The agent ended on its own (not cut off by a limit).' }),
  steps: Type.Integer({ minimum: 0 }),
  usage: Type.Object({
    promptTokens: Type.Integer({ minimum: 0 }),
    completionTokens: Type.Integer({ minimum: 0 }),
    totalTokens: Type.Integer({ minimum: 0 }),
  }),
  timings: Type.Array(StepTiming),
  startedAt: Type.String({ description: 'RFC 3339.' }),
  durationSeconds: Type.Number({ minimum: 0 }),
  patch: Type.String({ description: 'Final patch: git diff of the work tree against the base state.' }),
  patchHash: Type.String({ description: 'sha256 of the normalised patch (empty patch: hash of "").' }),
  regression: TestOutcome,
  reproduction: Type.Optional(
    Type.Object({
      passed: Type.Integer({ minimum: 0 }),
      total: Type.Integer({ minimum: 0 }),
    }, { description: 'Tests the agent wrote itself, run on its final patch.' }),
  ),
  hidden: TestOutcome,
  resolved: Type.Boolean({ description: 'Every FAIL_TO_PASS and every PASS_TO_PASS test passed.' }),
  reward: Type.Number({ minimum: 0, maximum: 1 }),
  error: Type.Optional(Type.String()),
  tokenLogprobs: Type.Optional(
    Type.Array(Type.Array(Type.Number()), { description: 'Per assistant turn, the sampled tokens\' log-probs.' }),
  ),
  verifierScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
});
export type TrajectoryRecord = Static<typeof TrajectoryRecord>;

// ---------------------------------------------------------------------------------------------
// Rollout summary: what a sandbox Pod writes to its termination message (<= 4 KiB JSON).

export const TERMINATION_MESSAGE_LIMIT = 4096;

export const RolloutSummary = Type.Object({
  v: Type.Literal(1),
  task: Type.String(),
  sample: Type.Integer({ minimum: 0 }),
  trajectory: Type.String({ description: 'Trajectory id.' }),
  key: Type.String({ description: 'Artifact-store key of the full trajectory.' }),
  finished: Type.Boolean(),
  exit: StringEnum(ExitReasons),
  steps: Type.Integer({ minimum: 0 }),
  tokens: Type.Integer({ minimum: 0 }),
  seconds: Type.Number({ minimum: 0 }),
  patchHash: Type.String(),
  regression: Type.Object({ passed: Type.Integer({ minimum: 0 }), failed: Type.Integer({ minimum: 0 }) }),
  hidden: Type.Object({ passed: Type.Integer({ minimum: 0 }), failed: Type.Integer({ minimum: 0 }) }),
  reproduction: Type.Optional(Type.Object({ passed: Type.Integer({ minimum: 0 }), total: Type.Integer({ minimum: 0 }) }, { description: 'Tests the agent wrote itself, on its final patch.' })),
  resolved: Type.Boolean(),
  reward: Type.Number({ minimum: 0, maximum: 1 }),
  error: Type.Optional(Type.String()),
});
export type RolloutSummary = Static<typeof RolloutSummary>;

// ---------------------------------------------------------------------------------------------
// Preference examples, and their TRL export forms.

export const PromptMessages = Type.Array(ChatMessage, { description: 'System prompt + issue.' });

export const DpoExample = Type.Object({
  type: Type.Literal('dpo'),
  taskId: Type.String(),
  prompt: PromptMessages,
  chosen: Type.Array(ChatMessage, { description: 'Every turn after the prompt of the resolved trajectory.' }),
  rejected: Type.Array(ChatMessage),
  chosenId: Type.String(),
  rejectedId: Type.String(),
});
export type DpoExample = Static<typeof DpoExample>;

export const KtoExample = Type.Object({
  type: Type.Literal('kto'),
  taskId: Type.String(),
  prompt: PromptMessages,
  completion: Type.Array(ChatMessage),
  label: Type.Boolean({ description: 'true: desirable (resolved).' }),
  trajectoryId: Type.String(),
});
export type KtoExample = Static<typeof KtoExample>;

export type PreferenceExample = DpoExample | KtoExample;

/** TRL's conversational DPO row: {prompt, chosen, rejected}. */
export interface TrlDpoRow {
  prompt: ChatMessage[];
  chosen: ChatMessage[];
  rejected: ChatMessage[];
}
/** TRL's conversational KTO row: {prompt, completion, label}. */
export interface TrlKtoRow {
  prompt: ChatMessage[];
  completion: ChatMessage[];
  label: boolean;
}

export function toTrl(example: DpoExample): TrlDpoRow;
export function toTrl(example: KtoExample): TrlKtoRow;
export function toTrl(example: PreferenceExample): TrlDpoRow | TrlKtoRow;
export function toTrl(example: PreferenceExample): TrlDpoRow | TrlKtoRow {
  return example.type === 'dpo'
    ? { prompt: example.prompt, chosen: example.chosen, rejected: example.rejected }
    : { prompt: example.prompt, completion: example.completion, label: example.label };
}
