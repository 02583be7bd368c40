/**
 * Turns the TypeBox schemas of kinds.ts into CustomResourceDefinitions: structural OpenAPI v3
 * (enums from literal unions, additionalProperties from records, OpenAPI 3.0 exclusive bounds,
 * int-or-string quantities), CEL rules as x-kubernetes-validations, printer columns, short
 * names and the `entropo` category. Pure: objects in, objects out.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { rulesOf } from './schema.ts';
import { GROUP, VERSION } from './common.ts';
import type { KindInfo } from './kinds.ts';
import { headChars } from '../util/text.ts';

type Json = Record<string, unknown>;

const COPIED = [
  'description',
  'default',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minItems',
  'maxItems',
  'maxProperties',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
] as const;

const num = (x: unknown) => String(x);

/**
 * The default and bounds of a field as a sentence ("Default 0.7; 0 to 2."), appended to the
 * description in the CRDs because `kubectl explain` shows descriptions, not defaults or bounds.
 * Empty when the field has neither.
 */
export function defaultsAndBounds(s: Json): string {
  const parts: string[] = [];
  const d = s.default;
  if (d !== undefined && (typeof d !== 'object' || Array.isArray(d))) {
    const text = typeof d === 'string' ? d : JSON.stringify(d);
    if (text.length <= 120) parts.push(`Default ${text === '' ? '""' : text}`);
  }
  const lo = s.exclusiveMinimum !== undefined && typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum : s.minimum;
  const loOpen = typeof s.exclusiveMinimum === 'number';
  const hi = typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum : s.maximum;
  const hiOpen = typeof s.exclusiveMaximum === 'number';
  if (lo !== undefined && hi !== undefined && !loOpen && !hiOpen) parts.push(`${num(lo)} to ${num(hi)}`);
  else {
    const b: string[] = [];
    if (lo !== undefined) b.push(`${loOpen ? '>' : '>='} ${num(lo)}`);
    if (hi !== undefined) b.push(`${hiOpen ? '<' : '<='} ${num(hi)}`);
    if (b.length) parts.push(b.join(' and '));
  }
  if (s.minItems !== undefined || s.maxItems !== undefined) {
    parts.push(s.minItems !== undefined && s.maxItems !== undefined ? `${s.minItems} to ${s.maxItems} items` : s.maxItems !== undefined ? `at most ${s.maxItems} items` : `at least ${s.minItems} items`);
  }
  return parts.length ? `${parts.join('; ')}.` : '';
}

export interface OpenApiOptions {
  /** Append defaults and bounds to descriptions (the CRDs, for kubectl explain). */
  explain?: boolean;
}

export function toOpenApi(schema: TSchema, opts: OpenApiOptions = {}): Json {
  const s = schema as unknown as Json;
  const out: Json = {};
  const rules = rulesOf(schema);

  if (s['x-kubernetes-int-or-string']) {
    out['x-kubernetes-int-or-string'] = true;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
    // The string member's grammar (a quantity) holds at this level, as controller-gen writes it;
    // the API server applies a pattern to strings only.
    const pattern = ((s.anyOf as Json[] | undefined) ?? []).find((b) => b.type === 'string')?.pattern;
    if (pattern) out.pattern = pattern;
    if (s.description) out.description = s.description;
    return out;
  }
  const anyOf = s.anyOf as Json[] | undefined;
  if (anyOf) {
    if (!anyOf.every((b) => typeof b.const === 'string')) {
      throw new Error(`unsupported union in CRD schema: ${headChars(JSON.stringify(s), 200)}`);
    }
    out.type = 'string';
    out.enum = anyOf.map((b) => b.const);
  } else if (s.const !== undefined) {
    out.type = typeof s.const;
    out.enum = [s.const];
  } else if (s.type === 'object') {
    out.type = 'object';
    const props = s.properties as Record<string, TSchema> | undefined;
    const pattern = s.patternProperties as Record<string, TSchema> | undefined;
    if (s['x-kubernetes-preserve-unknown-fields']) {
      out['x-kubernetes-preserve-unknown-fields'] = true;
    } else if (pattern) {
      out.additionalProperties = toOpenApi(Object.values(pattern)[0], opts);
    }
    if (props) {
      out.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, toOpenApi(v, opts)]));
      const required = ((s.required as string[] | undefined) ?? []).filter(
        (k) => (props[k] as unknown as Json).default === undefined,
      );
      if (required.length) out.required = required;
    }
  } else if (s.type === 'array') {
    out.type = 'array';
    out.items = toOpenApi(s.items as TSchema, opts);
  } else if (typeof s.type === 'string') {
    out.type = s.type;
  } else {
    // Type.Unknown(): anything, kept as it is.
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }

  for (const k of COPIED) if (s[k] !== undefined) out[k] = s[k];
  // An object default is written out with its nested defaults applied: the API server validates
  // defaults (CEL rules included) as they are written.
  if (s.default !== null && typeof s.default === 'object' && !Array.isArray(s.default)) {
    out.default = Value.Default(schema, structuredClone(s.default));
  }
  if (typeof s.exclusiveMinimum === 'number') {
    out.minimum = s.exclusiveMinimum;
    out.exclusiveMinimum = true;
  }
  if (typeof s.exclusiveMaximum === 'number') {
    out.maximum = s.exclusiveMaximum;
    out.exclusiveMaximum = true;
  }
  if (opts.explain && typeof out.description === 'string') {
    const extra = defaultsAndBounds(s);
    if (extra) out.description = `${out.description} ${extra}`;
  }
  if (rules.length) {
    out['x-kubernetes-validations'] = rules.map((r) => ({
      rule: r.cel,
      message: r.message,
      ...(r.fieldPath ? { fieldPath: r.fieldPath } : {}),
    }));
  }
  return out;
}

/** The root schema: apiVersion/kind/metadata as Kubernetes wants them, spec and status converted. */
function rootSchema(info: KindInfo): Json {
  const root = toOpenApi(info.schema, { explain: true });
  const props = root.properties as Json;
  props.apiVersion = { type: 'string', description: 'APIVersion of this object: entropo.dev/v1alpha1.' };
  props.kind = { type: 'string', description: `Kind of this object: ${info.kind}.` };
  props.metadata = { type: 'object' };
  root.required = ['spec'];
  root.description = info.description;
  return root;
}

export function crdFor(info: KindInfo): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${info.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'entropo-operator' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        shortNames: info.shortNames,
        categories: ['entropo'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: info.printerColumns,
          schema: { openAPIV3Schema: rootSchema(info) },
        },
      ],
    },
  };
}
