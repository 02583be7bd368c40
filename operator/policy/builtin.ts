/**
 * Built-in checkpoints shipped with the operator: `builtin:<name>` policy / reference / verifier
 * sources resolve to a model directory under operator/policy/builtin/<name>/ (config.json,
 * model.safetensors, tokenizer.json, tokenizer_config.json). The image ships that directory.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built-in tiny coder policy (a demonstration-sized model; README: what it is and is not). */
export const TINY_CODER = 'tiny-coder';
/** The built-in verifier trained on the tiny coder's rollouts. */
export const TINY_VERIFIER = 'tiny-verifier';

/** Where the built-in checkpoints live: $ENTROPO_BUILTIN_DIR, next to this module, or the checkout's sources (from dist/). */
export function builtinRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [process.env.ENTROPO_BUILTIN_DIR, path.join(here, 'builtin'), path.join(here, '..', '..', '..', 'operator', 'policy', 'builtin')].filter(
    (p): p is string => !!p,
  );
  return candidates.find((p) => existsSync(p)) ?? candidates[candidates.length - 1];
}

/** Names of the built-in checkpoints present. */
export function builtinModels(): string[] {
  const root = builtinRoot();
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(root, e.name, 'config.json')))
    .map((e) => e.name)
    .sort();
}

/**
 * The model directory of a built-in checkpoint. Accepts `name` or `builtin:name`. Throws, listing
 * the available names, when there is no such checkpoint.
 */
export function resolveBuiltinModel(name: string): string {
  const bare = name.replace(/^builtin:/, '');
  if (!/^[a-z0-9][a-z0-9-]*$/.test(bare)) throw new Error(`builtin:${bare}: not a built-in model name (lowercase letters, digits and dashes)`);
  const dir = path.join(builtinRoot(), bare);
  if (!existsSync(path.join(dir, 'config.json'))) {
    const have = builtinModels();
    throw new Error(`builtin:${bare}: no such built-in model (available: ${have.length ? have.map((n) => `builtin:${n}`).join(', ') : 'none'}; ${dir} has no config.json)`);
  }
  return dir;
}
