/**
 * bench:learn's report (bench/learn/report.ts): error bars of rates stay inside [0, 1], and the
 * machine line names the tfjs backends the jobs recorded (not a fixed "tfjs wasm").
 */
import test from 'ava';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { claims, type EvalResult } from '../../../bench/learn/analysis.ts';
import { arms, budget, sweepArm } from '../../../bench/learn/plan.ts';
import { backendsText, barsWithErrors, errorBar, linesWithErrors, RATE, writeReport } from '../../../bench/learn/report.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'entropo-learn-report-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

type Datum = { lo: number; hi: number; mean: number };
const valuesOf = (spec: unknown) => (spec as { data: { values: Datum[] } }).data.values;

const near = (t: { true: (v: boolean, m?: string) => void }, actual: number[][], expected: number[][]) =>
  t.true(actual.length === expected.length && actual.every((a, i) => a.every((x, j) => Math.abs(x - expected[i][j]) < 1e-12)), `${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
const ends = (b: { lo: number; hi: number }) => [b.lo, b.hi];

test('errorBar: mean ± sd clipped to the bounds; no bounds leaves it as it is', (t) => {
  near(t, [errorBar(0.9, 0.3, RATE), errorBar(0.05, 0.2, RATE), errorBar(0.5, 0, RATE), errorBar(0.9, 0.3)].map(ends), [[0.6, 1], [0, 0.25], [0.5, 0.5], [0.6, 1.2]]);
});

test('the rate plots (lines and bars) keep every error bar inside [0, 1]', (t) => {
  const rows = [
    { x: 1, series: 'a', mean: 0.9, sd: 0.3 },
    { x: 2, series: 'a', mean: 1, sd: 0.5 },
    { x: 1, series: 'b', mean: 0.05, sd: 0.2 },
  ];
  const lines = valuesOf(linesWithErrors(rows, 'N', 'best@N', 'title', true, RATE));
  near(t, lines.map(ends), [[0.6, 1], [0.5, 1], [0, 0.25]]);
  const bars = valuesOf(barsWithErrors(rows.map((r) => ({ bar: r.series + r.x, panel: 'p', mean: r.mean, sd: r.sd })), 'title', true, false, RATE));
  for (const d of bars) t.true(d.lo >= 0 && d.hi <= 1, JSON.stringify(d));
  t.deepEqual(bars.map((d) => d.mean), [0.9, 1, 0.05], 'the means are drawn as they are');
});

test('backendsText names the backends the trainers and the analyses recorded', (t) => {
  t.is(backendsText({ a: { backend: 'tfjs-node' }, b: { backend: 'tfjs-node' } }, [{ backend: 'tfjs-node' }]), 'tfjs tfjs-node (trainer and analyses)');
  t.is(backendsText({ a: { backend: 'tfjs-node' } }, [{ backend: 'wasm' }, {}]), 'tfjs: trainer tfjs-node, analyses wasm');
  t.is(backendsText({ a: { backend: 'wasm' }, b: { backend: 'tfjs-node' } }, []), 'tfjs: trainer tfjs-node + wasm, analyses not recorded');
  t.is(backendsText({ a: {} }, [{}]), 'tfjs backend not recorded');
});

function result(arm: string, seed: number, bestAtK: number[], backend: string): EvalResult {
  return { job: `learn-${arm}-s${seed}`, arm, seed, split: 'train', tasks: 1, samples: 2, passAtK: bestAtK, bestAtK, ablation: { hybrid: bestAtK }, distinctPatches: 1, diversity: 0.9, entropy: 0.5, kl: 0.01, backend };
}

test('writeReport: the machine line says which tfjs backend ran, the best@N plot has no bar above 1', async (t) => {
  const b = budget('quick');
  const results = [result('sft', 1, [0.5, 1], 'tfjs-node'), result('sft', 2, [0.5, 0.4], 'tfjs-node'), result('m-kto', 1, [1, 1], 'tfjs-node'), result('m-kto', 2, [0.5, 0.2], 'tfjs-node')];
  const sweep = b.sweep.map((ratio) => ({ ratio, arm: sweepArm(b, ratio) }));
  const out = path.join(tmp, 'report');
  const md = await writeReport(
    {
      budget: b,
      arms: arms(b),
      results,
      claims: claims(results, b.evalN, sweep),
      command: '`npm run bench:learn -- --quick`',
      machine: '2 cores (test), 24 GiB; Node v20; shared with other work',
      policy: 'test',
      wallSeconds: 60,
      analysisSeconds: 10,
      jobSeconds: {},
      jobsDone: 4,
      jobsTotal: 4,
      failures: {},
      sweep,
      training: { 'learn-m-kto-s1': { loss: 0.5, backend: 'tfjs-node' }, 'learn-m-kto-s2': { loss: 0.4, backend: 'tfjs-node' } },
      generatedAt: '2026-11-30T00:00:00.000Z',
    },
    out,
  );
  const machine = md.split('\n').find((l) => l.startsWith('- machine: '));
  t.is(machine, '- machine: 2 cores (test), 24 GiB; Node v20; shared with other work; tfjs tfjs-node (trainer and analyses)');
  t.false(md.includes('wasm'), 'no backend the run did not use');
  t.is(readFileSync(path.join(out, 'results.md'), 'utf8'), md);
  // best@2 of m-kto over the seeds: 0.6 ± 0.57 would reach 1.17 and stretch the y axis past 1;
  // clipped, the axis (vega describes it in an aria-label) ends at 1.0.
  const svg = readFileSync(path.join(out, 'best-at-n.svg'), 'utf8');
  const axis = /aria-label="Y-axis titled 'best@N' for a linear scale with values from (-?[0-9.]+) to (-?[0-9.]+)"/.exec(svg);
  t.truthy(axis, 'the best@N plot has its y axis');
  t.deepEqual([Number(axis![1]), Number(axis![2])], [0, 1]);
});
