/**
 * `entropo policy build`: builds the built-in tiny coder policy (operator/policy/build.ts) from
 * the built-in suite's train split, reproducibly from a seed. `entropo policy path NAME` prints
 * the directory a `builtin:NAME` source resolves to.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { int, num } from '../args.ts';
import type { TrajectoryRecord } from '../../api/records.ts';

interface BuildOptions {
  outDir?: string;
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
  init?: string;
}

interface MeasureFlags {
  model: string;
  suite: string;
  task?: string[];
  samples: number;
  seed: number;
  temperature: number;
  topP: number;
  parallelism: number;
  outFile?: string;
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('the built-in policy checkpoints (builtin:<name>)');
  policy
    .command('build')
    .description('build the built-in tiny coder policy: demonstrations from the train split, a BPE tokenizer, SFT of a tiny Llama-style model')
    .option('--out-dir <dir>', 'checkpoint directory (default: the built-in tiny-coder directory)')
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
    .option('--init <dir>', 'continue from this checkpoint (its tokenizer and weights) instead of a random model')
    .option('--progress', 'progress line on stderr')
    .action(async (o: BuildOptions) => {
      const { buildPolicy } = await import('../../policy/build.ts');
      const { builtinRoot, TINY_CODER } = await import('../../policy/builtin.ts');
      const outDir = path.resolve(o.outDir ?? path.join(builtinRoot(), TINY_CODER));
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
        init: o.init ? path.resolve(o.init) : undefined,
        command: `entropo ${process.argv.slice(2).join(' ')}`,
      });
      console.log(
        `built ${outDir}: ${report.tasks.length} tasks, ${report.demonstrations.total} demonstrations, ${report.training.steps} steps, ` +
          `loss ${report.training.firstLoss.toFixed(3)} -> ${report.training.finalLoss.toFixed(3)}, ${report.model.parameters} parameters, ` +
          `${(report.model.bytes / 1e6).toFixed(2)} MB, ${Math.round(report.seconds.total)} s`,
      );
    });
  policy
    .command('measure')
    .description('roll out a policy checkpoint through the real agent loop, sandbox and grader (entropo serve in-process); resolve, completion and valid tool-call rates')
    .option('--model <source>', 'builtin:<name> or a model directory', 'builtin:tiny-coder')
    .option('--suite <name>', 'built-in suite: entropo-bugs, or entropo-bugs-variants for the train-task variants', 'entropo-bugs')
    .option('--task <id...>', 'task ids (default: the tasks in the checkpoint\'s BUILD.json, or their variants)')
    .option('--samples <n>', 'samples per task', int, 8)
    .option('--seed <n>', 'sampling seed (sample i uses seed + i)', int, 1)
    .option('--temperature <x>', 'sampling temperature', num, 0.7)
    .option('--top-p <x>', 'nucleus mass', num, 0.8)
    .option('--parallelism <n>', 'rollouts in flight', int, 4)
    .option('--out-file <file>', 'write the report (JSON, with the trajectories) here')
    .action(async (o: MeasureFlags) => {
      const { existsSync, readFileSync, writeFileSync } = await import('node:fs');
      const { resolveBuiltinModel } = await import('../../policy/builtin.ts');
      const { measurePolicy, reportTable } = await import('../../policy/measure.ts');
      const { VARIANT_SUFFIX } = await import('../../policy/variants.ts');
      const { loadBuiltinSuite } = await import('../../tasks/suite.ts');
      const modelDir = o.model.startsWith('builtin:') ? resolveBuiltinModel(o.model) : path.resolve(o.model);
      const all = await loadBuiltinSuite({ suite: o.suite, split: 'all' });
      let ids = o.task;
      if (!ids?.length) {
        const build = path.join(modelDir, 'BUILD.json');
        if (!existsSync(build)) throw new Error(`--task: no task ids given and ${build} does not exist`);
        const built = (JSON.parse(readFileSync(build, 'utf8')) as { tasks: string[] }).tasks;
        ids = all.filter((t) => built.includes(t.instance_id) || built.includes(t.instance_id.slice(0, -VARIANT_SUFFIX.length))).map((t) => t.instance_id);
        if (ids.length === 0) throw new Error(`suite ${o.suite} has none of the checkpoint's tasks (${built.join(', ')}) or their variants`);
      }
      const tasks = all.filter((t) => ids!.includes(t.instance_id));
      const missing = ids.filter((id) => !tasks.some((t) => t.instance_id === id));
      if (missing.length) throw new Error(`--task: not tasks of suite ${o.suite}: ${missing.join(', ')}`);
      const report = await measurePolicy({
        modelDir,
        tasks,
        samplesPerTask: o.samples,
        seed: o.seed,
        temperature: o.temperature,
        topP: o.topP,
        parallelism: o.parallelism,
        onRollout: (t, done, total) => process.stderr.write(`rollout ${done}/${total} ${t.taskId} ${t.exitReason} ${t.resolved ? 'resolved' : 'unresolved'}\n`),
      });
      if (o.outFile) writeFileSync(o.outFile, JSON.stringify({ ...report, model: o.model, suite: o.suite }, null, 1));
      console.log(reportTable(report));
    });
  policy
    .command('variants')
    .description('write the train-task variant suite (renamed identifiers, shifted lines, reworded issues) from operator/policy/variants.yaml; then run entropo build-suite on it')
    .option('--spec <file>', 'variant spec (default: operator/policy/variants.yaml)')
    .action(async (o: { spec?: string }) => {
      const { writeVariantSuite } = await import('../../policy/variants.ts');
      const r = await writeVariantSuite(o.spec ? path.resolve(o.spec) : undefined);
      console.log(`wrote ${r.tasks.length} variant tasks to ${r.dir}: ${r.tasks.join(', ')}\nnext: entropo build-suite ${path.basename(r.dir)}`);
    });
  policy
    .command('build-verifier')
    .description('build the built-in verifier from the seed policy\'s rollouts (reports of entropo policy measure --out-file), AUC on held-out rollouts')
    .requiredOption('--rollouts <file>', 'training rollouts: a report of entropo policy measure --out-file')
    .requiredOption('--held-out <file>', 'held-out rollouts (another seed): a report of entropo policy measure --out-file')
    .option('--policy <source>', 'the seed policy (builtin:<name> or a directory)', 'builtin:tiny-coder')
    .option('--out-dir <dir>', 'verifier directory (default: the built-in tiny-verifier directory)')
    .option('--work <dir>', 'work directory (trainer checkpoints)')
    .option('--seed <n>', 'seed', int, 1)
    .option('--steps <n>', 'optimizer steps', int, 40)
    .option('--learning-rate <x>', 'peak learning rate', num, 1e-3)
    .option('--max-sequence-length <n>', 'token budget per example (the end of the trajectory is kept)', int, 1024)
    .option('--progress', 'progress line on stderr')
    .action(async (o: { rollouts: string; heldOut: string; policy: string; outDir?: string; work?: string; seed: number; steps: number; learningRate: number; maxSequenceLength: number; progress?: boolean }) => {
      const { readFileSync } = await import('node:fs');
      const { builtinRoot, resolveBuiltinModel, TINY_VERIFIER } = await import('../../policy/builtin.ts');
      const { buildVerifier } = await import('../../policy/verifier-build.ts');
      const read = (f: string) => {
        const r = JSON.parse(readFileSync(f, 'utf8')) as { trajectories?: unknown };
        if (!Array.isArray(r.trajectories)) throw new Error(`${f}: not a report of entropo policy measure --out-file (no trajectories array)`);
        return r.trajectories as TrajectoryRecord[];
      };
      const policyDir = o.policy.startsWith('builtin:') ? resolveBuiltinModel(o.policy) : path.resolve(o.policy);
      const outDir = path.resolve(o.outDir ?? path.join(builtinRoot(), TINY_VERIFIER));
      const r = await buildVerifier({
        policyDir,
        train: read(o.rollouts),
        heldOut: read(o.heldOut),
        outDir,
        workDir: o.work ? path.resolve(o.work) : undefined,
        seed: o.seed,
        steps: o.steps,
        learningRate: o.learningRate,
        maxSequenceLength: o.maxSequenceLength,
        progress: o.progress,
        command: `entropo ${process.argv.slice(2).join(' ')}`,
      });
      console.log(`built ${outDir}: ${r.trainRollouts.finished} finished training rollouts, held-out AUC ${r.heldOut?.auc?.toFixed(3) ?? '-'} (${r.heldOutRollouts.finished} rollouts), ${Math.round(r.seconds)} s`);
    });
  policy
    .command('path <name>')
    .description('print the directory a builtin:<name> source resolves to')
    .action(async (name: string) => {
      const { resolveBuiltinModel } = await import('../../policy/builtin.ts');
      console.log(resolveBuiltinModel(name));
    });
}
