/**
 * `entropo run FILE --local`: one TrainingRun, RolloutBatch or EvalSuite on this machine, with
 * the operator's decisions (controllers/) through the local executor. Validation is the API
 * server's (api/validate.ts); the store is a directory (default ./.entropo); progress on stderr;
 * /metrics on 127.0.0.1 while it runs; the final status as a table on stdout and as YAML (as
 * `kubectl get -o yaml` shows it) in the store; Ctrl-C stops cleanly and `--resume` continues.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import type { EvalSuite, RolloutBatch, TrainingRun } from '../api/kinds.ts';
import { parseResource, ValidationError } from '../api/validate.ts';
import { logger, type Logger } from '../logging/logger.ts';
import { domainMetrics } from '../metrics/domain.ts';
import { observeRecord, observeStatus } from '../metrics/pipeline.ts';
import { createRegistry } from '../metrics/registry.ts';
import { objectPrefix } from '../controllers/decision.ts';
import { FsStore } from '../store/fs-store.ts';
import { openStore, registerStore, s3SettingsFromEnv, s3SettingsFromSpec, type StorageS3Spec } from '../store/open.ts';
import type { ArtifactStore } from '../store/store.ts';
import { checkEndpoint, EndpointCheckError } from '../rollout/endpoint-check.ts';
import { killAllGroups } from '../util/process-groups.ts';
import { resolveBuiltinModel } from '../policy/builtin.ts';
import { autoPreference } from '../training/backend.ts';
import { wasmKernelMode } from '../training/wasm/kernels.ts';
import { admit, ObjectRunner, stateKey, toKubeYaml, type AnyObject } from './executor.ts';
import { Progress } from './progress.ts';
import { evalSuiteTable, rolloutBatchTable, trainingRunTable } from './report.ts';
import type { UnitContext } from './units.ts';

/**
 * The command line that runs `file` again in local mode with `flags`, as the user can type it:
 * `npm start -- FLAGS` under `npm start` (its manifest is fixed; npm eats flags before `--`),
 * else `entropo run FILE --local FLAGS` (`npx entropo ...` in a checkout). Pure apart from
 * reading npm_lifecycle_event.
 */
export function rerunCommand(file: string, flags: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.npm_lifecycle_event === 'start') return `npm start -- ${flags}`;
  return `entropo run ${file} --local ${flags}`;
}

export interface RunOptions {
  file: string;
  /** Store directory (default ./.entropo). */
  store: string;
  resume: boolean;
  /** Start over even if a run of this name (unfinished or finished) is in the store. */
  fresh?: boolean;
  /** Port of /metrics on 127.0.0.1 (0: any free port; -1: none). */
  metricsPort: number;
  progress: boolean;
  isolation: UnitContext['isolation'];
  log?: Logger;
  /** Aborts the run (tests; Ctrl-C is wired by the CLI). */
  signal?: AbortSignal;
  /** Called once /metrics listens. */
  onMetrics?: (url: string) => void;
  out?: (text: string) => void;
  /** The root runner, once made (benchmarks, tests). */
  onRunner?: (runner: ObjectRunner) => void;
  /** After every status change of any object of the run (benchmarks). */
  onStatusChange?: (runner: ObjectRunner) => void;
  /** The registry the run's metrics go to (default a new one; tests serve it beyond the run). */
  registry?: ReturnType<typeof createRegistry>;
}

export interface RunResult {
  object: AnyObject;
  /** Store key of the saved object (YAML with status). */
  statusKey: string;
  interrupted: boolean;
  storeRoot: string;
  /** The store already held this run, finished: nothing was run (its saved object is returned). */
  alreadyFinished?: boolean;
}

/**
 * An object that names an external endpoint (spec.policy.endpoint) gets one GET /v1/models before
 * anything runs, as `entropo rollout` does: an endpoint this machine cannot reach (a cluster
 * Service name, a server that is down) or that does not serve spec.policy.name is one clear error
 * (RunInputError: exit 2), not minutes of rollouts each failing "no sample".
 */
