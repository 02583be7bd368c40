/** The objective of a job: SFT, or the preference algorithm (DPO, KTO) of spec.preference. */
import type { Preference } from '../../api/common.ts';
import { DpoObjective } from './dpo.ts';
import { KtoObjective } from './kto.ts';
import { SftObjective } from './sft.ts';
import type { ObjectiveContext, TrainingObjective } from './objective.ts';

export type { TrainingObjective, ObjectiveContext, StepBatch, MicroStats, ObjectiveKind } from './objective.ts';

/** preference.kto must be defaulted (the schema's defaults; api/validate parse). */
export function objectiveFor(objective: 'preference' | 'sft', preference: Preference, ctx: ObjectiveContext): TrainingObjective {
  if (objective === 'sft') return new SftObjective();
  if (preference.algorithm === 'DPO') return new DpoObjective(ctx.temps);
  if (!preference.kto) throw new Error('preference.kto: missing (parse the preference section with its schema defaults)');
  return new KtoObjective(ctx, preference.kto);
}
