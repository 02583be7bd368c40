/**
 * The `entropo` command. Each subcommand lives in operator/cli/commands/<name>.ts and exports
 * register(program); this file only assembles them.
 */
import { Command } from 'commander';
import { runProgram } from './run-program.ts';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerValidate } from './commands/validate.ts';
import { registerGenerate } from './commands/generate.ts';
import { registerOperator } from './commands/operator.ts';
import { registerSandbox } from './commands/sandbox.ts';
import { registerRollout } from './commands/rollout.ts';
import { registerVerifier } from './commands/verifier.ts';
import { registerTrain } from './commands/train.ts';
import { registerVersion } from './commands/version.ts';
import { registerPolicy } from './commands/policy.ts';
import { registerServe } from './commands/serve.ts';
import { registerBuildSuite } from './commands/build-suite.ts';
import { registerRun } from './commands/run.ts';
import { registerTrainJob } from './commands/train-job.ts';
import { registerGrade } from './commands/grade.ts';
import { registerEvaluate } from './commands/evaluate.ts';

/** The package's own package.json: two levels up from the sources, three from dist/. */
function packageJson(): { version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
}
const pkg = packageJson();

export function buildProgram(): Command {
  const program = new Command('entropo')
    .description('EntroPO operator: train LLM coding agents with entropy-regularized multi-turn preference optimization')
    .version(pkg.version)
    .showHelpAfterError()
    .exitOverride();
  registerValidate(program);
  registerGenerate(program);
  registerOperator(program);
  registerSandbox(program);
  registerRollout(program);
  registerVerifier(program);
  registerTrain(program);
  registerVersion(program, pkg.version);
  registerPolicy(program);
  registerServe(program);
  registerBuildSuite(program);
  registerRun(program);
  registerTrainJob(program);
  registerGrade(program);
  registerEvaluate(program);
  return program;
}

export async function main(argv = process.argv): Promise<number> {
  return runProgram(buildProgram(), argv);
}

process.exitCode = await main();
