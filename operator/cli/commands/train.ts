/** `entropo train --config <yaml>`: runs the trainer from its whole assignment (a trainer Pod's entry point). */
import type { Command } from 'commander';
import { ValidationError } from '../../api/validate.ts';
import { loadTrainConfig } from '../../training/job-config.ts';

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a policy with EntroPO / M-DPO / M-KTO (or SFT) on trajectory records; writes checkpoints, metrics and the model')
    .requiredOption('-c, --config <file>', 'YAML: model, trajectories, output, training, preference (the TrainingRun sections); - reads stdin')
    .option('--progress', 'show a progress bar on stderr even when it is not a TTY')
    .option('--max-steps <n>', 'cap on optimizer steps (overrides maxSteps)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--max-steps must be a positive integer (got ${v})`);
      return n;
    })
    .option('--metrics-bind-address <addr>', 'serve the trainer\'s Prometheus /metrics (and /healthz) here while it trains, e.g. :8080 (a trainer Pod\'s PodMonitor); "0" disables', '0')
    .action(async (opts: { config: string; progress?: boolean; maxSteps?: number; metricsBindAddress: string }) => {
      let job;
      try {
        job = loadTrainConfig(opts.config).job;
      } catch (e) {
        if (e instanceof ValidationError) {
          console.error(e.message);
          process.exitCode = 1;
          return;
        }
        throw e;
      }
      if (opts.progress) job.progress = true;
      if (opts.maxSteps) job.maxSteps = opts.maxSteps;
      // Loaded here, not at start-up: tfjs costs every other subcommand ~0.4 s and ~90 MiB.
      const { train } = await import('../../training/trainer.ts');
      const { Registry } = await import('prom-client');
      const { HttpEndpoints, parseBindAddress } = await import('../../runtime/http.ts');
      try {
        parseBindAddress(opts.metricsBindAddress);
      } catch (e) {
        console.error(`--metrics-bind-address: ${(e as Error).message}`);
        process.exitCode = 1;
        return;
      }
      job.registry = new Registry();
      const endpoints = new HttpEndpoints({ registry: job.registry, healthz: () => ({ ok: true }) });
      const port = await endpoints.listen(opts.metricsBindAddress);
      if (port !== undefined) console.error(JSON.stringify({ level: 'info', message: 'trainer metrics served', address: opts.metricsBindAddress, port }));
      let r;
      try {
        r = await train(job);
      } finally {
        await endpoints.close();
      }
      console.log(JSON.stringify({ backend: r.backend, steps: r.stepsDone, totalSteps: r.totalSteps, examples: r.examples, dropped: r.dropped, model: r.modelDir, ...r.summary }));
    });
}
