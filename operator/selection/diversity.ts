/**
 * The paper's diversity measure (Yu et al. 2025, docs/method.md section 9): the mean pairwise
 * cosine similarity of the final hidden states of one task's N trajectories; LOWER is more
 * diverse (paper, N = 16: M-DPO 0.9125, EntroPO-DPO 0.8635, M-KTO 0.9053, EntroPO-KTO 0.8724).
 * Pure; the hidden states come from CausalLM.lastHiddenStates (operator/training/model.ts).
 */

/** Cosine similarity of two equal-length vectors; 0 when either is all zeros. Throws on a length mismatch. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`cosineSimilarity: lengths ${a.length} and ${b.length} differ`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/**
 * Mean cosine similarity over the N(N-1)/2 unordered pairs of `vectors` (one per trajectory of a
 * task); undefined for fewer than 2 vectors (no pair).
 */
export function meanPairwiseCosine(vectors: readonly ArrayLike<number>[]): number | undefined {
  if (vectors.length < 2) return undefined;
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < vectors.length; i++) {
    for (let j = i + 1; j < vectors.length; j++) {
      sum += cosineSimilarity(vectors[i], vectors[j]);
      pairs++;
    }
  }
  return sum / pairs;
}
