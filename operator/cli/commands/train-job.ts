/**
 * `entropo train-job`: what a trainer Job's Pod runs (operator/workloads/trainer-job.ts builds the
 * Job). Reads its assignment from ENTROPO_TRAINER_UNIT (JSON: iteration, trajectoriesKey, init,
 * reference, preference, training, storeUri, checkpointKey, progressKey), resolves the starting
 * and reference policies (builtin:, store://, file://), runs `entropo train --config` as a child
 * process with the checkpoint directory in the store (resume: a retried Job continues from the
 * newest checkpoint there), writes a progress record {step, totalSteps, loss, elapsedSeconds} to
 * the store as the trainer reports steps, and its summary (checkpoint key of the served model,
 * steps, examples, final metrics) to /dev/termination-log.
 * Exit 0 trained; 1 the trainer failed; 2 the assignment is invalid.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { entropoEntry } from '../../util/package-root.ts';
import { openStore } from '../../store/open.ts';
import { trainerFiles } from '../../training/store-files.ts';
import { TRAINER_UNIT_ENV, type TrainerAssignment } from '../../workloads/trainer-job.ts';
import { parseProgressLine } from '../../training/progress-line.ts';

export function registerTrainJob(program: Command): void {
  program
    .command('train-job')
    .description('what a trainer Job runs: the assignment from ENTROPO_TRAINER_UNIT -> entropo train, progress to the store, summary to the termination message')
    .option('--termination-log <file>', 'summary file', '/dev/termination-log')
    .action(async (opts: { terminationLog: string }) => {
      let a: TrainerAssignment;
      try {
        a = JSON.parse(process.env[TRAINER_UNIT_ENV] ?? '') as TrainerAssignment;
        if (!a.checkpointKey || !a.trajectoriesKey || !a.init || !a.storeUri) throw new Error('checkpointKey, trajectoriesKey, init and storeUri are required');
      } catch (e) {
        console.error(`entropo train-job: ${TRAINER_UNIT_ENV}: ${(e as Error).message}`);
        process.exitCode = 2;
        return;
      }
      const store = openStore(a.storeUri);
      const { resolveSourceDir } = await import('../../serving/source.ts');
      const [model, reference] = await Promise.all([resolveSourceDir(a.init, { store }), resolveSourceDir(a.reference, { store })]);
      // local paths for the trainer: in place on a directory store, copies synced to S3 otherwise
      const files = await trainerFiles(store, a, path.join(tmpdir(), `entropo-train-${a.iteration}-${a.attempt}`));
      const config = path.join(tmpdir(), `train-${a.iteration}-${a.attempt}.yaml`);
      writeFileSync(
        config,
        toYaml({ model, reference, trajectories: files.trajectories, output: files.output, training: a.training, preference: a.preference, resume: true, checkpointEvery: 1, progress: true }),
      );
      const t0 = Date.now();
      const child = spawn(process.execPath, [entropoEntry(), 'train', '--config', config, '--progress'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let lastWrite = 0;
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => {
        process.stderr.write(b);
        for (const line of b.toString().split(/[\r\n]/)) {
          const p = parseProgressLine(line);
          if (p && Date.now() - lastWrite > 2_000) {
            lastWrite = Date.now();
            void store.put(a.progressKey, JSON.stringify({ ...p, elapsedSeconds: (Date.now() - t0) / 1000 })).catch(() => undefined);
          }
        }
      });
      // checkpoints reach the store as they are made, so a retried Job resumes from them
      const syncing = setInterval(() => void files.sync().catch((e: Error) => console.error(`entropo train-job: checkpoint upload: ${e.message}`)), 10_000);
      const code: number = await new Promise((r) => child.on('close', (c) => r(c ?? 1)));
      clearInterval(syncing);
      if (code !== 0) {
        await files.sync().catch(() => undefined);
        process.exitCode = 1;
        return;
      }
      await files.finish();
      const last = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, number> & { backend?: unknown };
      const summary = {
        checkpoint: `${a.checkpointKey}/model`,
        steps: last.steps ?? 0,
        examples: last.examples ?? 0,
        ...Object.fromEntries(['loss', 'rewardMargin', 'z0', 'entropy', 'klToReference', 'gradNorm', 'tokensPerSecond'].filter((k) => typeof last[k] === 'number').map((k) => [k, last[k]])),
        seconds: (Date.now() - t0) / 1000,
        ...(typeof last.backend === 'string' ? { backend: last.backend } : {}),
      };
      await store.put(a.progressKey, JSON.stringify({ step: summary.steps, totalSteps: last.totalSteps ?? summary.steps, elapsedSeconds: summary.seconds, ...(summary as { loss?: number }).loss !== undefined ? { loss: (summary as { loss?: number }).loss } : {} }));
      writeFileSync(opts.terminationLog, JSON.stringify(summary));
      console.log(JSON.stringify(summary));
    });
}
