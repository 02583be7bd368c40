/**
 * `entropo policy build`: builds the built-in tiny coder policy (operator/policy/build.ts) from
 * the built-in suite's train split, reproducibly from a seed. `entropo policy path NAME` prints
 * the directory a `builtin:NAME` source resolves to.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { int, num } from '../args.ts';

interface BuildOptions {
  out?: string;
  work?: string;
  seed: number;
  tasks: number;
  task?: string[];
  steps: number;
  learningRate: number;
  batchSize: number;
  gold: number;
  retry: number;
  wrong: number;
  progress?: boolean;
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('the built-in policy checkpoints (builtin:<name>)');
  policy
    .command('build')
    .description('build the built-in tiny coder policy: demonstrations from the train split, a BPE tokenizer, SFT of a tiny Llama-style model')
    .option('--out <dir>', 'checkpoint directory (default: the built-in tiny-coder directory)')
    .option('--work <dir>', 'work directory for demonstrations and trainer checkpoints; a rerun resumes from it')
    .option('--seed <n>', 'seed of the task choice, data, initialisation and data order', int, 1)
    .option('--tasks <n>', 'number of train-split tasks (seeded choice)', int, 8)
    .option('--task <id...>', 'explicit train-split task ids instead of --tasks')
    .option('--steps <n>', 'optimizer steps', int, 270)
    .option('--learning-rate <x>', 'peak learning rate (AdamW, warm-up 5%, cosine)', num, 3e-3)
    .option('--batch-size <n>', 'demonstrations per step', int, 4)
    .option('--gold <n>', 'gold demonstrations per task', int, 2)
    .option('--retry <n>', 'error-and-retry demonstrations per task', int, 1)
    .option('--wrong <n>', 'wrong-edit demonstrations per task', int, 5)
    .option('--progress', 'progress line on stderr')
    .action(async (o: BuildOptions) => {
      const { buildPolicy } = await import('../../policy/build.ts');
      const { builtinRoot, TINY_CODER } = await import('../../policy/builtin.ts');
      const outDir = path.resolve(o.out ?? path.join(builtinRoot(), TINY_CODER));
      const report = await buildPolicy({
        outDir,
        workDir: o.work ? path.resolve(o.work) : undefined,
        seed: o.seed,
        tasks: o.task?.length ? o.task : o.tasks,
        steps: o.steps,
        learningRate: o.learningRate,
        batchSize: o.batchSize,
        mix: { gold: o.gold, retry: o.retry, wrong: o.wrong },
        progress: o.progress,
        command: `entropo ${process.argv.slice(2).join(' ')}`,
      });
      console.log(
        `built ${outDir}: ${report.tasks.length} tasks, ${report.demonstrations.total} demonstrations, ${report.training.steps} steps, ` +
          `loss ${report.training.firstLoss.toFixed(3)} -> ${report.training.finalLoss.toFixed(3)}, ${report.model.parameters} parameters, ` +
          `${(report.model.bytes / 1e6).toFixed(2)} MB, ${Math.round(report.seconds.total)} s`,
      );
    });
  policy
    .command('path <name>')
    .description('print the directory a builtin:<name> source resolves to')
    .action(async (name: string) => {
      const { resolveBuiltinModel } = await import('../../policy/builtin.ts');
      console.log(resolveBuiltinModel(name));
    });
}
