/**
 * Runs a commander program on argv and turns the outcome into an exit code: the code a command
 * set (process.exitCode), commander's own for usage errors (--help 0, unknown option 1), 1 with
 * "entropo: <message>" for anything a command threw. Shared by the CLI (main.ts) and the sandbox
 * bundle's entry (sandbox-main.ts).
 */
import { CommanderError, type Command } from 'commander';

export async function runProgram(program: Command, argv = process.argv): Promise<number> {
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    console.error(`entropo: ${(e as Error).message}`);
    return 1;
  }
}
