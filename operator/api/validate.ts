/**
 * Validation without an API server (local mode, `entropo train`, task files): applies the
 * schema defaults, checks the schema, rejects unknown fields, then checks the same cross-field
 * rules the CRDs carry as CEL. Every error names the field and what was expected.
 */
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { rulesOf, DNS1123, DNS1123_SUBDOMAIN, QUALIFIED_NAME, LABEL_VALUE } from './schema.ts';
import { KINDS } from './kinds.ts';
import { headChars } from '../util/text.ts';

// The formats the CRDs use, checked as the API server does (RFC 3339 date-time).
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (v) => /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v)));
}

export interface FieldError {
  /** Dotted path, e.g. "spec.preference.zeta" or "spec.tasks.instanceIds[3]". */
  field: string;
  message: string;
  /** 1-based line of the field in the file it came from, when known (manifests read by validateManifests). */
  line?: number;
}

export class ValidationError extends Error {
  constructor(
    readonly what: string,
    readonly errors: FieldError[],
  ) {
    super(`${what} is invalid:\n${errors.map((e) => `  - ${e.field || '(root)'}: ${e.message}`).join('\n')}`);
    this.name = 'ValidationError';
  }
}

export type Result<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** JSON pointer "/spec/tasks/instanceIds/3" -> "spec.tasks.instanceIds[3]". */
export function fieldOf(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function describe(e: ValueError): string {
  const s = e.schema as Record<string, unknown>;
  const got = e.value === undefined ? 'nothing' : headChars(JSON.stringify(e.value) ?? '', 80);
  if (s['x-kubernetes-int-or-string']) {
    return `must be an integer or a quantity string such as 500m, 2Gi or 1.5 (Kubernetes quantity grammar) (got ${got})`;
  }
  const anyOf = s.anyOf as Record<string, unknown>[] | undefined;
  if (anyOf && anyOf.every((b) => b.const !== undefined)) {
    return `must be one of ${anyOf.map((b) => JSON.stringify(b.const)).join(', ')} (got ${got})`;
  }
  if (s.const !== undefined) return `must be ${JSON.stringify(s.const)} (got ${got})`;
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be >= ${s.minimum} (got ${got})`;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be <= ${s.maximum} (got ${got})`;
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerExclusiveMinimum:
      return `must be > ${s.exclusiveMinimum} (got ${got})`;
    case ValueErrorType.Integer:
      return `must be an integer (got ${got})`;
    case ValueErrorType.Number:
      return `must be a number (got ${got})`;
    case ValueErrorType.String:
      return `must be a string (got ${got})`;
    case ValueErrorType.Boolean:
      return `must be a boolean (got ${got})`;
    case ValueErrorType.Object:
      return `must be an object (got ${got})`;
    case ValueErrorType.Array:
      return `must be a list (got ${got})`;
    case ValueErrorType.StringPattern:
      return `must match ${s.pattern}${s.description ? ` (${s.description})` : ''} (got ${got})`;
    case ValueErrorType.StringMinLength:
      return `must have at least ${s.minLength} characters`;
    case ValueErrorType.StringMaxLength:
      return `must have at most ${s.maxLength} characters`;
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${s.minItems} items`;
    case ValueErrorType.ArrayMaxItems:
      return `must have at most ${s.maxItems} items`;
    default:
      return `${e.message} (got ${got})`;
  }
}

/** Fields present in value that the schema does not declare (the API server rejects them under strict field validation). */
function unknownFields(schema: TSchema, value: unknown, path: string, out: FieldError[]): void {
  const s = schema as unknown as Record<string, unknown>;
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    if (s.type === 'array') value.forEach((v, i) => unknownFields(s.items as TSchema, v, `${path}[${i}]`, out));
    return;
  }
  if (s.type !== 'object' || s['x-kubernetes-preserve-unknown-fields'] || s.additionalProperties === true) return;
  const props = s.properties as Record<string, TSchema> | undefined;
  const pattern = s.patternProperties as Record<string, TSchema> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const child = props?.[k] ?? (pattern ? Object.values(pattern)[0] : undefined);
    const at = path ? `${path}.${k}` : k;
    if (!child) out.push({ field: at, message: `unknown field${props ? ` (expected one of ${Object.keys(props).join(', ')})` : ''}` });
    else unknownFields(child, v, at, out);
  }
}

/**
 * Whether a schema error stops the CEL rules, as in the API server (apiextensions'
 * hasBlockingErr): a wrong type, a missing required field, a value outside an enum, a string
 * or list over its maximum. Other errors (pattern, bounds, unknown fields) leave the rules to run,
 * and both kinds of error are reported.
 */
function isBlocking(e: ValueError): boolean {
  const s = e.schema as Record<string, unknown>;
  if (s['x-kubernetes-int-or-string']) return typeof e.value !== 'number' && typeof e.value !== 'string';
  const anyOf = s.anyOf as Record<string, unknown>[] | undefined;
  if (anyOf || s.const !== undefined) return true; // enum: NotSupported
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
    case ValueErrorType.StringMaxLength:
    case ValueErrorType.ArrayMaxItems:
    case ValueErrorType.Integer:
    case ValueErrorType.Number:
    case ValueErrorType.String:
    case ValueErrorType.Boolean:
    case ValueErrorType.Object:
    case ValueErrorType.Array:
      return true;
    default:
      return false;
  }
}

/** The API server's note when schema errors kept the CEL rules from running. */
export const RULES_NOT_CHECKED = 'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

/** Checks the cross-field rules attached anywhere in the schema, at the places they are attached. */
function ruleErrors(schema: TSchema, value: unknown, old: unknown, path: string, out: FieldError[]): void {
  const s = schema as unknown as Record<string, unknown>;
  if (value === null || typeof value !== 'object') return;
  for (const r of rulesOf(schema)) {
    if (r.transition && old === undefined) continue;
    let ok: boolean;
    try {
      ok = r.check(value as never, old as never);
    } catch {
      continue; // a value the schema already rejects; the schema error names it
    }
    if (!ok) {
      const field = r.fieldPath ? `${path}${r.fieldPath}`.replace(/^\./, '') : path;
      out.push({ field, message: r.message });
    }
  }
  const props = s.properties as Record<string, TSchema> | undefined;
  if (props && !Array.isArray(value)) {
    for (const [k, child] of Object.entries(props)) {
      const v = (value as Record<string, unknown>)[k];
      const o = old && typeof old === 'object' ? (old as Record<string, unknown>)[k] : undefined;
      if (v !== undefined) ruleErrors(child, v, o, path ? `${path}.${k}` : k, out);
    }
  }
  if (s.type === 'array' && Array.isArray(value)) {
    value.forEach((v, i) => ruleErrors(s.items as TSchema, v, undefined, `${path}[${i}]`, out));
  }
}

/**
 * Defaults, then validates. Returns the defaulted value; the input is not modified.
 * old: the stored object, for transition rules (immutability).
 */
export function check<T>(schema: TSchema, input: unknown, old?: unknown): Result<T> {
  const { value, errors } = checkAll(schema, input, old);
  return errors.length ? { ok: false, errors } : { ok: true, value: value as T };
}

/** check() with the API server's note when schema errors kept the rules from running. */
function checkAll(schema: TSchema, input: unknown, old?: unknown): { value: unknown; errors: FieldError[]; rulesSkipped: boolean } {
  const value = Value.Default(schema, structuredClone(input));
  const errors: FieldError[] = [];
  unknownFields(schema, value, '', errors);
  // a field reported unknown above is not reported again as TypeBox's "Unexpected property" (additionalProperties: false)
  const seen = new Set<string>(errors.map((e) => e.field));
  let blocking = false;
  for (const e of Value.Errors(schema, value)) {
    const field = fieldOf(e.path);
    // A union reports once for itself and once per branch: keep the first message per field.
    if (seen.has(field)) continue;
    seen.add(field);
    errors.push({ field, message: describe(e) });
    if (isBlocking(e)) blocking = true;
  }
  if (!blocking) ruleErrors(schema, value, old, '', errors);
  return { value, errors, rulesSkipped: blocking };
}

/** Like check(), but throws a ValidationError naming `what` (a file, a line, an object). */
export function parse<T>(schema: TSchema, input: unknown, what: string, old?: unknown): T {
  const r = check<T>(schema, input, old);
  if (!r.ok) throw new ValidationError(what, r.errors);
  return r.value;
}

const re = (p: string) => new RegExp(p);
const SUBDOMAIN = re(DNS1123_SUBDOMAIN);
const LABEL = re(DNS1123);
const QNAME = re(QUALIFIED_NAME);
const LVALUE = re(LABEL_VALUE);

/** A qualified-name key's problem (label and annotation keys), or undefined. */
function keyProblem(k: string): string | undefined {
  const slash = k.lastIndexOf('/');
  const prefix = slash >= 0 ? k.slice(0, slash) : '';
  if (slash >= 0 && prefix.length > 253) return 'prefix must be no more than 253 characters';
  if (!QNAME.test(k)) {
    return "must be a qualified name: an optional DNS subdomain prefix and '/', then at most 63 characters of [-A-Za-z0-9_.] starting and ending alphanumeric";
  }
  return undefined;
}

/**
 * ObjectMeta as the API server checks it for a namespaced custom resource
 * (apimachinery ValidateObjectMeta): name required and a DNS-1123 subdomain, namespace a DNS-1123
 * label, label keys qualified names and values label values, annotation keys qualified names and
 * annotations at most 256 KiB in all.
 */
export function metadataErrors(meta: unknown): FieldError[] {
  const out: FieldError[] = [];
  if (meta === undefined || meta === null) return [{ field: 'metadata.name', message: 'name or generateName is required' }];
  if (typeof meta !== 'object' || Array.isArray(meta)) return [{ field: 'metadata', message: 'must be an object' }];
  const m = meta as Record<string, unknown>;
  const str = (v: unknown) => typeof v === 'string';
  if (m.name === undefined || m.name === '') {
    if (!str(m.generateName) || m.generateName === '') out.push({ field: 'metadata.name', message: 'name or generateName is required' });
  } else if (!str(m.name)) out.push({ field: 'metadata.name', message: 'must be a string' });
  else if ((m.name as string).length > 253 || !SUBDOMAIN.test(m.name as string)) {
    out.push({ field: 'metadata.name', message: `must be a lowercase RFC 1123 subdomain: at most 253 characters of a-z, 0-9, '-' and '.', starting and ending alphanumeric (got ${JSON.stringify(m.name)})` });
  }
  if (m.namespace !== undefined && (!str(m.namespace) || (m.namespace as string).length > 63 || !LABEL.test(m.namespace as string))) {
    out.push({ field: 'metadata.namespace', message: `must be a lowercase RFC 1123 label: at most 63 characters of a-z, 0-9 and '-' (got ${JSON.stringify(m.namespace)})` });
  }
  for (const [which, isLabels] of [['labels', true], ['annotations', false]] as const) {
    const map = m[which];
    if (map === undefined || map === null) continue;
    if (typeof map !== 'object' || Array.isArray(map)) {
      out.push({ field: `metadata.${which}`, message: 'must be a map of strings' });
      continue;
    }
    let size = 0;
    for (const [k, v] of Object.entries(map)) {
      const problem = keyProblem(k);
      if (problem) out.push({ field: `metadata.${which}`, message: `key ${JSON.stringify(k)}: ${problem}` });
      if (!str(v)) out.push({ field: `metadata.${which}.${k}`, message: `must be a string (got ${JSON.stringify(v)})` });
      else if (isLabels && ((v as string).length > 63 || !LVALUE.test(v as string))) {
        out.push({ field: `metadata.${which}`, message: `value ${JSON.stringify(v)} of ${k}: must be empty or at most 63 characters of [-A-Za-z0-9_.] starting and ending alphanumeric` });
      }
      size += k.length + (str(v) ? (v as string).length : 0);
    }
    if (!isLabels && size > 256 * 1024) out.push({ field: 'metadata.annotations', message: 'must have at most 262144 bytes in all' });
  }
  return out;
}

/** Validates a custom resource by its kind (apiVersion and kind are checked first, then metadata, spec and the rules). */
export function parseResource(input: unknown, what = 'resource'): { kind: string; value: unknown } {
  const obj = input as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: string; namespace?: string } };
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ValidationError(what, [{ field: '', message: 'must be an object' }]);
  if (obj.apiVersion !== 'entropo.dev/v1alpha1') {
    throw new ValidationError(what, [{ field: 'apiVersion', message: `must be "entropo.dev/v1alpha1" (got ${JSON.stringify(obj.apiVersion)})` }]);
  }
  const info = KINDS.find((k) => k.kind === obj.kind);
  if (!info) {
    throw new ValidationError(what, [{ field: 'kind', message: `must be one of ${KINDS.map((k) => k.kind).join(', ')} (got ${JSON.stringify(obj.kind)})` }]);
  }
  const name = obj.metadata?.name ? `${info.kind} ${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}` : what;
  const r = checkAll(info.schema, input);
  const errors = [...metadataErrors(obj.metadata), ...r.errors];
  if (r.rulesSkipped) errors.push({ field: '', message: RULES_NOT_CHECKED });
  if (errors.length) throw new ValidationError(name, errors);
  return { kind: info.kind, value: r.value };
}
