import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { checkTfjsEnvironment, missingBuiltins, RunInputError } from '../../../operator/local/run.ts';

const run = promisify(execFile);

test('missingBuiltins names the field of every builtin: source this machine lacks, and lists the ones it has', (t) => {
  t.deepEqual(missingBuiltins({ policy: { source: 'builtin:tiny-coder' }, evals: [{ source: 'builtin:tiny-verifier' }] }, 'spec'), []);
  t.deepEqual(missingBuiltins({ evals: [{ source: 'builtin:gone' }] }, 'spec').map((m) => m.split(':')[0]), ['spec.evals[0].source']);
  const out = missingBuiltins({ policy: { source: 'builtin:nonexistent-model' }, selection: { verifier: { source: 'builtin:tiny-verifier' } } }, 'spec');
  t.is(out.length, 1);
  t.regex(out[0], /^spec\.policy\.source: builtin:nonexistent-model: no such built-in model \(available: .*builtin:tiny-coder/);
  t.deepEqual(missingBuiltins({ policy: { source: 'store://m' }, n: 3 }, 'spec'), []);
});

test('checkTfjsEnvironment: a bad ENTROPO_TFJS_BACKEND or ENTROPO_WASM_KERNELS is an input error naming the variable', (t) => {
  t.notThrows(() => checkTfjsEnvironment({}));
  t.notThrows(() => checkTfjsEnvironment({ ENTROPO_TFJS_BACKEND: 'wasm', ENTROPO_WASM_KERNELS: 'stock' }));
  t.throws(() => checkTfjsEnvironment({ ENTROPO_TFJS_BACKEND: 'bogus' }), { instanceOf: RunInputError, message: /ENTROPO_TFJS_BACKEND="bogus": not a tfjs backend/ });
  t.throws(() => checkTfjsEnvironment({ ENTROPO_WASM_KERNELS: 'fast' }), { instanceOf: RunInputError, message: /ENTROPO_WASM_KERNELS="fast"/ });
});

test('entropo run --local refuses a bad backend variable and an unknown built-in model before anything runs (exit 2, nothing stored)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'entropo-preflight-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = path.join(dir, 'store');
  const fail = async (args: string[], env: NodeJS.ProcessEnv) => {
    const e = await t.throwsAsync(run('node', ['bin/entropo.js', 'run', ...args, '--local', '--store', store, '--no-progress', '--metrics-port', '-1'], { env: { ...process.env, ...env } }));
    return e as Error & { code: number; stderr: string };
  };
  const bad = await fail(['manifests/examples/quickstart.yaml'], { ENTROPO_TFJS_BACKEND: 'bogus' });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /entropo run: ENTROPO_TFJS_BACKEND="bogus": not a tfjs backend/);
  const manifest = path.join(dir, 'rb.yaml');
  const text = (await import('node:fs')).readFileSync('manifests/examples/quickstart.yaml', 'utf8').replace(/builtin:tiny-coder/g, 'builtin:nonexistent-model');
  writeFileSync(manifest, text);
  const missing = await fail([manifest], {});
  t.is(missing.code, 2);
  t.regex(missing.stderr, /spec\.policy\.source: builtin:nonexistent-model: no such built-in model/);
  t.false(existsSync(store) && readdirSync(store).length > 0, 'nothing stored');
});
