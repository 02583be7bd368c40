/**
 * The live progress of `entropo run --local` on stderr: one line per phase (cli-progress bars
 * on a terminal, a line per change otherwise): rollouts done / total with resolved and no-sample
 * counts, training step / total with the loss, evaluation done / total.
 */
import cliProgress from 'cli-progress';
import type { RolloutBatch } from '../api/kinds.ts';

type PodCounts = NonNullable<NonNullable<RolloutBatch['status']>['counts']>;
import type { ObservedUnit } from '../controllers/decision.ts';
import type { ObjectRunner } from './executor.ts';

/** One progress line: `value` of `total` done; total 0 = not known yet (shown as "-", not "0/0"). */
export interface Line {
  label: string;
  value: number;
  total: number;
  info: string;
}

/** "3/8", or "-" while the total is not known (a trainer that has not reported yet). */
export const countText = (l: Line): string => (l.total > 0 ? `${l.value}/${l.total}` : '-');

/** The line as printed where stderr is not a terminal: `it1 training 3/40 loss 0.5123`. */
export const lineText = (l: Line): string => `${l.label.trim()} ${countText(l)} ${l.info}`;

/**
 * A trainer unit's line: step / total with the loss once it reports progress; before that
 * (loading tfjs, the model, the data, the reference log-probs) the total is unknown.
 */
export function trainerLine(u: ObservedUnit): Line {
  const p = u.progress;
  const known = p !== undefined && p.totalSteps > 0;
  return {
    label: `it${u.iteration} training`.padEnd(16),
    value: known ? p.step : 0,
    total: known ? p.totalSteps : 0,
    info: p?.loss !== undefined ? `loss ${p.loss.toFixed(4)}` : known ? 'first step' : u.phase === 'Pending' ? 'starting' : 'loading the model and data',
  };
}

/**
 * The line of an iteration whose update finished (from status.history): its step count as
 * steps/steps (history's training.steps; "-" for a record without it) and the final loss.
 */
export function finishedTrainerLine(h: { iteration: number; training?: { loss?: number; steps?: number; backend?: string } }): Line {
  const steps = h.training?.steps ?? 0;
  return { label: `it${h.iteration} training`.padEnd(16), value: steps, total: steps, info: `loss ${h.training?.loss?.toFixed(4) ?? '-'} (done${h.training?.backend ? `, ${h.training.backend}` : ''})` };
}

/** The progress lines of a tree of runners (pure in what it reads). */
export function progressLines(root: ObjectRunner): Map<string, Line> {
  const out = new Map<string, Line>();
  for (const r of root.walk()) {
    const o = r.obj;
    const it = o.metadata.labels?.['entropo.dev/iteration'];
    const pre = it ? `it${it} ` : '';
    if (o.kind === 'RolloutBatch' || o.kind === 'EvalSuite') {
      const c = o.status?.counts as PodCounts | undefined;
      if (!c) continue;
      const what = o.kind === 'RolloutBatch' ? 'rollouts' : 'evaluation';
      const extra = o.kind === 'EvalSuite' && o.status?.metrics?.bestAtN !== undefined ? ` best@N ${(100 * o.status.metrics.bestAtN).toFixed(1)}%` : '';
      out.set(o.metadata.name!, {
        label: `${pre}${what}`.padEnd(16),
        value: c.completed + c.failed,
        total: c.total,
        info: `resolved ${c.resolved}${c.failed ? `, no sample ${c.failed}` : ''}${c.retries ? `, retries ${c.retries}` : ''}${extra} [${o.status?.phase}]`,
      });
    }
    if (o.kind === 'TrainingRun') {
      for (const u of r.liveUnits()) {
        if (u.role !== 'Trainer') continue;
        out.set(u.name, trainerLine(u));
      }
      const done = (o.status?.history ?? []).filter((h) => h.training && h.trainingJob);
      for (const h of done) {
        if (!out.has(h.trainingJob!)) out.set(h.trainingJob!, finishedTrainerLine(h));
      }
    }
  }
  return out;
}

export class Progress {
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private readonly multi?: cliProgress.MultiBar;
  private readonly printed = new Map<string, string>();

  constructor(private readonly enabled: boolean, private readonly tty = Boolean(process.stderr.isTTY)) {
    if (enabled && tty) {
      this.multi = new cliProgress.MultiBar(
        { stream: process.stderr, format: '{label} [{bar}] {count} | {info}', hideCursor: true, clearOnComplete: false, barsize: 24 },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  update(root: ObjectRunner): void {
    if (!this.enabled) return;
    for (const [key, l] of progressLines(root)) {
      if (this.multi) {
        const payload = { label: l.label, info: l.info, count: countText(l) };
        const bar = this.bars.get(key) ?? this.multi.create(Math.max(1, l.total), l.value, payload);
        this.bars.set(key, bar);
        bar.setTotal(Math.max(1, l.total));
        bar.update(l.value, payload);
      } else {
        const text = lineText(l);
        if (this.printed.get(key) !== text) {
          this.printed.set(key, text);
          process.stderr.write(`${text}\n`);
        }
      }
    }
  }

  stop(): void {
    this.multi?.stop();
  }
}
