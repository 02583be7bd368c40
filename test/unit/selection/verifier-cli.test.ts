import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrajectoryRecord } from '../../../operator/api/records.ts';
import { record } from './_fixtures.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MODEL = path.join(ROOT, 'test/fixtures/training/qwen2');

const entropo = (...args: string[]) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile('node', [path.join(ROOT, 'bin/entropo.js'), ...args], { cwd: ROOT, env: { ...process.env, ENTROPO_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) =>
      resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });

function synthetic(tasks: number, prefix: string): TrajectoryRecord[] {
  const out: TrajectoryRecord[] = [];
  for (let t = 0; t < tasks; t++) {
    for (let s = 0; s < 2; s++) {
      const good = (s + t) % 2 === 0;
      out.push(
        record({
          id: `${prefix}${t}/${s}/r`,
          taskId: `${prefix}${t}`,
          messages: [
            { role: 'system', content: 'agent' },
            { role: 'user', content: `Fix add() in ${prefix}${t}.` },
            { role: 'assistant', content: good ? 'edit then test' : 'give up' },
          ],
          patch: good ? '+return a + b' : '+return a - b',
          resolved: good,
          reward: good ? 1 : 0,
          verifierScore: undefined,
        }),
      );
    }
  }
  return out;
}
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

test.serial('entropo verifier train then score: calibration table, id-keyed JSONL, annotated records', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'entropo-verifier-cli-'));
  try {
    writeFileSync(path.join(dir, 'train.jsonl'), jsonl(synthetic(12, 'train-')));
    const evalSet = synthetic(8, 'eval-');
    writeFileSync(path.join(dir, 'eval.jsonl'), jsonl(evalSet));
    const tr = await entropo(
      'verifier', 'train', path.join(dir, 'train.jsonl'),
      '--model', MODEL, '--out-dir', path.join(dir, 'v'),
      '--method', 'full', '--learning-rate', '0.01', '--epochs', '6', '--batch-size', '8', '--max-sequence-length', '512',
      '--system-prompt', 'Judge.', '--validation-fraction', '0', '--no-progress',
    );
    t.is(tr.status, 0, tr.stderr);
    t.regex(tr.stdout, /verifier written to .*\/v\/model/);
    t.regex(tr.stdout, /24 examples \(12 YES, 12 NO\) from 12 tasks; 0 tasks held out/);
    t.regex(tr.stdout, /\| split \| trajectories \| resolved \| AUC \| ECE \(10 bins\) \|/);
    const trainAuc = Number(/\| train \| 24 \| 12 \| ([\d.]+) \|/.exec(tr.stdout)?.[1]);
    t.true(trainAuc >= 0.9, tr.stdout);

    const sc = await entropo(
      'verifier', 'score', path.join(dir, 'eval.jsonl'), '--verifier', path.join(dir, 'v/model'),
      '--out-file', path.join(dir, 'scores.jsonl'), '--annotate', path.join(dir, 'annotated.jsonl'), '--calibration',
    );
    t.is(sc.status, 0, sc.stderr);
    const evalAuc = Number(/\| scored \| 16 \| 8 \| ([\d.]+) \|/.exec(sc.stdout)?.[1]);
    t.true(evalAuc >= 0.9, sc.stdout);
    const scores = readFileSync(path.join(dir, 'scores.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; taskId: string; score: number });
    t.deepEqual(scores.map((s) => s.id), evalSet.map((r) => r.id));
    t.true(scores.every((s) => s.score >= 0 && s.score <= 1));
    const annotated = readFileSync(path.join(dir, 'annotated.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TrajectoryRecord);
    t.deepEqual(annotated.map((r) => [r.id, r.verifierScore]), scores.map((s) => [s.id, s.score]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('entropo verifier score refuses bad input, naming the file and line', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'entropo-verifier-cli-'));
  try {
    const file = path.join(dir, 'bad.jsonl');
    writeFileSync(file, `${JSON.stringify(synthetic(1, 'a')[0])}\n{"id": "x"}\n`);
    const r = await entropo('verifier', 'score', file, '--verifier', MODEL);
    t.is(r.status, 1);
    t.regex(r.stderr, /bad\.jsonl:2: not a trajectory record/);
    const both = await entropo('verifier', 'score', file, '--verifier', MODEL, '--endpoint', 'http://127.0.0.1:9/v1');
    t.not(both.status, 0);
    t.regex(both.stderr, /exactly one of --verifier or --endpoint/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