async function checkExternalEndpoint(obj: AnyObject, file: string, apiKey: string | undefined): Promise<void> {
  const policy = (obj.spec as { policy?: { name?: string; endpoint?: { url?: string } } }).policy;
  const url = policy?.endpoint?.url;
  if (!url || !policy?.name) return;
  try {
    await checkEndpoint({ baseURL: url, ...(apiKey ? { apiKey } : {}) }, policy.name, { timeoutSeconds: 15, modelField: 'spec.policy.name' });
  } catch (e) {
    if (!(e instanceof EndpointCheckError)) throw e;
    throw new RunInputError(`${file}: spec.policy.endpoint: ${e.message}${e.reason === 'Unauthorized' ? ' (locally the key comes from ENTROPO_API_KEY or OPENAI_API_KEY; apiKeySecretRef is read in a cluster only)' : ''}`);
  }
}

export class RunInputError extends Error {
  override name = 'RunInputError';
}

/** Reads and validates the manifest; errors name the file, the document and the field. */
export function readManifest(file: string): AnyObject {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RunInputError(`${file}: cannot read (${(e as Error).message})`);
  }
  const docs = parseAllDocuments(text).filter((d) => d.contents !== null);
  if (docs.length === 0) throw new RunInputError(`${file}: no document`);
  if (docs.length > 1) throw new RunInputError(`${file}: holds ${docs.length} documents; entropo run takes one TrainingRun, RolloutBatch or EvalSuite per file`);
  const doc = docs[0];
  if (doc.errors.length) throw new RunInputError(`${file} (document 1): YAML error: ${doc.errors[0].message}`);
  let obj: AnyObject;
  try {
    obj = parseResource(doc.toJS(), `${file} (document 1)`).value as AnyObject;
  } catch (e) {
    if (e instanceof ValidationError) throw new RunInputError(`${file} (document 1): ${e.message}`);
    throw e;
  }
  const missing = missingBuiltins(obj.spec, 'spec');
  if (missing.length) throw new RunInputError(`${file} (document 1): ${missing.join('; ')}`);
  return obj;
}

/**
 * Every `builtin:NAME` source under `value` that this machine does not have, as
 * `<field path>: <why>` (resolveBuiltinModel's message, which lists the ones present): found
 * before anything runs rather than as a policy server failing four times.
 */
export function missingBuiltins(value: unknown, at: string): string[] {
  if (typeof value === 'string') {
    if (!value.startsWith('builtin:')) return [];
    try {
      resolveBuiltinModel(value);
      return [];
    } catch (e) {
      return [`${at}: ${(e as Error).message}`];
    }
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => missingBuiltins(v, `${at}[${i}]`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => missingBuiltins(v, `${at}.${k}`));
  return [];
}

/**
 * The environment variables that choose the tfjs backend and kernels, checked before anything
 * runs (a bad value would otherwise fail each policy server and trainer, and be retried).
 */
export function checkTfjsEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  try {
    autoPreference(env);
    wasmKernelMode(env);
  } catch (e) {
    throw new RunInputError((e as Error).message);
  }
}

/** Local mode's store: spec.storage.uri when it is file:// or s3://, else the --store directory. */
function localStorage(o: AnyObject, storeRoot: string): AnyObject {
  const uri = o.spec.storage.uri;
  if (uri.startsWith('file://') || uri.startsWith('s3://')) return o;
  return { ...o, spec: { ...o.spec, storage: { ...o.spec.storage, uri: `file://${storeRoot}` } } } as AnyObject;
}

