/**
 * The agent runtime's entry point: `entropo sandbox` and its phases only, bundled into one file
 * (`npm run build:sandbox` -> dist-sandbox/entropo-sandbox.mjs) that a sandbox Pod's copy-runtime
 * init container copies into the task image next to the Node binary. The task image then runs
 * `/entropo/bin/node /entropo/sandbox/entropo-sandbox.mjs sandbox agent|grade` with no
 * node_modules: a copy of one Node binary and one script instead of the whole operator install
 * (tens of thousands of files, minutes per Pod on a busy node).
 */
import { Command } from 'commander';
import { runProgram } from './run-program.ts';
import { registerSandbox } from './commands/sandbox.ts';

/** Runs `entropo sandbox ...` from argv; resolves to the exit code (2: usage / invalid assignment). */
export async function sandboxMain(argv = process.argv): Promise<number> {
  const program = new Command('entropo').description('EntroPO agent runtime: one rollout in a sandbox').showHelpAfterError().exitOverride();
  registerSandbox(program);
  return runProgram(program, argv);
}

process.exitCode = await sandboxMain();
