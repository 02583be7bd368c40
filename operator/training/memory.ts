/**
 * Will a training step fit? An estimate of the memory one micro-batch needs (weights, optimizer
 * state, the activations the backward pass keeps per layer, and the bounded chunk buffers of
 * chunked.ts), checked against what the backend can address BEFORE training starts, so that a
 * sequence that cannot fit fails with a message naming training.maxSequenceLength and the memory
 * it would need instead of dying mid-run ("memory access out of bounds" on wasm).
 */
import os from 'node:os';
import type { ModelConfig } from './model-config.ts';
import { DEFAULT_CHUNK_FLOATS } from './chunked.ts';
import type { BackendName } from './backend.ts';

const GiB = 1024 ** 3;

/** Addressable memory of a backend in bytes: wasm has a 32-bit heap (4 GiB); the others the machine's RAM. */
export function backendMemoryLimit(backend: BackendName): number {
  return backend === 'wasm' ? 4 * GiB : os.totalmem();
}

/** Parameters of the model (embeddings, layers, head). */
export function parameterCount(c: ModelConfig): number {
  const attn = c.hiddenSize * c.headDim * (2 * c.numHeads + 2 * c.numKvHeads);
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  const head = c.tieWordEmbeddings ? 0 : c.vocabSize * c.hiddenSize;
  return c.vocabSize * c.hiddenSize + c.numLayers * (attn + mlp + 2 * c.hiddenSize) + head;
}

export interface StepMemory {
  /** Weights (policy + separate reference), gradients and AdamW moments, bytes. */
  weights: number;
  /** Activations kept for the backward pass, bytes. */
  activations: number;
  /** Chunk buffers (attention scores, LM-head logits) and their backward, bytes. */
  buffers: number;
  total: number;
}

/**
 * Bytes one optimizer micro-step needs for `sequences` sequences of `tokens` tokens (float32).
 * Per layer and token the backward keeps about 12 D + 4 H hd + 4 KV hd + 6 I floats (norms,
 * projections before and after RoPE, the attention output, the SwiGLU intermediates); with
 * gradient checkpointing only each layer's input (D) and one layer's activations at a time.
 */
export function stepMemory(c: ModelConfig, sequences: number, tokens: number, o: { full: boolean; separateReference: boolean; gradientCheckpointing?: boolean }): StepMemory {
  const params = parameterCount(c);
  const weights = 4 * params * (o.full ? 4 : 1) + (o.separateReference ? 4 * params : 0);
  const perToken = 12 * c.hiddenSize + 4 * c.numHeads * c.headDim + 4 * c.numKvHeads * c.headDim + 6 * c.intermediateSize;
  // with gradient checkpointing only each layer's input is kept, plus one layer's activations during its recompute
  const kept = o.gradientCheckpointing ? c.numLayers * c.hiddenSize + perToken : c.numLayers * perToken;
  const activations = 4 * sequences * tokens * (kept + 4 * c.hiddenSize);
  const buffers = 4 * 6 * DEFAULT_CHUNK_FLOATS;
  return { weights, activations, buffers, total: weights + activations + buffers };
}

const gib = (b: number) => `${(b / GiB).toFixed(2)} GiB`;

/**
 * Throws when the largest micro-batch cannot fit: names training.maxSequenceLength, the memory
 * needed (and its parts) and the backend's limit.
 */
export function assertFits(
  c: ModelConfig,
  micro: { sequences: number; tokens: number },
  o: { full: boolean; separateReference: boolean; backend: BackendName; maxSequenceLength: number; limit?: number; gradientCheckpointing?: boolean },
): StepMemory {
  const m = stepMemory(c, micro.sequences, micro.tokens, o);
  const limit = o.limit ?? backendMemoryLimit(o.backend);
  if (m.total > limit) {
    throw new Error(
      `training.maxSequenceLength ${o.maxSequenceLength}: a micro-batch of ${micro.sequences} sequence(s) of ${micro.tokens} tokens needs about ${gib(m.total)} ` +
        `(activations ${gib(m.activations)}, weights and optimizer ${gib(m.weights)}, chunk buffers ${gib(m.buffers)}), more than the ${o.backend} backend can address (${gib(limit)}); ` +
        'lower training.maxSequenceLength, use more training.gradientAccumulationSteps, gradientCheckpointing, or a backend with more memory (tfjs-node)',
    );
  }
  return m;
}
