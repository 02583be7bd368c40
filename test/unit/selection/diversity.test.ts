import test from 'ava';
import { cosineSimilarity, meanPairwiseCosine } from '../../../operator/selection/diversity.ts';

test('cosine similarity: parallel 1, opposite -1, orthogonal 0, scale-free; a zero vector gives 0; lengths must match', (t) => {
  t.is(cosineSimilarity([1, 2, 3], [2, 4, 6]), 1);
  t.is(cosineSimilarity([1, 0], [-3, 0]), -1);
  t.is(cosineSimilarity([1, 0], [0, 5]), 0);
  t.true(Math.abs(cosineSimilarity([1, 1], [1, 0]) - Math.SQRT1_2) < 1e-12);
  t.is(cosineSimilarity([0, 0], [1, 2]), 0);
  t.throws(() => cosineSimilarity([1], [1, 2]), { instanceOf: RangeError, message: /lengths 1 and 2/ });
});

test('mean pairwise cosine: the mean over unordered pairs; identical vectors give 1; fewer than 2 vectors give undefined', (t) => {
  t.is(meanPairwiseCosine([]), undefined);
  t.is(meanPairwiseCosine([new Float32Array([1, 2])]), undefined);
  t.is(meanPairwiseCosine([[1, 0], [1, 0], [1, 0]]), 1);
  // pairs: (a,b) = 0, (a,c) = 1/sqrt2, (b,c) = 1/sqrt2 -> mean sqrt2/3
  const m = meanPairwiseCosine([[1, 0], [0, 1], [1, 1]])!;
  t.true(Math.abs(m - Math.SQRT2 / 3) < 1e-12, `${m}`);
  // more diverse sets score lower
  t.true(meanPairwiseCosine([[1, 0.1], [1, -0.1]])! > meanPairwiseCosine([[1, 0.5], [1, -0.5]])!);
});
