/**
 * bench:learn, per-trajectory statistics that need the models: the policy's token entropy and
 * its KL to the reference over the assistant tokens of its own evaluation trajectories, and the
 * final hidden state of each trajectory (the paper's diversity measure). Uses the training core's
 * own pieces: loadModel, the chat tokenizer and conversation encoding the trainer uses
 * (encodeConversation, assistant-only mask), sequenceStats (full-vocabulary entropy and
 * cross-entropy in bounded memory) and the final hidden state of CausalLM.lastHiddenStates
 * (lastPositions of the same forward pass).
 */
import * as tf from '@tensorflow/tfjs';
import { Registry } from 'prom-client';
import { isSample, type TrajectoryRecord } from '../../operator/api/records.ts';
import { selectBackend } from '../../operator/training/backend.ts';
import { loadChatTokenizer } from '../../operator/training/chat.ts';
import { padBatch, sequenceStats } from '../../operator/training/logprobs.ts';
import { loadModel } from '../../operator/training/model-io.ts';
import { lastPositions, type CausalLM } from '../../operator/training/model.ts';
import { encodeConversation, MaskError } from '../../operator/training/render.ts';

/** One trajectory's statistics; sums over its assistant tokens (nats). */
export interface TrajectoryStat {
  id: string;
  taskId: string;
  /** Assistant tokens scored (after KeepEnd truncation to the model's context). */
  tokens: number;
  /** Sum of the policy's full-vocabulary entropy H(pi(.|s_t)). */
  entropySum: number;
  /** Sum of KL(pi(.|s_t) || pi_ref(.|s_t)) = cross-entropy - entropy. */
  klSum: number;
  /** Final hidden state at the trajectory's last token [D]. */
  hidden: number[];
}

let backendReady: Promise<{ backend: string }> | undefined;

/** The tfjs backend the statistics are computed on (selected once: Auto, as the trainer). */
export async function statsBackend(): Promise<string> {
  backendReady ??= selectBackend('Auto', new Registry());
  return (await backendReady).backend;
}

/**
 * Statistics of every sample trajectory (no-sample records and those with no assistant token are
 * left out) under `policyDir` with `referenceDir` as pi_ref. Sequences are cut to the policy's
 * context keeping the end (never dropping the final turns).
 */
export async function trajectoryStats(policyDir: string, referenceDir: string, trajectories: readonly TrajectoryRecord[]): Promise<TrajectoryStat[]> {
  await statsBackend();
  const policy = loadModel(policyDir);
  const reference: CausalLM = referenceDir === policyDir ? policy : loadModel(referenceDir);
  policy.transposeFrozenWeights();
  if (reference !== policy) reference.transposeFrozenWeights();
  const tok = loadChatTokenizer(policyDir);
  const context = Number((policy.config.raw as { max_position_embeddings?: number }).max_position_embeddings ?? 1024);
  const out: TrajectoryStat[] = [];
  try {
    for (const t of trajectories) {
      if (!isSample(t)) continue;
      let seq;
      try {
        seq = encodeConversation(tok, t.messages, { tools: t.tools, maxLength: context, truncation: 'KeepEnd' });
      } catch (e) {
        if (e instanceof MaskError) continue;
        throw e;
      }
      if (!seq || seq.assistantTokens === 0) continue;
      const s = tf.tidy(() => {
        const batch = padBatch([seq], tok.padTokenId);
        const h = policy.forward(batch.ids, { hiddenOnly: true }).logits;
        // the seed checkpoint is its own reference: one forward pass
        const rh = reference === policy ? h : reference.forward(batch.ids, { hiddenOnly: true }).logits;
        const st = sequenceStats(h, policy.headWeight(), batch, { reference: { hidden: rh, head: reference.headWeight() } });
        // = policy.lastHiddenStates(batch.ids, [length]), without a second forward pass
        const last = lastPositions(h, [seq.ids.length]);
        return { tokens: st.counts[0], entropySum: st.entropySums[0], ceSum: st.crossEntropySums![0], hidden: Array.from(last.dataSync()) };
      });
      out.push({ id: t.id, taskId: t.taskId, tokens: s.tokens, entropySum: s.entropySum, klSum: s.ceSum - s.entropySum, hidden: s.hidden });
    }
  } finally {
    policy.dispose();
    if (reference !== policy) reference.dispose();
  }
  return out;
}
