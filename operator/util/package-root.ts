/**
 * Where the `entropo` command lives, for the commands that run a part of the product as a child
 * process (local mode's trainer, the trainer Job's `entropo train`): the first directory above this
 * module with bin/entropo.js. The same from the TypeScript sources (<repo>/operator/util) and from
 * the compiled image (/opt/entropo/app/dist/operator/util), which differ in depth.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (the repository, or /opt/entropo/app in the image). Throws when there is none within 6 levels. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'bin', 'entropo.js'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find bin/entropo.js above ${path.dirname(fileURLToPath(import.meta.url))}`);
}

/** The `entropo` entry script (bin/entropo.js), run with process.execPath. */
export function entropoEntry(): string {
  return path.join(packageRoot(), 'bin', 'entropo.js');
}
