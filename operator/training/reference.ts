/**
 * The frozen reference policy pi_ref (docs/method.md section 3): its forward function (a separate
 * model, or the LoRA base with adapters off) and the per-sequence reference log-prob sums of
 * every training item, computed once before the first step.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './model.ts';
import type { EncodedSequence } from './render.ts';
import type { Item } from './items.ts';
import { padBatch, sequenceStats, type HiddenModel } from './logprobs.ts';

/** The reference seen from its hidden states: refModel when given, else the policy with its adapters off. */
export function referenceModel(policy: CausalLM, refModel?: CausalLM): HiddenModel {
  const m = refModel ?? policy;
  return { hidden: (ids) => m.forward(ids, { adapters: refModel ? undefined : false, hiddenOnly: true }).logits, head: m.headWeight() };
}

/** Per-sequence masked log-prob sums under a model, without gradients, `chunk` sequences at a time. */
export function sequenceLogps(model: HiddenModel, seqs: EncodedSequence[], padId: number, chunk: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < seqs.length; i += chunk) {
    const batch = padBatch(seqs.slice(i, i + chunk), padId);
    out.push(...tf.tidy(() => Array.from(sequenceStats(model.hidden(batch.ids), model.head, batch).logp.dataSync())));
  }
  return out;
}

/** Fills item.ref with log pi_ref of each of the item's sequences. Returns the sequences scored. */
export function computeReferenceLogps(items: Item[], reference: HiddenModel, padId: number, chunk: number): number {
  const all = items.flatMap((it) => it.seqs);
  const lps = sequenceLogps(reference, all, padId, chunk);
  let k = 0;
  for (const it of items) it.ref = it.seqs.map(() => lps[k++]);
  return all.length;
}
