import test from 'ava';
import { plainProgress } from '../../../operator/cli/plain-progress.ts';

test('plainProgress: one line per finished item with the real total (not the 100 cli-progress shows off a terminal)', (t) => {
  const lines: string[] = [];
  const tick = plainProgress('rollouts', 2, (l) => lines.push(l));
  tick({ resolved: 1, no_sample: 0 });
  tick({ resolved: 1, no_sample: 1 });
  t.deepEqual(lines, ['rollouts 1/2 | resolved 1 | no sample 0', 'rollouts 2/2 | resolved 1 | no sample 1']);
});
