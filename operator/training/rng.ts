/** Seeded pseudo-random numbers (mulberry32): data order and initialisation independent of the backend. */

import { mulberry32 } from '../util/random.ts';

export class Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32((seed >>> 0) ^ 0x9e3779b9);
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

/** A permutation of 0..n-1 that depends only on (seed, epoch): resumable data order. */
export function permutation(n: number, seed: number, epoch: number): number[] {
  const rng = new Rng(Math.imul(seed ^ 0x5bd1e995, 31) + epoch * 1000003);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}
