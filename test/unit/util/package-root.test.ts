import test from 'ava';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { entropoEntry, packageRoot } from '../../../operator/util/package-root.ts';

test('packageRoot / entropoEntry: the directory with bin/entropo.js above the module (here: the repository)', (t) => {
  t.is(packageRoot(), path.resolve('.'));
  t.is(entropoEntry(), path.resolve('bin/entropo.js'));
  t.true(existsSync(entropoEntry()));
});
