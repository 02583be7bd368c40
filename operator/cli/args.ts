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
