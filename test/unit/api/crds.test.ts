import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { renderCrds, renderAll } from '../../../operator/api/generate.ts';
import { KINDS } from '../../../operator/api/kinds.ts';
import { BuiltinSuites } from '../../../operator/api/common.ts';
import { defaultsAndBounds } from '../../../operator/api/crd.ts';

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

/** Short names of widely installed CRDs (Tekton, ECK, Argo, cert-manager, Knative, Istio, ...) and built-ins. */
const TAKEN_SHORT_NAMES = ['tr', 'es', 'pr', 't', 'p', 'wf', 'cwf', 'wftmpl', 'cert', 'certs', 'cr', 'crs', 'ksvc', 'rev', 'vs', 'gw', 'dr', 'se', 'kb', 'ent', 'apm', 'po', 'svc', 'rs', 'ds', 'sts', 'ns', 'ev', 'ep', 'sa', 'pv', 'pvc', 'hpa', 'pdb', 'sc', 'crd', 'rt', 'rj', 'rc', 'ing', 'netpol', 'cm', 'csr'];

test('short names: trun, rb, evs, colliding with no widely installed CRD or built-in kind', (t) => {
  t.deepEqual(Object.fromEntries(KINDS.map((k) => [k.kind, k.shortNames])), { TrainingRun: ['trun'], RolloutBatch: ['rb'], EvalSuite: ['evs'] });
  for (const k of KINDS) for (const n of k.shortNames) t.false(TAKEN_SHORT_NAMES.includes(n), `${k.kind} short name ${n} is taken`);
});

test('every enum value in the CRDs is CamelCase (Kubernetes API conventions), except condition status True/False/Unknown', (t) => {
  const bad: string[] = [];
  let enums = 0;
  for (const info of KINDS) {
    const crd = parseYaml(renderCrds().get(`entropo.dev_${info.plural}.yaml`)!);
    const root = crd.spec.versions[0].schema.openAPIV3Schema;
    for (const top of ['spec', 'status']) {
      walk(root.properties[top], top, (s, path) => {
        if (!s.enum) return;
        enums++;
        for (const v of s.enum) if (!/^[A-Z][A-Za-z0-9]*$/.test(String(v))) bad.push(`${info.kind} ${path}: ${v}`);
      });
    }
  }
  t.true(enums >= 15, `only ${enums} enums found`);
  t.deepEqual(bad, []);
});

test('condition types carry metav1.Condition\'s validation pattern', (t) => {
  const crd = parseYaml(renderCrds().get('entropo.dev_trainingruns.yaml')!);
  const type = crd.spec.versions[0].schema.openAPIV3Schema.properties.status.properties.conditions.items.properties.type;
  t.is(type.maxLength, 316);
  const re = new RegExp(type.pattern);
  for (const ok of ['Succeeded', 'Running', 'example.com/Custom', 'a.b-c_d']) t.true(re.test(ok), ok);
  for (const no of ['not a type', 'Bad/', '-x', 'x-', 'UPPER.com/X']) t.false(re.test(no), no);
});

test('the built-in suite names the API accepts are the suites shipped in operator/tasks/suite/', (t) => {
  const dirs = readdirSync(join(process.cwd(), 'operator/tasks/suite'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  t.deepEqual([...BuiltinSuites].sort(), dirs);
});

test('kubectl explain shows defaults and bounds: they are written into the CRD descriptions', (t) => {
  const crd = parseYaml(renderCrds().get('entropo.dev_evalsuites.yaml')!);
  const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
  t.regex(spec.sampling.properties.temperature.description, /Default 0\.7; 0 to 2\.$/);
  t.regex(spec.sampling.properties.topP.description, /Default 0\.8; > 0 and <= 1\.$/);
  t.regex(spec.samplesPerTask.description, /Default 16; 1 to 256\.$/);
  t.regex(spec.selection.properties.pipeline.description, /1 to 16 items\.$/);
  t.is(defaultsAndBounds({ minimum: 1 }), '>= 1.');
  t.is(defaultsAndBounds({}), '');
});
