/**
 * `entropo sandbox`: one rollout in one process (the assignment from options or environment
 * variables, operator/rollout/assignment.ts lists them; the trajectory to the artifact store, the
 * summary to the termination-message file and stdout), and its phases as separate processes, what a
 * sandbox Pod's containers (and local mode's processes) run in order:
 * `entropo sandbox prepare | agent | prepare-grading | grade` (operator/rollout/phases/).
 */
import type { Command } from 'commander';
import { AssignmentError, resolvePhaseInputs, resolveSandboxInputs, type PhaseCliOptions, type SandboxCliOptions } from '../../rollout/assignment.ts';
import { runAgentPhase, runGradePhase, runPrepareGradingPhase, runPreparePhase, type PhaseResult } from '../../rollout/phases/index.ts';
import { EXIT_CONFIG, runSandbox } from '../../rollout/pod-entry.ts';
import { cleanupOnSignals } from '../../rollout/sandbox/sandbox.ts';

export function registerSandbox(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description('run one rollout (task x sample) in this sandbox: trajectory to the store, summary to the termination log')
    .option('--task-file <file>', 'task record: a JSON file or JSONL (ENTROPO_TASK_FILE)')
    .option('--task-key <key>', 'store key of the task file (ENTROPO_TASK_KEY)')
    .option('--task-id <id>', 'instance_id of the task in a multi-task file (ENTROPO_TASK_ID)')
    .option('--sample <n>', 'sample index (ENTROPO_SAMPLE, default 0)')
    .option('--run <name>', 'run part of the trajectory id (ENTROPO_RUN, default "local")')
    .option('--source <json>', 'owning object {kind,namespace,name,iteration} (ENTROPO_SOURCE)')
    .option('--endpoint <url>', 'OpenAI-compatible base URL (ENTROPO_ENDPOINT, OPENAI_BASE_URL); key from ENTROPO_API_KEY / OPENAI_API_KEY')
    .option('--model <name>', 'model name (ENTROPO_MODEL)')
    .option('--sampling <json>', 'Sampling spec as JSON (ENTROPO_SAMPLING)')
    .option('--limits <json>', 'RolloutLimits spec as JSON (ENTROPO_LIMITS)')
    .option('--store <uri>', 'artifact store URI (ENTROPO_STORE_URI)')
    .option('--trajectory-key <key>', 'store key of the trajectory (ENTROPO_TRAJECTORY_KEY)')
    .option('--termination-log <file>', 'summary file (ENTROPO_TERMINATION_LOG, default /dev/termination-log)')
    .option('--isolation <mode>', 'auto | bwrap | unshare | none (ENTROPO_SANDBOX_ISOLATION; auto: none in a Pod)')
    .option('--repo-dir <dir>', 'SWE-bench: repository checkout in the image (ENTROPO_REPO_DIR, default /testbed)')
    .option('--grading-timeout <s>', 'seconds for the grading test run (ENTROPO_GRADING_TIMEOUT)')
    .action(async (opts: SandboxCliOptions) => {
      let inputs;
      try {
        inputs = resolveSandboxInputs(opts, process.env);
      } catch (e) {
        if (!(e instanceof AssignmentError)) throw e;
        console.error(`entropo sandbox: ${e.message}`);
        process.exitCode = EXIT_CONFIG;
        return;
      }
      cleanupOnSignals();
      const r = await runSandbox(inputs);
      console.log(r.encoded);
      process.exitCode = r.exitCode;
    });
  registerPhases(sandbox);
}

const PHASE_HELP: Record<'prepare' | 'agent' | 'prepare-grading' | 'grade', string> = {
  prepare: "write the agent's view of the task (<workspace>/task.json) and, for a self-contained task, its work tree (<workspace>/repo)",
  agent: 'run the agent in the work tree; no task record or store: writes <workspace>/out/agent.json and patch.diff',
  'prepare-grading': 'write the grading material (the task without its gold patch) to <hidden>/task.json',
  grade: "grade the agent's patch on a fresh copy: trajectory to the store, summary to the termination log",
};

function registerPhases(sandbox: Command): void {
  for (const phase of ['prepare', 'agent', 'prepare-grading', 'grade'] as const) {
    const c = sandbox.command(phase).description(PHASE_HELP[phase]);
    c.option('--workspace <dir>', 'workspace volume (ENTROPO_WORKSPACE, default /workspace)');
    if (phase !== 'agent') c.option('--hidden <dir>', 'grading volume (ENTROPO_HIDDEN, default /hidden)');
    if (phase === 'prepare' || phase === 'prepare-grading') {
      c.option('--task-file <file>', 'task record (ENTROPO_TASK_FILE)').option('--task-key <key>', 'store key of the task file (ENTROPO_TASK_KEY)');
      c.option('--task-id <id>', 'instance_id in a multi-task file (ENTROPO_TASK_ID)');
    }
    c.option('--repo-dir <dir>', 'SWE-bench checkout in the task image (ENTROPO_REPO_DIR, default /testbed)');
    if (phase !== 'agent') c.option('--store <uri>', 'artifact store URI (ENTROPO_STORE_URI)');
    if (phase === 'agent' || phase === 'grade') {
      c.option('--sample <n>', 'sample index (ENTROPO_SAMPLE)').option('--run <name>', 'run part of the trajectory id (ENTROPO_RUN)');
      c.option('--termination-log <file>', 'summary file (ENTROPO_TERMINATION_LOG)');
    }
    if (phase === 'agent') {
      c.option('--source <json>', 'owning object (ENTROPO_SOURCE)').option('--endpoint <url>', 'OpenAI-compatible base URL (ENTROPO_ENDPOINT); key from ENTROPO_API_KEY');
      c.option('--model <name>', 'model name (ENTROPO_MODEL)').option('--sampling <json>', 'Sampling spec (ENTROPO_SAMPLING)').option('--limits <json>', 'RolloutLimits spec (ENTROPO_LIMITS)');
      c.option('--isolation <mode>', 'auto | bwrap | unshare | none (ENTROPO_SANDBOX_ISOLATION)').option('--user <uid>', "uid the agent's commands run as (ENTROPO_SANDBOX_USER)");
    }
    if (phase === 'grade') {
      c.option('--trajectory-key <key>', 'store key of the trajectory (ENTROPO_TRAJECTORY_KEY)').option('--grading-timeout <s>', 'seconds for the test run (ENTROPO_GRADING_TIMEOUT)');
    }
    c.action(async (opts: PhaseCliOptions) => {
      let r: PhaseResult;
      try {
        cleanupOnSignals();
        if (phase === 'prepare') r = await runPreparePhase(resolvePhaseInputs(phase, opts, process.env));
        else if (phase === 'prepare-grading') r = await runPrepareGradingPhase(resolvePhaseInputs(phase, opts, process.env));
        else if (phase === 'agent') r = await runAgentPhase(resolvePhaseInputs(phase, opts, process.env));
        else r = await runGradePhase(resolvePhaseInputs(phase, opts, process.env));
      } catch (e) {
        if (!(e instanceof AssignmentError)) throw e;
        console.error(`entropo sandbox ${phase}: ${e.message}`);
        process.exitCode = EXIT_CONFIG;
        return;
      }
      (r.exitCode === 0 ? console.log : console.error)(r.exitCode === 0 ? r.message : `entropo sandbox ${phase}: ${r.message}`);
      process.exitCode = r.exitCode;
    });
  }
}
