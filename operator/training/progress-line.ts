/**
 * The trainer's progress line (`entropo train`, drawn by cli-progress in step-loop.ts) and its
 * parser, kept together so the executors that read a trainer's output (local mode's child process,
 * the trainer Job's `entropo train-job`) follow the format the trainer writes. No tfjs import.
 */

/** cli-progress format of the step loop: "train [bar] 5/20 steps | loss 0.6931 | 500 tok/s | eta 10s". */
export const PROGRESS_FORMAT = 'train [{bar}] {value}/{total} steps | loss {loss} | {tps} tok/s | eta {eta_formatted}';

/** Step, total steps and loss (when a number) of a progress line; undefined for any other line. */
export function parseProgressLine(line: string): { step: number; totalSteps: number; loss?: number } | undefined {
  const m = /(\d+)\/(\d+) steps \| loss (\S+)/.exec(line);
  if (!m) return undefined;
  const loss = Number(m[3]);
  return { step: Number(m[1]), totalSteps: Number(m[2]), ...(Number.isFinite(loss) ? { loss } : {}) };
}
