/**
 * One objective per algorithm (SFT, DPO, KTO) around one step loop (step-loop.ts), the way TRL
 * keeps one trainer per algorithm without copying the loop: an objective says which sequences a
 * micro-batch forwards, computes its loss from their log-prob sums, and keeps its per-step
 * extras (z0, margins). Losses follow docs/method.md sections 2-5 (losses.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Training } from '../../api/common.ts';
import type { ChatTokenizer } from '../chat.ts';
import type { LoopState } from '../checkpoint.ts';
import type { Item } from '../items.ts';
import type { Temperatures } from '../losses.ts';
import type { EncodedSequence } from '../render.ts';
import type { HiddenModel } from '../logprobs.ts';

export type ObjectiveKind = 'SFT' | 'DPO' | 'KTO';

/** What an objective may use besides its items. */
export interface ObjectiveContext {
  training: Training;
  temps: Temperatures;
  tok: ChatTokenizer;
  padId: number;
  reference: HiddenModel;
}

/** One optimizer step's data. */
export interface StepBatch {
  /** 0-based optimizer step. */
  step: number;
  /** The step's items (training.batchSize of them, fewer at an epoch's end). */
  items: Item[];
  /** The same items split into gradient-accumulation micro-batches. */
  micro: Item[][];
  /** The policy for micro-batch i (same dropout seed as the gradient pass; -1: no dropout). */
  policy: (micro: number) => HiddenModel;
}

/** A micro-batch after the policy's forward pass (per forwarded sequence, in sequences() order). */
export interface MicroStats {
  items: Item[];
  /** [S] sums of log pi over assistant tokens (carries the gradient). */
  logp: tf.Tensor1D;
  /** Assistant tokens per sequence. */
  counts: number[];
  /** Per-sequence sums of the policy's token entropy H_t (constants). */
  entropySums: number[];
  /** Per-sequence sums of the cross-entropy to the reference CE_t, when computed this step. */
  crossEntropySums?: number[];
}

export interface TrainingObjective {
  readonly kind: ObjectiveKind;
  /** Reference log-prob sums are needed (computed once, before the first step). */
  readonly usesReference: boolean;
  /** The sequences a micro-batch forwards, in order. */
  sequences(items: Item[]): EncodedSequence[];
  /** Work before the gradient pass (KTO: z0). */
  beginStep?(batch: StepBatch): void;
  /** This step's micro-batches need the reference's full distribution (cross-entropy sums). */
  needsReferenceDistribution(step: number): boolean;
  /** The micro-batch's loss (mean over its examples); records the step's extras. */
  loss(m: MicroStats, step: number): tf.Scalar;
  /** The step's extras (and resets them). */
  endStep(step: number): { margin?: number; z0?: number };
  /** State a checkpoint keeps (KTO: the cached z0 and its step). */
  state(): Pick<LoopState, 'z0' | 'z0Step'>;
  restore(state: Pick<LoopState, 'z0' | 'z0Step'>): void;
}

export const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
