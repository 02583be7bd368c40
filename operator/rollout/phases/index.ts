/** The sandbox's phases: prepare, agent, prepare-grading, grade (each its own process or container). */
export { runPreparePhase } from './prepare.ts';
export { runAgentPhase, type AgentHandOff } from './agent.ts';
export { runPrepareGradingPhase } from './prepare-grading.ts';
export { runGradePhase } from './grade.ts';
export { agentView, gradingMaterial, checkAgentView, AGENT_VIEW_SCHEMA, type AgentTaskView } from './view.ts';
export { viewFile, repoDirOf, outDirOf, agentRecordFile, patchFile, gradingFile } from './files.ts';
export { EXIT_SAMPLE, EXIT_CONFIG, EXIT_NO_SAMPLE, type PhaseResult } from './result.ts';
