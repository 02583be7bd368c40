import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { renderCrds, renderAll } from '../../../operator/api/generate.ts';
import { KINDS } from '../../../operator/api/kinds.ts';

test('committed CRDs and API reference match the schemas (run `npm run generate` after changing operator/api)', (t) => {
  for (const [name, text] of renderAll()) {
    t.is(readFileSync(join(process.cwd(), name), 'utf8'), text, `${name} drifted`);
  }
});

type Schema = Record<string, any>;
function walk(s: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(s, path);
  for (const [k, v] of Object.entries(s.properties ?? {})) walk(v as Schema, `${path}.${k}`, visit);
  if (s.items) walk(s.items, `${path}[]`, visit);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${path}{}`, visit);
}

for (const info of KINDS) {
  test(`${info.kind}: every spec and status field has a description and a type`, (t) => {
    const crd = parseYaml(renderCrds().get(`entropo.dev_${info.plural}.yaml`)!);
    const root = crd.spec.versions[0].schema.openAPIV3Schema;
    const missing: string[] = [];
    for (const top of ['spec', 'status']) {
      walk(root.properties[top], top, (s, path) => {
        if (!path.endsWith('[]') && !path.endsWith('{}') && !s.description) missing.push(`${path}: no description`);
        if (!s.type && !s['x-kubernetes-int-or-string'] && !s['x-kubernetes-preserve-unknown-fields']) missing.push(`${path}: no type`);
      });
    }
    t.deepEqual(missing, []);
    t.deepEqual(crd.spec.versions[0].subresources, { status: {} });
    t.true(crd.spec.names.categories.includes('entropo'));
    t.true(crd.spec.names.shortNames.length > 0);
  });
}
