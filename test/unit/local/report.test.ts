import test from 'ava';
import { table, trainingRunTable } from '../../../operator/local/report.ts';
import { parseTrainerProgress } from '../../../operator/local/units.ts';
import { rerunCommand } from '../../../operator/local/run.ts';
import { run } from '../controllers/_helpers.ts';

test('the final table of a TrainingRun: one row per iteration with the metrics of section 10 and decidedBy', (t) => {
  const r = run({}, {}, {
    phase: 'Succeeded',
    history: [
      { iteration: 1, phase: 'Succeeded', rolloutResolveRate: 0.25, training: { loss: 0.6931, entropy: 1.2, backend: 'tfjs-node' }, evaluation: { pass1: 0.5, passAtN: 0.75, bestAtN: 0.5, oracleGap: 0.25, distinctPatchesPerTask: 2.5 }, evalSuite: 'tr-it1-eval' },
      { iteration: 2, phase: 'Succeeded', rolloutResolveRate: 0.5, training: { loss: 0.61, entropy: 1.1 } },
    ],
  });
  const es = { metadata: { name: 'tr-it1-eval' }, status: { decidedBy: { Steps: 3, TieBreak: 1 } } };
  const lines = trainingRunTable(r, new Map([['tr-it1-eval', es as never]])).split('\n');
  t.is(lines.length, 4);
  t.regex(lines[0], /^iteration\s+phase\s+rollout resolved\s+loss\s+entropy\s+pass@1\s+pass@N\s+best@N\s+oracle gap\s+distinct patches\s+trained on\s+decided by$/);
  t.regex(lines[2], /^1\s+Succeeded\s+25\.0%\s+0\.693\s+1\.200\s+50\.0%\s+75\.0%\s+50\.0%\s+25\.0%\s+2\.50\s+tfjs-node\s+Steps 3, TieBreak 1$/);
  t.regex(lines[3], /^2\s+Succeeded\s+50\.0%\s+0\.610\s+1\.100\s+-\s+-\s+-\s+-\s+-\s+-\s+-$/);
  t.is(table(['a', 'b'], [['x', 1]]), 'a  b\n-  -\nx  1');
});

test('the trainer progress line of entropo train --progress', (t) => {
  t.deepEqual(parseTrainerProgress('train [████░░░░] 5/20 steps | loss 0.6931 | 500 tok/s | eta 10s'), { step: 5, totalSteps: 20, loss: 0.6931 });
  t.deepEqual(parseTrainerProgress('train [░░░░] 0/20 steps | loss - | - tok/s'), { step: 0, totalSteps: 20 });
  t.is(parseTrainerProgress('{"level":"info"}'), undefined);
});

test('rerunCommand: under npm start the hint is `npm start -- FLAGS` (npm would eat the flags), else the entropo command', (t) => {
  t.is(rerunCommand('manifests/examples/quickstart.yaml', '--fresh', { npm_lifecycle_event: 'start' }), 'npm start -- --fresh');
  t.is(rerunCommand('my.yaml', '--resume --store /tmp/s', {}), 'entropo run my.yaml --local --resume --store /tmp/s');
});
