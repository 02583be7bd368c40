/**
 * The live progress of `entropo run --local` on stderr: one line per phase (cli-progress bars
 * on a terminal, a line per change otherwise): rollouts done / total with resolved and no-sample
 * counts, training step / total with the loss, evaluation done / total.
 */
import cliProgress from 'cli-progress';
import type { RolloutBatch } from '../api/kinds.ts';

type PodCounts = NonNullable<NonNullable<RolloutBatch['status']>['counts']>;
import type { ObjectRunner } from './executor.ts';

interface Line {
  label: string;
  value: number;
  total: number;
  info: string;
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
        const p = u.progress;
        out.set(u.name, {
          label: `it${u.iteration} training`.padEnd(16),
          value: p?.step ?? 0,
          total: p?.totalSteps ?? 0,
          info: p?.loss !== undefined ? `loss ${p.loss.toFixed(4)}` : u.phase === 'Pending' ? 'loading' : 'starting',
        });
      }
      const done = (o.status?.history ?? []).filter((h) => h.training && h.trainingJob);
      for (const h of done) {
        if (!out.has(h.trainingJob!)) out.set(h.trainingJob!, { label: `it${h.iteration} training`.padEnd(16), value: 1, total: 1, info: `loss ${h.training?.loss?.toFixed(4) ?? '-'} (done)` });
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
        { stream: process.stderr, format: '{label} [{bar}] {value}/{total} | {info}', hideCursor: true, clearOnComplete: false, barsize: 24 },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  update(root: ObjectRunner): void {
    if (!this.enabled) return;
    for (const [key, l] of progressLines(root)) {
      if (this.multi) {
        const bar = this.bars.get(key) ?? this.multi.create(Math.max(1, l.total), l.value, { label: l.label, info: l.info });
        this.bars.set(key, bar);
        bar.setTotal(Math.max(1, l.total));
        bar.update(l.value, { label: l.label, info: l.info });
      } else {
        const text = `${l.label.trim()} ${l.value}/${l.total} ${l.info}`;
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
