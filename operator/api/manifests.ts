/**
 * Manifest files as kubectl reads them, validated as the API server would: the decision of
 * `entropo validate`. Pure apart from nothing: text in, one result per document out.
 *
 * Reading follows kubectl (sigs.k8s.io/yaml over go-yaml v2, i.e. YAML 1.1): `yes`/`no`/`on`/
 * `off`/`y`/`n` are booleans, `0777` is octal, `1_000` is 1000; timestamps and sexagesimal
 * numbers stay strings (go-yaml gives strings for them into untyped values). Empty documents (a
 * trailing `---`, a comment-only document) are skipped as kubectl skips them; a `kind: List` is
 * expanded into its items; objects of other API groups (Namespace, RBAC, ...) are skipped with a
 * note, since only the entropo.dev kinds are ours to check.
 */
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Tags } from 'yaml';
import { GROUP, VERSION } from './common.ts';
import { KINDS } from './kinds.ts';
import { parseResource, ValidationError, type FieldError } from './validate.ts';
import { headChars } from '../util/text.ts';

export interface ManifestResult {
  /** "file:line" of the document (document N when the file has several); "file:line:column" of a syntax error. */
  where: string;
  status: 'valid' | 'invalid' | 'skipped';
  /** Kind of the object, when it has one; "YAML" for a document that does not parse (where is then file:line:column). */
  kind?: string;
  /** The object with the schema defaults applied (valid documents). */
  value?: unknown;
  /** What is wrong (invalid documents): field and message, schema and rule errors together. */
  errors?: FieldError[];
  /** Why a document was skipped. */
  note?: string;
}

/** YAML 1.1 as go-yaml v2 reads it into untyped values: no timestamp or base-60 types. */
const kubectlTags = (tags: Tags): Tags =>
  tags.filter((t) => {
    const tag = t as { tag?: string; format?: string };
    return tag.tag !== 'tag:yaml.org,2002:timestamp' && tag.format !== 'TIME';
  });

/**
 * A YAML syntax error as one readable message: the parser's sentence without its trailing
 * " at line L, column C:" (the caller names the place as file:line:column) followed by its code frame.
 */
function syntaxMessage(message: string): string {
  const [head, ...frame] = message.split('\n');
  const sentence = head.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
  const snippet = frame.filter((l) => l.trim() !== '').map((l) => `      ${l}`);
  return snippet.length ? `${sentence}\n${snippet.join('\n')}` : sentence;
}

/** The parts of a FieldError path: "spec.tasks.instanceIds[3]" -> ["spec", "tasks", "instanceIds", 3]. */
function pathParts(field: string): (string | number)[] {
  return [...field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]));
}

/**
 * The 1-based line of `field` (a FieldError path such as "spec.preference.zeta") in a parsed
 * document: the line of the deepest part of the path the document has (a missing required field
 * gives its parent's line). Keys with dots ("app.kubernetes.io/name") match greedily. Pure.
 */
export function fieldLine(doc: Document, lineCounter: LineCounter, field: string): number | undefined {
  const parts = pathParts(field);
  let node: unknown = doc.contents;
  let line: number | undefined;
  let i = 0;
  while (i < parts.length) {
    const part = parts[i];
    if (typeof part === 'number' && isSeq(node)) {
      const item = node.items[part] as { range?: [number, number, number] } | undefined;
      if (!item?.range) break;
      line = lineCounter.linePos(item.range[0]).line;
      node = item;
      i++;
      continue;
    }
    if (typeof part !== 'string' || !isMap(node)) break;
    const map = node;
    let found = false;
    // the longest run of name parts that is a key of this map ("app.kubernetes.io/name")
    for (let j = parts.length; j > i && !found; j--) {
      if (parts.slice(i, j).some((p) => typeof p === 'number')) continue;
      const key = parts.slice(i, j).join('.');
      const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
      if (!pair) continue;
      const range = (pair.key as { range?: [number, number, number] }).range;
      if (range) line = lineCounter.linePos(range[0]).line;
      node = pair.value;
      i = j;
      found = true;
    }
    if (!found) break;
  }
  return line;
}

