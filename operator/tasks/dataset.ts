/**
 * Task datasets: JSONL in SWE-bench format (as exported from the HF datasets, where
 * FAIL_TO_PASS / PASS_TO_PASS are JSON-encoded strings) or in the self-contained form, and the
 * selection of tasks from a source (instanceIds, shuffleSeed, limit). Parsing and selection
 * are pure; reading a source is the only I/O.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import type { TaskSource } from '../api/common.ts';

import { SelfContainedTask, SweBenchTask, type TaskRecord } from '../api/records.ts';
import { check } from '../api/validate.ts';
import type { ArtifactStore } from '../store/store.ts';
import { mulberry32 } from '../util/random.ts';
import { headChars } from '../util/text.ts';

/** The split of a built-in suite as the API names it (TaskSource.builtin.split). */
export type BuiltinSplit = NonNullable<TaskSource['builtin']>['split'];

/** API split (Train, Eval, All) -> the split field of the suite's task records (train, eval, all). */
export const suiteSplit = (split: BuiltinSplit): 'train' | 'eval' | 'all' => split.toLowerCase() as 'train' | 'eval' | 'all';

/**
 * Record format of a JSONL task file: the values of TaskSource.jsonl.format, plus 'Auto': per
 * record, self-contained when it carries "files", SWE-bench otherwise.
 */
export type TaskFormat = 'SWEBench' | 'SelfContained' | 'Auto';

export interface TaskLoadError {
  /** 1-based line number in the JSONL text. */
  line: number;
  /** The offending field ("" for the whole line). */
  field: string;
  message: string;
  /** The record's instance_id when it could be read. */
  instance_id?: string;
}

export interface TaskLoadResult<T extends TaskRecord = TaskRecord> {
  tasks: T[];
  errors: TaskLoadError[];
}

export const formatError = (e: TaskLoadError, source = 'tasks') =>
  `${source}:${e.line}: ${e.field ? `${e.field}: ` : ''}${e.message}${e.instance_id ? ` (${e.instance_id})` : ''}`;

const LIST_FIELDS = ['FAIL_TO_PASS', 'PASS_TO_PASS'] as const;

/**
 * Brings a raw record to the contract's shape: the test-id lists may be JSON-encoded strings
 * (HF datasets); version may be a number. Returns the errors of fields that cannot be fixed.
 */
export function normaliseRecord(raw: Record<string, unknown>): { record: Record<string, unknown>; errors: Omit<TaskLoadError, 'line'>[] } {
  const record: Record<string, unknown> = { ...raw };
  const errors: Omit<TaskLoadError, 'line'>[] = [];
  for (const f of LIST_FIELDS) {
    const v = record[f];
    if (typeof v !== 'string') continue;
    try {
      const parsed: unknown = JSON.parse(v);
      if (!Array.isArray(parsed)) throw new Error('not a list');
      record[f] = parsed;
    } catch {
      errors.push({ field: f, message: `must be a list of test ids or a JSON-encoded list (got ${headChars(JSON.stringify(v), 80)})` });
    }
  }
  if (typeof record.version === 'number') record.version = String(record.version);
  return { record, errors };
}

/** Parses JSONL task records; a malformed line is reported (line, field) and the others still load. */
export function parseTaskJsonl(text: string, format: TaskFormat = 'SWEBench'): TaskLoadResult {
  const schemaFor = (rec: Record<string, unknown>): TSchema =>
    format === 'SelfContained' || (format === 'Auto' && rec.files !== undefined) ? SelfContainedTask : SweBenchTask;
  const tasks: TaskRecord[] = [];
  const errors: TaskLoadError[] = [];
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    const body = raw.trim();
    if (body === '') return;
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (e) {
      errors.push({ line, field: '', message: `not valid JSON: ${(e as Error).message}` });
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      errors.push({ line, field: '', message: 'must be a JSON object (one task record per line)' });
      return;
    }
    const id = typeof (value as { instance_id?: unknown }).instance_id === 'string' ? (value as { instance_id: string }).instance_id : undefined;
    const { record, errors: normErrors } = normaliseRecord(value as Record<string, unknown>);
    if (normErrors.length) {
      errors.push(...normErrors.map((e) => ({ line, ...e, instance_id: id })));
      return;
    }
    const r = check<TaskRecord>(schemaFor(record), record);
    if (!r.ok) {
      errors.push(...r.errors.map((e) => ({ line, field: e.field, message: e.message, instance_id: id })));
      return;
    }
    const task = r.value;
    const first = seen.get(task.instance_id);
    if (first !== undefined) {
      errors.push({ line, field: 'instance_id', message: `duplicate of line ${first}`, instance_id: task.instance_id });
      return;
    }
    seen.set(task.instance_id, line);
    tasks.push(task);
  });
  return { tasks, errors };
}

