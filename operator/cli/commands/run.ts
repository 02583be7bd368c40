/** `entropo run FILE --local`: a TrainingRun, RolloutBatch or EvalSuite on this machine (operator/local/run.ts). */
import type { Command } from 'commander';
import { int, oneOf } from '../args.ts';

interface RunCliOptions {
  local?: boolean;
  store: string;
  resume?: boolean;
  fresh?: boolean;
  metricsPort: number;
  progress: boolean;
  isolation: 'auto' | 'bwrap' | 'unshare' | 'none';
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a TrainingRun, RolloutBatch or EvalSuite manifest on this machine with the operator\'s decisions (local mode)')
    .argument('<file>', 'YAML manifest (one object)')
    .option('--local', 'run here, without a cluster (required: in a cluster use kubectl apply -f FILE)')
    .option('--store <dir>', 'artifact store directory: trajectories, checkpoints, results, saved status', '.entropo')
    .option('--resume', 'continue the run of this name saved in the store (finished work is not redone)')
    .option('--fresh', 'start a new run even if a run of this name (unfinished or finished) is in the store; the old artifacts stay')
    .option('--metrics-port <port>', '/metrics on 127.0.0.1 while it runs (0: any free port, -1: off)', int, 9464)
    .option('--no-progress', 'no live progress lines')
    .option('--isolation <mode>', 'sandbox of the agent\'s commands: auto | bwrap | unshare | none', oneOf(['auto', 'bwrap', 'unshare', 'none'] as const), 'auto')
    .action(async (file: string, o: RunCliOptions) => {
      if (!o.local) {
        console.error('entropo run: only --local is supported here; in a cluster, kubectl apply -f ' + file);
        process.exitCode = 2;
        return;
      }
      if (o.resume && o.fresh) {
        console.error('entropo run: --resume and --fresh exclude each other');
        process.exitCode = 2;
        return;
      }
      if (!process.env.ENTROPO_LOG_LEVEL) {
        // Quiet progress output: warnings only, here and in the worker threads (the policy server's
        // model) and child processes (the trainer), which read the level from the environment.
        process.env.ENTROPO_LOG_LEVEL = 'warn';
        const { logger } = await import('../../logging/logger.ts');
        logger.level = 'warn';
      }
      const { runLocal, RunInputError } = await import('../../local/run.ts');
      const abort = new AbortController();
      let signals = 0;
      const onSignal = () => {
        signals++;
        if (signals > 1) process.exit(130);
        process.stderr.write('\nstopping (Ctrl-C again to exit at once)...\n');
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const r = await runLocal({
          file,
          store: o.store,
          resume: !!o.resume,
          fresh: !!o.fresh,
          metricsPort: o.metricsPort,
          progress: o.progress,
          isolation: o.isolation,
          signal: abort.signal,
          onMetrics: (url) => process.stderr.write(`metrics: ${url}\n`),
        });
        process.exitCode = r.interrupted ? 130 : r.object.status?.phase === 'Succeeded' ? 0 : 1;
      } catch (e) {
        if (!(e instanceof RunInputError)) throw e;
        console.error(`entropo run: ${e.message}`);
        process.exitCode = 2;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