/** One document of a manifest file: its 1-based line, and its value or its first syntax error. */
export interface ManifestDocument {
  line: number;
  /** 1-based column of a syntax error. */
  column?: number;
  /** 0-based index of the document in the file. */
  index: number;
  value?: unknown;
  /** A syntax error: the parser's sentence and code frame. */
  error?: string;
  /** The 1-based line of a field (a FieldError path) of a parsed document. */
  lineOf?: (field: string) => number | undefined;
}

/**
 * Parses YAML text as kubectl does; returns each non-empty document with its 1-based line, or its
 * first syntax error (with its 1-based column and a code frame). `lineOf` gives a field's line.
 */
export function readManifestDocuments(text: string): ManifestDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { version: '1.1', customTags: kubectlTags, lineCounter, uniqueKeys: true });
  const out: ManifestDocument[] = [];
  docs.forEach((doc, index) => {
    const start = doc.contents?.range?.[0] ?? doc.range[0];
    const line = lineCounter.linePos(start).line;
    if (doc.errors.length) {
      const e = doc.errors[0];
      out.push({ line: e.linePos?.[0].line ?? line, column: e.linePos?.[0].col, index, error: syntaxMessage(e.message) });
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // an empty document: kubectl skips it
    out.push({ line, index, value, lineOf: (field) => fieldLine(doc, lineCounter, field) });
  });
  return out;
}

const API_VERSION = `${GROUP}/${VERSION}`;

function validateObject(obj: unknown, where: string): ManifestResult {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    return { where, status: 'invalid', errors: [{ field: '', message: `must be an object with apiVersion and kind (got ${headChars(JSON.stringify(obj) ?? '', 60)})` }] };
  }
  const o = obj as { apiVersion?: unknown; kind?: unknown };
  const group = typeof o.apiVersion === 'string' && o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  if (group !== GROUP) {
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || !o.kind) {
      return { where, status: 'invalid', errors: [{ field: typeof o.apiVersion !== 'string' ? 'apiVersion' : 'kind', message: 'is required (kubectl cannot send an object without apiVersion and kind)' }] };
    }
    return { where, status: 'skipped', kind: o.kind, note: `${o.kind} (${o.apiVersion}) is not an ${GROUP} kind: skipped` };
  }
  if (o.apiVersion !== API_VERSION || !KINDS.some((k) => k.kind === o.kind)) {
    return {
      where,
      status: 'invalid',
      errors: [{ field: 'kind', message: `no kind ${JSON.stringify(o.kind)} in version ${JSON.stringify(o.apiVersion)} (expected ${API_VERSION} ${KINDS.map((k) => k.kind).join(', ')})` }],
    };
  }
  try {
    const { kind, value } = parseResource(obj, where);
    return { where, status: 'valid', kind, value };
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    return { where, status: 'invalid', kind: String(o.kind), errors: e.errors };
  }
}

/**
 * Validates every document of a manifest file (source names it in the results). A document
 * that is a `kind: List` is checked item by item.
 */
export function validateManifests(text: string, source: string): ManifestResult[] {
  const docs = readManifestDocuments(text);
  const many = docs.length > 1;
  const results: ManifestResult[] = [];
  for (const d of docs) {
    const where = `${source}:${d.line}${many ? ` (document ${d.index + 1})` : ''}`;
    if (d.error !== undefined) {
      const at = `${source}:${d.line}${d.column ? `:${d.column}` : ''}${many ? ` (document ${d.index + 1})` : ''}`;
      results.push({ where: at, status: 'invalid', kind: 'YAML', errors: [{ field: '', message: `YAML syntax error: ${d.error}` }] });
      continue;
    }
    const v = d.value as { kind?: unknown; items?: unknown };
    // each error gets the line of its field in the file
    const located = (r: ManifestResult, prefix: string): ManifestResult => {
      for (const e of r.errors ?? []) {
        const line = d.lineOf?.(prefix + e.field);
        if (line !== undefined) e.line = line;
      }
      return r;
    };
    if (v && typeof v === 'object' && v.kind === 'List' && Array.isArray(v.items)) {
      v.items.forEach((item, i) => results.push(located(validateObject(item, `${where} items[${i}]`), `items[${i}].`)));
      continue;
    }
    results.push(located(validateObject(d.value, where), ''));
  }
  return results;
}
