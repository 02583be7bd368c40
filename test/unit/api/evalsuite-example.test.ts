/**
 * manifests/examples/evalsuite.yaml runs after the quickstart as its header says: its verifier is
 * one that exists, its policy is where the quickstart's TrainingRun writes its last checkpoint,
 * and the header's commands fill the run's key in from the saved status.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseResource } from '../../../operator/api/validate.ts';
import { resolveBuiltinModel } from '../../../operator/policy/builtin.ts';
import { objectPrefix } from '../../../operator/controllers/decision.ts';
import { runKeys } from '../../../operator/controllers/trainingrun.ts';

const EXAMPLE = path.resolve('manifests/examples/evalsuite.yaml');
type Eval = { spec: { policy: { source: string }; verifier: { model: { source: string } } } };

test('the EvalSuite example names a verifier that exists and the quickstart\'s last checkpoint key', (t) => {
  const text = readFileSync(EXAMPLE, 'utf8');
  const ev = parseYaml(text) as Eval;
  const verifier = ev.spec.verifier.model.source;
  t.regex(verifier, /^builtin:/);
  t.notThrows(() => resolveBuiltinModel(verifier));
  const qs = parseYaml(readFileSync('manifests/examples/quickstart.yaml', 'utf8')) as { metadata: { name: string }; spec: { iterations: number } };
  // The key a TrainingRun of that name records in status.checkpoint (the uid differs per run: a placeholder).
  const key = `${runKeys(objectPrefix({ kind: 'TrainingRun', metadata: { name: qs.metadata.name, namespace: 'default', uid: 'abcd1234-0000' } }), qs.spec.iterations).checkpoint}/model`;
  t.is(key, 'trainingruns/default/quickstart-abcd1234/checkpoints/iter-2/model');
  t.is(ev.spec.policy.source.replace('QUICKSTART-UID', 'abcd1234'), `store://${key}`);
});

test('the EvalSuite example\'s header commands fill in the checkpoint from the saved status (local mode)', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'entropo-evalsuite-example-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const key = 'trainingruns/default/quickstart-54e81fc7/checkpoints/iter-2/model';
  // The saved status as local mode writes it: the latest checkpoint at status.checkpoint, each iteration's in history.
  mkdirSync(path.join(dir, '.entropo/local/objects/default/TrainingRun'), { recursive: true });
  writeFileSync(
    path.join(dir, '.entropo/local/objects/default/TrainingRun/quickstart.yaml'),
    `apiVersion: entropo.dev/v1alpha1\nkind: TrainingRun\nmetadata:\n  name: quickstart\nstatus:\n  history:\n    - iteration: 1\n      checkpoint: trainingruns/default/quickstart-54e81fc7/checkpoints/iter-1/model\n    - iteration: 2\n      checkpoint: ${key}\n  checkpoint: ${key}\n`,
  );
  const header = readFileSync(EXAMPLE, 'utf8').split('\n').filter((l) => l.startsWith('#'));
  const commands = header.map((l) => l.replace(/^#\s*/, '')).filter((l) => /^(ckpt=\$\(sed |sed ")/.test(l) && !l.includes('kubectl'));
  t.is(commands.length, 2, 'the header has the local ckpt=... and sed lines');
  const script = commands.map((c) => c.replace('manifests/examples/evalsuite.yaml', EXAMPLE).replace('/tmp/evalsuite.yaml', path.join(dir, 'filled.yaml'))).join('\n');
  const r = spawnSync('bash', ['-euc', script], { cwd: dir, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const filled = parseYaml(readFileSync(path.join(dir, 'filled.yaml'), 'utf8')) as Eval;
  t.is(filled.spec.policy.source, `store://${key}`);
  t.is(parseResource(filled, 'filled.yaml').kind, 'EvalSuite');
});
