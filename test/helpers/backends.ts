/**
 * The tfjs backends present on this machine, for tests that must hold on every one of them
 * (parity with transformers, the loss values, chunked vs direct, exact resume).
 */
import test, { type ExecutionContext } from 'ava';
import { createRequire } from 'node:module';
import { Registry } from 'prom-client';
import { selectBackend, type BackendPreference } from '../../operator/training/backend.ts';

const require = createRequire(import.meta.url);

function resolves(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/**
 * API names of the backends present: Wasm always, CPU (the pure-JS one) unless `cpu: false`, and
 * TfjsNode / TfjsNodeGPU when their package resolves from node_modules (scripts/install-tfjs-node.sh).
 * A package that resolves but does not load is NOT left out: the test that selects it fails.
 */
export function presentBackends(o: { cpu?: boolean } = {}): NamedBackend[] {
  const out: NamedBackend[] = [];
  if (resolves('@tensorflow/tfjs-node-gpu')) out.push('TfjsNodeGPU');
  if (resolves('@tensorflow/tfjs-node')) out.push('TfjsNode');
  out.push('Wasm');
  if (o.cpu !== false) out.push('CPU');
  return out;
}

/** A backend named explicitly (not `Auto`). */
export type NamedBackend = Exclude<BackendPreference, 'Auto'>;

type Case = [title: string, fn: (t: ExecutionContext) => unknown];

/**
 * Registers every case once per present backend, titled `<backend>: <title>`, serially, with that
 * backend selected first (the backend is global to tfjs).
 */
export function onEveryBackend(cases: Case[], backends: BackendPreference[] = presentBackends()): void {
  for (const backend of backends) {
    for (const [title, fn] of cases) {
      test.serial(`${backend}: ${title}`, async (t) => {
        await selectBackend(backend, new Registry());
        await fn(t);
      });
    }
  }
}

/**
 * A list of cases to run on every backend: `it(title, fn)` collects one, `register()` (at the end
 * of the file) hands them all to onEveryBackend.
 */
export function backendCases(): { it: (title: string, fn: Case[1]) => void; register: (backends?: BackendPreference[]) => void } {
  const cases: Case[] = [];
  return { it: (title, fn) => void cases.push([title, fn]), register: (backends) => onEveryBackend(cases, backends) };
}
