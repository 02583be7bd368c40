/**
 * RolloutBatch decide(), pure: serve the policy (or use its endpoint), one sandbox unit per
 * task x sample through the sandbox fleet (window, retries, records), and at the end the merged
 * trajectories and SWE-bench predictions (sample 0 of each task) written to the store. Status:
 * phase, conditions, counts, resolveRate, completed / failed indexes, store keys. See
 * decision.ts for what the executor observes and does, sandbox-object.ts for the run policy.
 */
import type { RolloutBatch, RolloutBatchStatus } from '../api/kinds.ts';
import type { RolloutSummary } from '../api/records.ts';
import type { Decision, Observed } from './decision.ts';
import { Reasons } from './run-policy.ts';
import { artifactKeys, decideSandboxObject, trajectoriesWrite } from './sandbox-object.ts';

export { ownerOf, artifactKeys } from './sandbox-object.ts';

/** One reconcile of a RolloutBatch. */
export function decideRolloutBatch(batch: RolloutBatch, observed: Observed): Decision<RolloutBatchStatus> {
  const d = decideSandboxObject<RolloutBatchStatus>(batch, observed, (fleet, prefix) => {
    const keys = artifactKeys(prefix);
    const first = fleet.samples.filter((r) => (r.summary as RolloutSummary).sample === 0).map((r) => (r.summary as RolloutSummary).key);
    const c = fleet.counts;
    return {
      state: {
        state: 'Succeeded',
        reason: Reasons.Completed,
        message: `${c.completed}/${c.total} rollouts, ${c.resolved} resolved${c.failed ? `, ${c.failed} without a sample` : ''}`,
      },
      writes: [trajectoriesWrite(prefix, fleet.samples), { key: keys.predictions, predictions: { keys: first, model: batch.spec.policy.name } }],
      status: { trajectories: keys.trajectories, predictions: keys.predictions },
    };
  });
  const c = d.status.counts;
  if (c && c.completed > 0) d.status.resolveRate = c.resolved / c.completed;
  else delete d.status.resolveRate;
  return d;
}