async function serveMetrics(port: number, registry: ReturnType<typeof createRegistry>): Promise<Server | undefined> {
  if (port < 0) return undefined;
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/metrics')) {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        (e: Error) => {
          res.writeHead(500);
          res.end(e.message);
        },
      );
      return;
    }
    res.writeHead(req.url === '/healthz' ? 200 : 404);
    res.end(req.url === '/healthz' ? 'ok' : 'not found');
  });
  const listen = (p: number) =>
    new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(p, '127.0.0.1', () => res());
    });
  try {
    await listen(port);
  } catch {
    await listen(0); // the port is taken: any free one
  }
  return server;
}

/** Runs the manifest to the end (or until aborted). */
export async function runLocal(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? logger;
  const out = o.out ?? ((t: string) => process.stdout.write(t));
  const storeRoot = path.resolve(o.store);
  mkdirSync(storeRoot, { recursive: true });
  checkTfjsEnvironment();
  const manifest = localStorage(readManifest(o.file), storeRoot);
  // an s3:// spec.storage: the spec's endpoint / region / path style over the environment's,
  // credentials from the default chain (the Secret is a cluster's); the in-process sandbox
  // phases open the store by URI and get this one
  const storage = manifest.spec.storage as { uri: string; s3?: StorageS3Spec };
  const store: ArtifactStore = storage.uri.startsWith('s3://')
    ? openStore(storage.uri, { s3: { ...s3SettingsFromEnv(), ...s3SettingsFromSpec(storage.s3) } })
    : new FsStore(storeRoot, `file://${storeRoot}`);
  const unregister = registerStore(store);
  try {
    return await runWith(o, log, out, storeRoot, store, manifest);
  } finally {
    unregister();
  }
}

