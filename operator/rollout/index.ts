/**
 * Rollouts: the public surface for local mode, the reconcilers and the sandbox Pod entry point.
 * (Grading lives in ./grading.)
 */
export { runRollout, runRolloutDetailed, clientFor, type RolloutAssignment, type Endpoint, type RolloutDeps, type RolloutOutcome, type RolloutPhases, type Evaluate } from './rollout.ts';
export { runBatch, mapPool, predictions, summaryRows, formatSummaryTable, type BatchOptions, type BatchResult, type SwePrediction, type TaskRow } from './batch.ts';
export { resolveSandboxInputs, sandboxEnv, defaultTrajectoryKey, AssignmentError, type SandboxInputs, type SandboxCliOptions } from './assignment.ts';
export { runSandbox, pickTask, EXIT_SAMPLE, EXIT_CONFIG, EXIT_NO_SAMPLE, type SandboxRunResult } from './pod-entry.ts';
export { Sandbox, SandboxError, PatchTooLargeError, MAX_PATCH_BYTES, cleanupOnSignals, type SandboxOptions } from './sandbox/sandbox.ts';
export { ISOLATIONS, defaultIsolation, isolationWorks, type Isolation } from './sandbox/isolation.ts';
export { DEFAULT_LIMITS, type ResourceLimits } from './sandbox/limits.ts';
export { Toolbox, type ToolResult, type ToolHost } from './tools/toolbox.ts';
export { TOOLS, TOOL_NAMES, type FunctionTool, type ToolName } from './tools/schemas.ts';
export { runAgent, type AgentOptions, type AgentResult } from './agent/loop.ts';
export { parseTextToolCalls, toolsPrompt, toolResponses } from './agent/text-format.ts';
export { patchHash, samplingParams, trajectoryId, isSample, NO_SAMPLE_EXITS, TRAJECTORY_SCHEMA } from './trajectory.ts';
export { runAgentStage, runGradingStage, gradingTimeoutOf, type AgentStageResult, type AgentStageOptions } from './rollout.ts';
export { resolvePhaseInputs, SANDBOX_PHASES, DEFAULT_WORKSPACE, DEFAULT_HIDDEN, type Phase, type PrepareInputs, type AgentPhaseInputs, type GradePhaseInputs, type PhaseCliOptions } from './assignment.ts';
export * from './phases/index.ts';
