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

export function toOpenApi(schema: TSchema): Json {
  const s = schema as unknown as Json;
  const out: Json = {};
  const rules = rulesOf(schema);

  if (s['x-kubernetes-int-or-string']) {
    out['x-kubernetes-int-or-string'] = true;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
    if (s.description) out.description = s.description;
    return out;
  }
  const anyOf = s.anyOf as Json[] | undefined;
  if (anyOf) {
    if (!anyOf.every((b) => typeof b.const === 'string')) {
      throw new Error(`unsupported union in CRD schema: ${JSON.stringify(s).slice(0, 200)}`);
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
      out.additionalProperties = toOpenApi(Object.values(pattern)[0]);
    }
    if (props) {
      out.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, toOpenApi(v)]));
      const required = ((s.required as string[] | undefined) ?? []).filter(
        (k) => (props[k] as unknown as Json).default === undefined,
      );
      if (required.length) out.required = required;
    }
  } else if (s.type === 'array') {
    out.type = 'array';
    out.items = toOpenApi(s.items as TSchema);
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
  const root = toOpenApi(info.schema);
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
