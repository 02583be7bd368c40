import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const DOCS = ['README.md', 'charts/README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

test('README and docs stand alone: no reference to design pages outside the repository', (t) => {
  for (const f of DOCS) {
    const text = readFileSync(f, 'utf8');
    t.false(/\.\.\/shared|METHOD\.md|ARCHITECTURE\.md/.test(text), `${f} refers to a page users do not have`);
  }
});

test('the method and architecture pages exist, cover their subjects, and every relative link in the docs resolves', (t) => {
  const method = readFileSync('docs/method.md', 'utf8');
  for (const topic of ['Objective', 'Implicit reward', 'EntroPO-DPO', 'EntroPO-KTO', 'AuthorsKL', 'TRLKL', 'selection', 'Metrics']) t.true(method.includes(topic), `method.md: ${topic}`);
  const arch = readFileSync('docs/architecture.md', 'utf8');
  for (const topic of ['TrainingRun', 'RolloutBatch', 'EvalSuite', 'executor', 'Imports flow one way', 'Conventions']) t.true(arch.includes(topic), `architecture.md: ${topic}`);
  // (the generated api-reference.md holds regular expressions, not links)
  for (const f of DOCS.filter((d) => d !== 'docs/api-reference.md')) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\]\(([^)#:\s]+)(#[^)]*)?\)/g)) {
      t.true(existsSync(join(dirname(f), m[1])), `${f}: link ${m[1]} does not resolve`);
    }
  }
});

test('the CRD descriptions (kubectl explain) name no page outside the repository', (t) => {
  for (const f of readdirSync('crds')) t.false(/METHOD\.md|ARCHITECTURE\.md/.test(readFileSync(join('crds', f), 'utf8')), f);
});