async function runWith(o: RunOptions, log: Logger, out: (text: string) => void, storeRoot: string, store: ArtifactStore, manifest: AnyObject): Promise<RunResult> {
  // the --store of the hints that tell how to run this again (none for the default store)
  const storeFlag = o.store !== '.entropo' ? ` --store ${o.store}` : '';
  const key = stateKey(manifest);
  let obj: AnyObject;
  const saved = (await store.exists(key)) ? (parseYaml(await store.getText(key)) as AnyObject) : undefined;
  if (o.resume) {
    if (!saved) throw new RunInputError(`--resume: no run of ${manifest.kind} ${manifest.metadata.namespace ?? 'default'}/${manifest.metadata.name} in ${storeRoot}`);
    if (JSON.stringify(saved.spec) !== JSON.stringify(admit(manifest).spec)) {
      log.warn('the manifest differs from the saved run; resuming the saved spec', { file: o.file });
    }
    obj = saved;
  } else {
    const finished = saved?.status?.phase === 'Succeeded' || saved?.status?.phase === 'Failed';
    if (saved && !finished && !o.fresh) {
      throw new RunInputError(
        `${storeRoot} holds an unfinished run of ${manifest.kind} ${saved.metadata.namespace}/${saved.metadata.name} (${saved.status?.phase ?? 'Pending'}): ` +
          `continue it with ${rerunCommand(o.file, `--resume${storeFlag}`)}, or start over with --fresh`,
      );
    }
    if (saved && finished && !o.fresh) {
      // as `kubectl apply` of an object that exists: nothing is redone; its result is shown again
      const changed = JSON.stringify(saved.spec) !== JSON.stringify(admit(manifest).spec);
      out(
        `${saved.kind} ${saved.metadata.namespace ?? 'default'}/${saved.metadata.name} already ran to ${saved.status!.phase} (${saved.status?.completionTime ?? saved.metadata.creationTimestamp}) in ${storeRoot}; nothing was run.\n` +
          (changed ? `${o.file} differs from that run's spec: the spec below is the finished run's.\n` : '') +
          `To run it again: ${rerunCommand(o.file, `--fresh${storeFlag}`)} (a new run under the same name; the old artifacts stay in the store), or give the manifest another metadata.name, or remove ${storeRoot}.\n`,
      );
      await printResult(store, saved, o.file, storeRoot, key, out);
      return { object: saved, statusKey: key, interrupted: false, storeRoot, alreadyFinished: true };
    }
    obj = admit(manifest);
  }
  const apiKey = process.env.ENTROPO_API_KEY || process.env.OPENAI_API_KEY || undefined;
  await checkExternalEndpoint(obj, o.file, apiKey);

  const registry = o.registry ?? createRegistry();
  const metrics = domainMetrics(registry);
  const server = await serveMetrics(o.metricsPort, registry);
  if (server) {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    o.onMetrics?.(url);
    log.info('metrics', { url });
  }
  const progress = new Progress(o.progress);
  const abort = new AbortController();
  o.signal?.addEventListener('abort', () => abort.abort(), { once: true });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'entropo-run-'));
  chmodSync(scratch, 0o755); // the sandbox user must reach the work trees below it
  const holder: { root?: ObjectRunner } = {};
  const runner = new ObjectRunner(obj, {
    store,
    log,
    isolation: o.isolation,
    ...(apiKey ? { apiKey } : {}),
    scratch,
    signal: abort.signal,
    onStatus: (r) => {
      observeStatus(metrics, r.obj);
      o.onStatusChange?.(r);
      if (holder.root) progress.update(holder.root);
    },
    onRecord: (r, rec) => {
      observeRecord(metrics, r.obj.kind, rec);
      if (holder.root) progress.update(holder.root);
    },
  });
  holder.root = runner;
  o.onRunner?.(runner);
  const ticker = setInterval(() => progress.update(runner), 1000);
  ticker.unref();
  let final: AnyObject;
  try {
    final = await runner.run();
  } finally {
    clearInterval(ticker);
    progress.stop();
    // interrupted or finished: end every unit (unrecorded work is redone on resume)
    await runner.shutdown();
    // interrupted: in-process rollouts may still have commands running (their process groups)
    if (abort.signal.aborted) killAllGroups();
    rmSync(scratch, { recursive: true, force: true });
    await new Promise<void>((res) => (server ? server.close(() => res()) : res()));
  }
  const interrupted = abort.signal.aborted && final.status?.phase !== 'Succeeded' && final.status?.phase !== 'Failed';
  if (interrupted) {
    out(`\ninterrupted: ${final.kind} ${final.metadata.name} is ${final.status?.phase ?? 'Pending'}; continue with: ${rerunCommand(o.file, `--resume${storeFlag}`)}\n`);
  } else {
    await printResult(store, final, o.file, storeRoot, key, out);
  }
  return { object: final, statusKey: key, interrupted, storeRoot };
}

/** Prints the final status of a run as a table, and where its status YAML and artifacts are. */
async function printResult(store: ArtifactStore, final: AnyObject, file: string, storeRoot: string, key: string, out: (text: string) => void): Promise<void> {
  // the run's EvalSuites, as saved (decidedBy per iteration)
  const evalSuites = new Map<string, EvalSuite>();
  for (const k of await store.list(`local/objects/${final.metadata.namespace ?? 'default'}/EvalSuite`)) {
    const es = parseYaml(await store.getText(k)) as EvalSuite;
    evalSuites.set(es.metadata.name!, es);
  }
  const tbl =
    final.kind === 'TrainingRun' ? trainingRunTable(final as TrainingRun, evalSuites) : final.kind === 'RolloutBatch' ? rolloutBatchTable(final as RolloutBatch) : evalSuiteTable(final as EvalSuite);
  out(`\n${final.kind} ${final.metadata.name}: ${final.status?.phase}${final.status?.message ? ` (${final.status.message})` : ''}\n\n${tbl}\n\n`);
  const at = (k: string) => (store instanceof FsStore || !store.uri.startsWith('s3://') ? path.join(storeRoot, k) : `${store.uri}/${k}`);
  out(`status (as kubectl get -o yaml): ${at(key)}\nartifacts: ${at(objectPrefix(final))}\n`);
}

export { toKubeYaml };
