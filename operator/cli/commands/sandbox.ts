/**
 * `entropo sandbox`: what a sandbox Pod runs. The assignment comes from options or environment
 * variables (operator/rollout/assignment.ts lists them); the trajectory goes to the artifact
 * store, the summary to the termination-message file and stdout.
 */
import type { Command } from 'commander';
import { AssignmentError, resolveSandboxInputs, type SandboxCliOptions } from '../../rollout/assignment.ts';
import { EXIT_CONFIG, runSandbox } from '../../rollout/pod-entry.ts';
import { cleanupOnSignals } from '../../rollout/sandbox/sandbox.ts';

export function registerSandbox(program: Command): void {
  program
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
}
