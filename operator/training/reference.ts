/**
 * The frozen reference policy pi_ref (METHOD.md section 3): its forward function (a separate
 * model, or the LoRA base with adapters off) and the per-sequence reference log-prob sums of
 * every training item, computed once before the first step.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './model.ts';
import type { EncodedSequence } from './render.ts';
import type { Item } from './items.ts';
import { padBatch, tokenStats } from './logprobs.ts';

/** Logits [B, T, V] of token ids [B, T]. */
export type Forward = (ids: number[][]) => tf.Tensor3D;

/** The reference's forward: refModel when given, else the policy with its adapters off. */
export function referenceForward(policy: CausalLM, refModel?: CausalLM): Forward {
  return (ids) => (refModel ? refModel.forward(ids).logits : policy.forward(ids, { adapters: false }).logits);
}

/** Per-sequence masked log-prob sums under a forward function, without gradients, `chunk` sequences at a time. */
export function sequenceLogps(forward: Forward, seqs: EncodedSequence[], padId: number, chunk: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < seqs.length; i += chunk) {
    const batch = padBatch(seqs.slice(i, i + chunk), padId);
    out.push(...tf.tidy(() => Array.from(tokenStats(forward(batch.ids), batch).logp.dataSync())));
  }
  return out;
}

/** Fills item.ref with log pi_ref of each of the item's sequences. Returns the sequences scored. */
export function computeReferenceLogps(items: Item[], forward: Forward, padId: number, chunk: number): number {
  const all = items.flatMap((it) => it.seqs);
  const lps = sequenceLogps(forward, all, padId, chunk);
  let k = 0;
  for (const it of items) it.ref = it.seqs.map(() => lps[k++]);
  return all.length;
}