// ---------------------------------------------------------------------------------------------
// Selection

/** A seeded PRNG (mulberry32), so a shuffle is the same on every machine and Node version. */
export const seededRandom = mulberry32;

/** Fisher-Yates with seededRandom(seed); returns a new array. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rand = seededRandom(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export interface TaskSelection {
  instanceIds?: readonly string[];
  limit?: number;
  shuffleSeed?: number;
}

/**
 * Keeps the tasks named in instanceIds (all when absent; dataset order), shuffles them with
 * shuffleSeed when given, then keeps the first `limit`. Ids that name no task are returned in
 * `missing` so callers can report them.
 */
export function selectTasks<T extends { instance_id: string }>(tasks: readonly T[], sel: TaskSelection = {}): { tasks: T[]; missing: string[] } {
  let out = [...tasks];
  let missing: string[] = [];
  if (sel.instanceIds) {
    const wanted = new Set(sel.instanceIds);
    out = out.filter((t) => wanted.has(t.instance_id));
    const have = new Set(out.map((t) => t.instance_id));
    missing = [...wanted].filter((id) => !have.has(id));
  }
  if (sel.shuffleSeed !== undefined) out = shuffled(out, sel.shuffleSeed);
  if (sel.limit !== undefined) out = out.slice(0, Math.max(0, sel.limit));
  return { tasks: out, missing };
}

// ---------------------------------------------------------------------------------------------
// Sources

export interface SourceReaders {
  /** Resolves store:// URIs (the key is the part after "store://"). */
  store?: Pick<ArtifactStore, 'getText'>;
  /** Reads the JSONL held by a ConfigMap key (the operator passes its Kubernetes client). */
  readConfigMap?: (name: string, key: string) => Promise<string>;
  /** Override for http(s):// (default: fetch). */
  fetchText?: (url: string) => Promise<string>;
  /** Loads a built-in suite (default: the suite registry of operator/tasks/suite.ts). */
  loadBuiltin?: (suite: string, split: BuiltinSplit) => Promise<TaskRecord[]>;
}

/** Reads the text behind a task URI: file://, store:// or http(s)://. */
export async function readTaskUri(uri: string, readers: SourceReaders = {}): Promise<string> {
  if (uri.startsWith('file://')) return readFile(fileURLToPath(uri), 'utf8');
  if (uri.startsWith('store://')) {
    if (!readers.store) throw new Error(`no artifact store configured to read ${uri}`);
    return readers.store.getText(uri.slice('store://'.length));
  }
  if (/^https?:\/\//.test(uri)) {
    if (readers.fetchText) return readers.fetchText(uri);
    const res = await fetch(uri);
    if (!res.ok) throw new Error(`GET ${uri}: HTTP ${res.status}`);
    return res.text();
  }
  throw new Error(`unsupported task URI ${JSON.stringify(uri)} (expected file://, store:// or http(s)://)`);
}

/** Reads a JSONL task file from a local path. */
export async function loadTaskFile(file: string, format: TaskFormat = 'SWEBench'): Promise<TaskLoadResult> {
  return parseTaskJsonl(await readFile(file, 'utf8'), format);
}

/**
 * Loads the tasks of a TaskSource (builtin, jsonl or configMapRef) and applies its selection.
 * Record errors do not stop the load; ids in instanceIds that name no task are reported as
 * errors with line 0.
 */
export async function loadTaskSource(source: TaskSource, readers: SourceReaders = {}): Promise<TaskLoadResult> {
  let loaded: TaskLoadResult;
  if (source.builtin) {
    const load = readers.loadBuiltin ?? (async (suite, split) => (await import('./suite.ts')).loadBuiltinSuite({ suite, split: suiteSplit(split) }));
    loaded = { tasks: await load(source.builtin.suite ?? 'entropo-bugs', source.builtin.split ?? 'Train'), errors: [] };
  } else if (source.jsonl) {
    loaded = parseTaskJsonl(await readTaskUri(source.jsonl.uri, readers), source.jsonl.format ?? 'SWEBench');
  } else if (source.configMapRef) {
    if (!readers.readConfigMap) throw new Error(`no ConfigMap reader configured to read ConfigMap ${source.configMapRef.name}`);
    const text = await readers.readConfigMap(source.configMapRef.name, source.configMapRef.key ?? 'tasks.jsonl');
    // A ConfigMap may hold either form; self-contained records carry "files".
    loaded = parseTaskJsonl(text, 'Auto');
  } else {
    throw new Error('task source must set exactly one of builtin, jsonl or configMapRef');
  }
  const sel = selectTasks(loaded.tasks, source);
  return {
    tasks: sel.tasks,
    errors: [
      ...loaded.errors,
      ...sel.missing.map((id) => ({ line: 0, field: 'instanceIds', message: `no task with this id in the source`, instance_id: id })),
    ],
  };
}
