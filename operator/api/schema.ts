/**
 * Schema building blocks. Every schema in operator/api is a TypeBox schema, which is at once a
 * JSON Schema (turned into the CRDs' OpenAPI v3 by crd.ts), a TypeScript type (Static<>) and a
 * runtime validator (validate.ts). Helpers here keep the Kubernetes extensions in one place.
 */
import { Type, type TSchema, type TLiteral, type TUnion, type SchemaOptions } from '@sinclair/typebox';

export { Type };
export type { Static, TSchema } from '@sinclair/typebox';

/** A string enum: a union of literals for TypeScript; crd.ts renders it as `enum`. */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: SchemaOptions & { default?: T[number] } = {},
): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  ) as TUnion<TLiteral<T[number]>[]>;
}

/** A cross-field rule: CEL for the API server, the same predicate in TypeScript for local mode. */
export interface Rule<T = unknown> {
  /** CEL expression evaluated by the API server (x-kubernetes-validations). */
  cel: string;
  /** Error message; it names the field(s) and what is expected. */
  message: string;
  /** Field the error is reported on, relative to the object carrying the rule (e.g. ".gamma"). */
  fieldPath?: string;
  /** Transition rule (uses oldSelf): only checked on update. */
  transition?: boolean;
  /** The same predicate for validation without an API server. old is set for transition rules. */
  check: (self: T, old?: T) => boolean;
}

export const RULES = Symbol.for('entropo.rules');

/** Attaches rules to a schema; crd.ts emits them as x-kubernetes-validations. */
export function withRules<S extends TSchema>(schema: S, rules: Rule<never>[]): S {
  (schema as unknown as Record<symbol, unknown>)[RULES] = rules;
  return schema;
}

export function rulesOf(schema: TSchema): Rule<unknown>[] {
  return ((schema as unknown as Record<symbol, unknown>)[RULES] as Rule<unknown>[] | undefined) ?? [];
}

/**
 * The grammar of a Kubernetes resource.Quantity (apimachinery's quantity.go, the pattern
 * controller-gen writes): a signed decimal, then a binary suffix (Ki..Ei), a decimal suffix
 * (n, u, m, k, M..E) or a decimal exponent. "1.5.0" and "512mi" do not match.
 */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** Kubernetes quantity ("500m", "2Gi", 4): an integer or a string in the quantity grammar. */
export const Quantity = (description: string) =>
  Type.Union([Type.Integer(), Type.String({ pattern: QUANTITY_PATTERN })], {
    description,
    'x-kubernetes-int-or-string': true,
  });

/** A free-form object passed through to Kubernetes as it is (tolerations, affinity, ...). */
export const Opaque = (description: string) =>
  Type.Record(Type.String(), Type.Unknown(), { description, 'x-kubernetes-preserve-unknown-fields': true });

/** A DNS-1123 label (Namespace, Kueue queue names): at most 63 characters. */
export const DNS1123 = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/** A DNS-1123 subdomain (most object names: PriorityClass, RuntimeClass, Secret): at most 253 characters. */
export const DNS1123_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** A qualified name (label and annotation keys, taint keys): [DNS-subdomain prefix/]name, name at most 63 characters. */
export const QUALIFIED_NAME = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$';

/** A label value: empty, or at most 63 characters of [-A-Za-z0-9_.] starting and ending alphanumeric. */
export const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';
