import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { evaluateOffline, formatOfflineEvaluation } from '../../../operator/selection/offline.ts';
import { computeEvalMetrics, groupByTask } from '../../../operator/selection/metrics.ts';
import { readScores, readSelection } from '../../../operator/cli/commands/evaluate.ts';
import { record } from './_fixtures.ts';

const patch = (x: string) => `--- a/f.py\n+++ b/f.py\n@@ -1 +1 @@\n-a\n+${x}\n`;

/** Two tasks x 4 samples: task a has 1 resolved sample (the verifier likes it), task b none. */
function rollouts() {
  const a = [0, 1, 2, 3].map((s) =>
    record({ id: `a/${s}/r`, taskId: 'a', sample: s, resolved: s === 2, reward: s === 2 ? 1 : 0, steps: 5 + s, patch: patch(`a${s % 3}`), regression: { passed: ['p'], failed: [] }, verifierScore: undefined, reproduction: undefined }),
  );
  const b = [0, 1, 2, 3].map((s) =>
    record({ id: `b/${s}/r`, taskId: 'b', sample: s, resolved: false, reward: 0, steps: 3, patch: s === 0 ? '' : patch('b'), regression: { passed: ['p'], failed: [] }, verifierScore: undefined, reproduction: undefined }),
  );
  return [...a, ...b];
}

test('evaluateOffline: the same numbers as computeEvalMetrics (the EvalSuite\'s code), each pick explained, the picks as predictions', (t) => {
  const rs = rollouts();
  const { evaluation: e, predictions } = evaluateOffline(rs);
  // no scores: the paper's pipeline without its verifier step
  t.deepEqual(e.pipeline.map((s) => s.type), ['Finished', 'Regression', 'Steps']);
  const direct = computeEvalMetrics(groupByTask(rs), { selection: { pipeline: e.pipeline, seed: 0 } });
  t.deepEqual(e.metrics, direct.metrics);
  t.is(e.metrics.pass1, (1 / 4 + 0) / 2);
  t.is(e.metrics.passAtN, 0.5);
  // task a: Steps Most picks sample 3 (8 steps), which is wrong: best@N 0, oracle gap 0.5
  t.is(e.metrics.bestAtN, 0);
  t.is(e.metrics.oracleGap, 0.5);
  t.deepEqual(e.metrics.passAtK?.map((p) => p.k), [1, 2, 3, 4]);
  t.is(e.selections[0].selected, 'a/3/r');
  t.is(e.selections[0].decidedBy, 'Steps');
  t.regex(e.selections[0].explanation, /3\. Steps: 4 -> 1 \(1 with the most steps \(8\)\)\npicked a\/3\/r \(decided by Steps\)/);
  t.is(e.selections[0].distinctPatches, 3);
  t.is(e.selections[1].distinctPatches, 2);
  t.deepEqual(predictions.map((p) => [p.instance_id, p.trajectory, p.model_name_or_path]), [['a', 'a/3/r', 'tiny-coder'], ['b', e.selections[1].selected, 'tiny-coder']]);
  t.regex(formatOfflineEvaluation(e), /\| oracle gap \(pass@N - best@N\) \| 50\.0% \|/);
});

test('evaluateOffline: verifier scores change the pick; a verifier step without scores is refused', (t) => {
  const rs = rollouts();
  const scores = new Map([['a/2/r', 0.9], ['a/3/r', 0.001], ['a/0/r', 0.2], ['a/1/r', 0.3]]);
  const { evaluation: e } = evaluateOffline(rs, { pipeline: [{ type: 'Finished' }, { type: 'VerifierArgmax' }] }, scores);
  t.is(e.scored, 4);
  t.is(e.selections[0].selected, 'a/2/r');
  t.is(e.selections[0].decidedBy, 'VerifierArgmax');
  t.is(e.metrics.bestAtN, 0.5);
  t.is(e.metrics.oracleGap, 0);
  // the default with scores is the paper's hybrid, with its threshold step
  t.deepEqual(evaluateOffline(rs, {}, scores).evaluation.pipeline.map((s) => s.type), ['Finished', 'Regression', 'VerifierThreshold', 'Steps']);
  t.throws(() => evaluateOffline(rs, { pipeline: [{ type: 'VerifierThreshold', threshold: 0.5 }] }), { message: /verifier step .* no trajectory has a verifier score/ });
});

test('readSelection takes spec.selection or an EvalSuite manifest and names the bad field; readScores reads JSONL and JSON maps', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-offline-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.deepEqual(readSelection('{"pipeline": [{"type": "Majority"}], "seed": 3}'), { pipeline: [{ type: 'Majority' }], seed: 3 });
  await writeFile(path.join(dir, 'evs.yaml'), 'apiVersion: entropo.dev/v1alpha1\nkind: EvalSuite\nmetadata: {name: e}\nspec:\n  selection:\n    pipeline:\n      - type: Steps\n        order: Fewest\n');
  t.deepEqual(readSelection(path.join(dir, 'evs.yaml')).pipeline, [{ type: 'Steps', order: 'Fewest' }]);
  t.throws(() => readSelection('{"pipeline": [{"type": "Steps", "threshold": 0.5}]}'), { message: /pipeline\[0\]\.threshold: threshold belongs to the VerifierThreshold step only/ });
  t.throws(() => readSelection('{"pipeline": [{"type": "Best"}]}'), { message: /pipeline\[0\]\.type/ });
  await writeFile(path.join(dir, 's.jsonl'), '{"id":"a/0/r","taskId":"a","score":0.5}\n{"id":"a/1/r","taskId":"a"}\n');
  t.deepEqual([...readScores(path.join(dir, 's.jsonl'))], [['a/0/r', 0.5]]);
  await writeFile(path.join(dir, 's.json'), '{"a/0/r": 0.25, "b/0/r": 1}');
  t.deepEqual([...readScores(path.join(dir, 's.json'))], [['a/0/r', 0.25], ['b/0/r', 1]]);
  await writeFile(path.join(dir, 'bad.jsonl'), '{"id":"a/0/r","score":2}\n');
  t.throws(() => readScores(path.join(dir, 'bad.jsonl')), { message: /bad\.jsonl:1: expected/ });
});

test('entropo evaluate: JSON on stdout with -o json, files in --out-dir; a bad record exits 2 naming file and line', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-offline-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'trajectories.jsonl');
  await writeFile(file, rollouts().map((r) => JSON.stringify(r)).join('\n') + '\n');
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [path.resolve('bin/entropo.js'), 'evaluate', ...args], { env: { ...process.env, ENTROPO_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
  const r = await run([file, '-o', 'json', '--selection', '{"pipeline":[{"type":"Steps","order":"Fewest"}]}', '--out-dir', path.join(dir, 'out')]);
  t.is(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  t.is(e.selections[0].selected, 'a/0/r');
  t.is(JSON.parse(await readFile(path.join(dir, 'out', 'evaluation.json'), 'utf8')).metrics.pass1, 0.125);
  const preds = (await readFile(path.join(dir, 'out', 'predictions.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(Object.keys(preds[0]), ['instance_id', 'model_name_or_path', 'model_patch']);
  t.is((await readFile(path.join(dir, 'out', 'selections.jsonl'), 'utf8')).trim().split('\n').length, 2);
  await writeFile(path.join(dir, 'bad.jsonl'), `${JSON.stringify(rollouts()[0])}\n{"id": 1}\n`);
  const bad = await run([path.join(dir, 'bad.jsonl')]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /bad\.jsonl:2: not a trajectory record/);
});
