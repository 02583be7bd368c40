/**
 * Hugging Face style config.json of a decoder-only model of the Llama / Qwen family
 * (model_type llama, mistral, qwen2, qwen3). Bad or unsupported values are errors naming the key.
 */

export interface ModelConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  /** Bias on q_proj, k_proj, v_proj (Qwen2: always; Llama/Qwen3: attention_bias). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama attention_bias also covers o_proj). */
  oBias: boolean;
  /** Per-head RMSNorm of q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  maxPositionEmbeddings: number;
  bosTokenId?: number;
  eosTokenId?: number | number[];
  /** The raw config, written back unchanged when the model is saved. */
  raw: Record<string, unknown>;
}

const SUPPORTED = ['llama', 'mistral', 'qwen2', 'qwen3'];

function int(raw: Record<string, unknown>, key: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`config.json: ${key} must be a positive integer (got ${JSON.stringify(v)})`);
  }
  return v;
}

function num(raw: Record<string, unknown>, key: string, fallback: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !(v > 0)) throw new Error(`config.json: ${key} must be a positive number (got ${JSON.stringify(v)})`);
  return v;
}

export function parseModelConfig(raw: Record<string, unknown>): ModelConfig {
  const modelType = String(raw.model_type ?? '');
  if (!SUPPORTED.includes(modelType)) {
    throw new Error(`config.json: model_type must be one of ${SUPPORTED.join(', ')} (got ${JSON.stringify(raw.model_type)})`);
  }
  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') throw new Error(`config.json: hidden_act must be "silu" (got ${JSON.stringify(act)})`);
  // transformers < 5: rope_theta + rope_scaling; transformers >= 5: rope_parameters {rope_theta, rope_type}.
  const params = raw.rope_parameters as { rope_type?: string; rope_theta?: number } | null | undefined;
  const scaling = (raw.rope_scaling ?? params) as { rope_type?: string; type?: string } | null | undefined;
  const ropeType = scaling ? (scaling.rope_type ?? scaling.type ?? 'default') : undefined;
  if (scaling && ropeType !== 'default') {
    throw new Error(`config.json: rope_scaling ${JSON.stringify(ropeType)} is not supported (only none / "default")`);
  }
  if (raw.use_sliding_window === true) throw new Error('config.json: use_sliding_window true is not supported');
  const hiddenSize = int(raw, 'hidden_size');
  const numHeads = int(raw, 'num_attention_heads');
  const numKvHeads = int(raw, 'num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new Error(`config.json: num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  const headDim = int(raw, 'head_dim', Math.floor(hiddenSize / numHeads));
  if (headDim % 2 !== 0) throw new Error(`config.json: head_dim must be even for RoPE (got ${headDim})`);
  const attentionBias = raw.attention_bias === true;
  return {
    modelType,
    vocabSize: int(raw, 'vocab_size'),
    hiddenSize,
    intermediateSize: int(raw, 'intermediate_size'),
    numLayers: int(raw, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num(raw, 'rms_norm_eps', 1e-6),
    ropeTheta: num(raw, 'rope_theta', params?.rope_theta ?? 10000),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    qkvBias: modelType === 'qwen2' ? true : attentionBias,
    oBias: modelType === 'llama' || modelType === 'mistral' ? attentionBias : false,
    qkNorm: modelType === 'qwen3',
    maxPositionEmbeddings: int(raw, 'max_position_embeddings', 32768),
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : undefined,
    eosTokenId: raw.eos_token_id as number | number[] | undefined,
    raw,
  };
}

/** The HF tensor names the model expects, with their shapes. */
export function expectedTensors(c: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const D = c.hiddenSize;
  const qd = c.numHeads * c.headDim;
  const kvd = c.numKvHeads * c.headDim;
  m.set('model.embed_tokens.weight', [c.vocabSize, D]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}input_layernorm.weight`, [D]);
    m.set(`${p}post_attention_layernorm.weight`, [D]);
    m.set(`${p}self_attn.q_proj.weight`, [qd, D]);
    m.set(`${p}self_attn.k_proj.weight`, [kvd, D]);
    m.set(`${p}self_attn.v_proj.weight`, [kvd, D]);
    m.set(`${p}self_attn.o_proj.weight`, [D, qd]);
    if (c.qkvBias) {
      m.set(`${p}self_attn.q_proj.bias`, [qd]);
      m.set(`${p}self_attn.k_proj.bias`, [kvd]);
      m.set(`${p}self_attn.v_proj.bias`, [kvd]);
    }
    if (c.oBias) m.set(`${p}self_attn.o_proj.bias`, [D]);
    if (c.qkNorm) {
      m.set(`${p}self_attn.q_norm.weight`, [c.headDim]);
      m.set(`${p}self_attn.k_norm.weight`, [c.headDim]);
    }
    m.set(`${p}mlp.gate_proj.weight`, [c.intermediateSize, D]);
    m.set(`${p}mlp.up_proj.weight`, [c.intermediateSize, D]);
    m.set(`${p}mlp.down_proj.weight`, [D, c.intermediateSize]);
  }
  m.set('model.norm.weight', [D]);
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', [c.vocabSize, D]);
  return m;
}
