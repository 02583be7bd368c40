/**
 * The `entropo` command. Each subcommand lives in operator/cli/commands/<name>.ts and exports
 * register(program); this file only assembles them.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerValidate } from './commands/validate.ts';
import { registerGenerate } from './commands/generate.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('entropo')
    .description('EntroPO operator: train LLM coding agents with entropy-regularized multi-turn preference optimization')
    .version(pkg.version)
    .showHelpAfterError()
    .exitOverride();
  registerValidate(program);
  registerGenerate(program);
  return program;
}

export async function main(argv = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    console.error(`entropo: ${(e as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
