/** Calibration of a binary scorer (the verifier): ROC AUC and expected calibration error. */

/**
 * ROC AUC by the Mann-Whitney U statistic: the probability that a random positive scores above
 * a random negative, ties counting one half. Undefined (NaN) without both classes.
 */
export function auc(scores: readonly number[], labels: readonly boolean[]): number {
  if (scores.length !== labels.length) throw new RangeError('scores and labels differ in length');
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  // average ranks (1-based) over runs of tied scores
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]] === scores[order[start]]) end++;
    const rank = (start + end) / 2 + 1;
    for (let j = start; j <= end; j++) {
      if (labels[order[j]]) {
        positives++;
        rankSum += rank;
      }
    }
    start = end + 1;
  }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  const u = rankSum - (positives * (positives + 1)) / 2;
  return u / (positives * negatives);
}

export interface CalibrationBin {
  /** [lo, hi): the last bin includes 1. */
  lo: number;
  hi: number;
  count: number;
  meanScore: number;
  /** Share of positives in the bin. */
  accuracy: number;
}

export interface Calibration {
  auc: number;
  /** Expected calibration error: sum over bins of |bin| / n * |accuracy - mean score|. */
  ece: number;
  bins: CalibrationBin[];
  count: number;
  positives: number;
}

/** Expected calibration error over equal-width bins of [0, 1] (default 10). */
export function ece(scores: readonly number[], labels: readonly boolean[], bins = 10): number {
  return reliability(scores, labels, bins).ece;
}

function reliability(scores: readonly number[], labels: readonly boolean[], nBins: number): { ece: number; bins: CalibrationBin[] } {
  if (scores.length !== labels.length) throw new RangeError('scores and labels differ in length');
  if (!Number.isInteger(nBins) || nBins < 1) throw new RangeError('bins must be a positive integer');
  const count = new Array<number>(nBins).fill(0);
  const sum = new Array<number>(nBins).fill(0);
  const pos = new Array<number>(nBins).fill(0);
  scores.forEach((s, i) => {
    if (!(s >= 0 && s <= 1)) throw new RangeError(`score ${s} is outside [0, 1]`);
    const b = Math.min(nBins - 1, Math.floor(s * nBins));
    count[b]++;
    sum[b] += s;
    if (labels[i]) pos[b]++;
  });
  let total = 0;
  const out: CalibrationBin[] = [];
  for (let b = 0; b < nBins; b++) {
    if (count[b] === 0) continue;
    const meanScore = sum[b] / count[b];
    const accuracy = pos[b] / count[b];
    total += (count[b] / scores.length) * Math.abs(accuracy - meanScore);
    out.push({ lo: b / nBins, hi: (b + 1) / nBins, count: count[b], meanScore, accuracy });
  }
  return { ece: scores.length ? total : Number.NaN, bins: out };
}

export function calibration(scores: readonly number[], labels: readonly boolean[], bins = 10): Calibration {
  const r = reliability(scores, labels, bins);
  return { auc: auc(scores, labels), ece: r.ece, bins: r.bins, count: scores.length, positives: labels.filter(Boolean).length };
}
