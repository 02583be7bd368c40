/** Option parsers shared by the subcommands: commander reports the option name with the message. */
import { InvalidArgumentError } from 'commander';

export const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
};

export const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
};

/**
 * Parser of an option whose values are an API enum (CamelCase, e.g. Train | Eval | All): the
 * value is matched without regard to case and returned as the API spells it.
 */
export const oneOf =
  <const T extends readonly string[]>(values: T) =>
  (v: string): T[number] => {
    const hit = values.find((x) => x.toLowerCase() === v.toLowerCase());
    if (hit === undefined) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return hit;
  };

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/**
 * A duration in seconds, written as kubectl and helm take them (Go's time.ParseDuration units
 * ms, s, m, h, combinable: "90s", "5m", "1h30m", "1.5h") or as a bare number of seconds.
 * Throws on anything else, and on a negative duration.
 */
export function parseDuration(v: string): number {
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(t)) throw new Error(`expected a duration such as 30s, 5m or 1h30m, or seconds (got ${JSON.stringify(v)})`);
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * UNIT_SECONDS[m[2]];
  return total;
}

/** Option parser: a duration (see parseDuration) in whole seconds, at least 1. */
export const seconds = (v: string): number => {
  let n: number;
  try {
    n = parseDuration(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  if (n < 1) throw new InvalidArgumentError(`expected at least 1s (got ${JSON.stringify(v)})`);
  return Math.ceil(n);
};

/** Option parser: a duration in seconds that may be 0 (0 = off). */
export const secondsOrZero = (v: string): number => {
  try {
    return Math.ceil(parseDuration(v));
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
