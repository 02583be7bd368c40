/**
 * `entropo serve`: the OpenAI-compatible policy server for a tfjs checkpoint (builtin:<name>,
 * store://<key>, file://<dir>, or a PEFT LoRA adapter on its base). Once it listens and the model
 * is loaded, it prints ONE JSON line on stdout, {"event":"listening","url":...,"baseURL":...,
 * "model":...}, for a parent process to read (--port 0 picks a free port). Logs are JSON on
 * stderr. SIGTERM / SIGINT: stops accepting, lets in-flight requests finish (--drain-seconds),
 * exits 0.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { logger } from '../../logging/logger.ts';

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('want a positive integer');
  return n;
};
const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('want a port number 0..65535 (0: any free port)');
  return n;
};
const nonNegative = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('want a number >= 0');
  return n;
};

interface ServeFlags {
  model: string;
  base?: string;
  host: string;
  port: number;
  servedModelName?: string;
  store?: string;
  maxBatch: number;
  maxModelLen?: number;
  metrics: boolean;
  backend: string;
  drainSeconds: number;
  prefixCacheMib: number;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a policy checkpoint over the OpenAI chat completions API (tool calls, continuous batching, /health, /metrics)')
    .requiredOption('-m, --model <source>', 'builtin:<name>, store://<key>, file://<dir> (a model, or a PEFT LoRA adapter)')
    .option('--base <source>', 'base model of a LoRA adapter source (default: the adapter\'s base_model_name_or_path)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port (0: any free port; the bound URL is printed as JSON on stdout)', port, 8000)
    .option('--served-model-name <name>', 'the model name clients send (default: the --model source)')
    .option('--store <uri>', 'artifact store for store:// sources (file:///dir, pvc://claim/prefix, s3://bucket/prefix: settings from AWS_ENDPOINT_URL_S3, AWS_REGION, ENTROPO_S3_FORCE_PATH_STYLE and the AWS credential chain)')
    .option('--max-batch <n>', 'most sequences decoded together (continuous batching)', positiveInt, 8)
    .option('--max-model-len <n>', 'cap on prompt + completion tokens (default: the model\'s max_position_embeddings)', positiveInt)
    .option('--no-metrics', 'do not serve /metrics (served on the same port by default)')
    .option('--backend <name>', 'tfjs backend: auto (wasm for a model under 64M parameters, else the fastest present), tfjs-node-gpu, tfjs-node, wasm, cpu', 'auto')
    .option('--prefix-cache-mib <n>', 'KV cache kept to reuse prompt prefixes across requests (an agent\'s turns); 0: off', nonNegative, 256)
    .option('--drain-seconds <s>', 'on SIGTERM, how long in-flight requests may finish', nonNegative, 30)
    .action(async (flags: ServeFlags) => {
      // Loaded here, not at start-up: other subcommands do not pay for fastify and the model code.
      const { resolveModel } = await import('../../serving/source.ts');
      const { startPolicyServer } = await import('../../serving/server.ts');
      (await import('../../serving/loaded-model.ts')).backendPreference(flags.backend);
      const store = flags.store ? (await import('../../store/open.ts')).openStore(flags.store) : undefined;
      const name = flags.servedModelName ?? flags.model;
      const log = logger.child({ component: 'serve', model: name });
      const resolved = await resolveModel(flags.model, { store, base: flags.base });
      log.info('loading model', { source: flags.model, ...resolved });
      const server = await startPolicyServer({
        ...resolved,
        servedModelName: name,
        host: flags.host,
        port: flags.port,
        maxBatch: flags.maxBatch,
        maxModelLen: flags.maxModelLen,
        metrics: flags.metrics,
        backend: flags.backend,
        drainSeconds: flags.drainSeconds,
        prefixCacheMiB: flags.prefixCacheMib,
        log,
      });
      log.info('policy server listening', { url: server.url, ...server.info, maxBatch: flags.maxBatch });
      process.stdout.write(`${JSON.stringify({ event: 'listening', url: server.url, baseURL: server.baseURL, model: name, ...server.info })}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info('shutting down', { signal });
          server.close().then(resolve, (e: Error) => {
            log.error('shutdown failed', { error: e.message });
            process.exitCode = 1;
            resolve();
          });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      log.info('stopped');
    });
}

