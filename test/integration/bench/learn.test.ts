/**
 * `npm run bench:learn -- --quick` (what CI runs of the learning benchmark): every arm (SFT only,
 * M-KTO, EntroPO-KTO, M-DPO, EntroPO-DPO) and the sweep's extra point produce their numbers on
 * both splits, through local mode (real policy server, agent loop, sandbox, grader, trainer,
 * verifier, selection); the report and its Vega-Lite plots are written; a second run of the same
 * command continues from the store and redoes nothing. No timing assertion (the machine may be
 * loaded): only generous timeouts.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Claim, EvalResult } from '../../../bench/learn/analysis.ts';
import { arms, budget } from '../../../bench/learn/plan.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Summary {
  budget: string;
  jobsDone: number;
  jobsTotal: number;
  results: EvalResult[];
  claims: Claim[];
  failures: Record<string, string>;
}

test('bench:learn --quick: every arm produces its numbers on both splits, with a report, plots and a resumable store', async (t) => {
  t.timeout(40 * 60_000);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-bench-learn-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = path.join(dir, 'store');
  const out = path.join(dir, 'report');
  const args = ['--import=tsx', path.join(ROOT, 'bench', 'learn.ts'), '--quick', '--store', store, '--out', out];
  const first = await run(process.execPath, args, { cwd: ROOT, maxBuffer: 64 << 20, env: { ...process.env, ENTROPO_LOG_LEVEL: 'error' } });
  t.regex(first.stderr, /\(1\/\d+\) learn-sft-s1-train/, 'progress lines on stderr');
  const summary = JSON.parse(readFileSync(path.join(store, 'bench-learn', 'summary.json'), 'utf8')) as Summary;
  t.is(summary.budget, 'quick');
  t.is(summary.jobsDone, summary.jobsTotal, JSON.stringify(summary.failures));
  const b = budget('quick');
  for (const a of arms(b)) {
    for (const split of a.sweepOnly ? (['train'] as const) : (['train', 'variants'] as const)) {
      const rs = summary.results.filter((r) => r.arm === a.id && r.split === split);
      t.is(rs.length, b.seeds.length, `${a.id} ${split}: one result per seed`);
      for (const r of rs) {
        const what = `${a.id} ${split} seed ${r.seed}`;
        t.is(r.passAtK.length, b.evalN, `${what}: pass@k for k = 1..N`);
        t.is(r.bestAtK.length, b.evalN, `${what}: best@k for k = 1..N`);
        for (const [k, v] of r.passAtK.entries()) {
          t.true(v >= 0 && v <= 1, `${what}: pass@${k + 1} = ${v}`);
          // the selector's pick can be no better than the oracle
          t.true(r.bestAtK[k] <= v + 1e-9, `${what}: best@${k + 1} <= pass@${k + 1}`);
        }
        t.true(r.samples >= 1 && r.samples <= b.trainTasks.length * b.evalN, `${what}: ${r.samples} samples`);
        t.true(r.distinctPatches >= 1 && r.distinctPatches <= b.evalN, `${what}: distinct patches ${r.distinctPatches}`);
        t.true(Number.isFinite(r.entropy) && r.entropy! > 0, `${what}: token entropy ${r.entropy}`);
        t.true(Number.isFinite(r.kl) && r.kl! > -1e-3, `${what}: KL to the reference ${r.kl}`);
        t.true(r.diversity !== undefined && r.diversity >= -1 - 1e-6 && r.diversity <= 1 + 1e-6, `${what}: hidden-state similarity ${r.diversity}`);
        for (const name of ['hybrid', 'Finished only', 'Regression only', 'Verifier only', 'Steps only', 'without Finished', 'without Regression', 'without Verifier', 'without Steps', 'random']) {
          t.is(r.ablation[name]?.length, b.evalN, `${what}: ablation ${name}`);
        }
        t.deepEqual(r.ablation.hybrid, r.bestAtK, `${what}: the hybrid of the ablation is the reported best@k`);
        if (r.statusBestAtN !== undefined && !r.noUpdate) t.is(r.bestAtK[b.evalN - 1], r.statusBestAtN, `${what}: recomputed best@N equals the EvalSuite's own`);
      }
    }
  }
  // an arm that trained is a different policy from the seed checkpoint; one that could not (no preference pair) says so
  for (const a of arms(b).filter((x) => x.algorithm)) {
    const r = summary.results.find((x) => x.arm === a.id && x.split === 'train')!;
    if (r.noUpdate) t.regex(summary.failures[`learn-${a.id}-s1`] ?? '', /no preference examples/);
    else t.true(r.kl! > 0, `${a.id}: KL to the reference ${r.kl} > 0 after the update`);
  }
  t.is(summary.claims.length, 6, 'a verdict per claim');
  for (const c of summary.claims) t.true(['reproduced', 'not reproduced', 'inconclusive'].includes(c.verdict), c.claim);
  // one seed: no spread, so no claim can be decided
  t.true(summary.claims.every((c) => c.verdict === 'inconclusive'));
  const md = readFileSync(path.join(out, 'results.md'), 'utf8');
  for (const s of ['## Claims', 'M-KTO', 'EntroPO-KTO', 'M-DPO', 'EntroPO-DPO', 'SFT only', 'zeta/gamma sweep', 'Selection ablation', 'wall time', 'machine', 'seeds']) t.true(md.includes(s), `report mentions ${s}`);
  for (const f of ['best-at-n.svg', 'pass-at-n.svg', 'diversity.svg', 'sweep.svg', 'selection-ablation.svg']) {
    t.true(existsSync(path.join(out, f)), f);
    t.regex(readFileSync(path.join(out, f), 'utf8'), /^<svg[^>]*>[\s\S]*<\/svg>$/, `${f} is an SVG`);
  }
  // resumable: the same command again finds every job done in the store and runs none
  const second = await run(process.execPath, args, { cwd: ROOT, maxBuffer: 64 << 20, env: { ...process.env, ENTROPO_LOG_LEVEL: 'error' } });
  t.notRegex(second.stderr, /\(\d+\/\d+\) learn-[a-z0-9-]+: (EvalSuite|TrainingRun)/, 'no job runs again');
  const again = JSON.parse(readFileSync(path.join(store, 'bench-learn', 'summary.json'), 'utf8')) as Summary;
  t.deepEqual(again.results, summary.results);
});
