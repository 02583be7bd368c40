/**
 * The edits of the built-in policy's demonstrations, pure (text in, text out):
 *
 * - the gold edit of a task: the smallest line region where the base file and the fixed file
 *   differ, as a str_replace (old_str / new_str, the first line's indentation left out when the
 *   text stays unique), and the view range that shows it with a few lines around;
 * - plausible wrong edits (issue 10): the same kind of one-token change on a NEIGHBOURING line
 *   (above, below), a wrong operator on the bug line itself, a partial fix of a multi-line bug,
 *   the suite's regression-breaking fix; each is graded by the real grader before it is used
 *   (operator/policy/demos.ts), so a "wrong" edit that happens to resolve the task is dropped;
 * - a mistyped old_str for the error-and-retry demonstrations.
 */

export interface StrReplace {
  oldStr: string;
  newStr: string;
}

export interface GoldEdit extends StrReplace {
  /** 1-based first and last line of the edited region in the base file. */
  startLine: number;
  endLine: number;
  /** view_range that shows the region with `context` lines around it. */
  viewRange: [number, number];
}

export type WrongKind = 'above' | 'below' | 'operator' | 'partial' | 'regression' | 'above2' | 'below2' | 'operator2';

export interface WrongEdit extends StrReplace {
  kind: WrongKind;
}

const splitLines = (t: string): string[] => t.split('\n');
const indentOf = (line: string): string => /^[ \t]*/.exec(line)![0];
const count = (hay: string, needle: string): number => {
  if (!needle) return 0;
  let n = 0;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) n++;
  return n;
};

/**
 * old_str / new_str for replacing base lines [a, b) by `replacement` lines: the first line's
 * indentation is left out when both sides share it and old_str stays unique in the file.
 * Returns undefined when even the whole lines are not unique.
 */
export function lineReplace(base: string, a: number, b: number, replacement: string[]): StrReplace | undefined {
  const lines = splitLines(base);
  const old = lines.slice(a, b);
  if (old.length === 0) return undefined;
  const ind = indentOf(old[0]);
  if (ind && (replacement.length === 0 || replacement[0].startsWith(ind))) {
    const o = [old[0].slice(ind.length), ...old.slice(1)].join('\n');
    const n = replacement.length ? [replacement[0].slice(ind.length), ...replacement.slice(1)].join('\n') : '';
    if (o.trim() && count(base, o) === 1) return { oldStr: o, newStr: n };
  }
  const o = old.join('\n');
  if (count(base, o) === 1) return { oldStr: o, newStr: replacement.join('\n') };
  return undefined;
}

/** The gold edit taking `base` to `fixed` (one region; context lines are added until old_str is unique). */
export function goldEdit(base: string, fixed: string, context = 3): GoldEdit {
  const bl = splitLines(base);
  const fl = splitLines(fixed);
  if (base === fixed) throw new Error('goldEdit: the base and fixed files are equal');
  let p = 0;
  while (p < bl.length && p < fl.length && bl[p] === fl[p]) p++;
  let s = 0;
  while (s < bl.length - p && s < fl.length - p && bl[bl.length - 1 - s] === fl[fl.length - 1 - s]) s++;
  let a = p;
  let bEnd = bl.length - s;
  let fEnd = fl.length - s;
  for (;;) {
    // an empty side (pure insertion or deletion) takes a line of context
    if (bEnd > a && fEnd > a) {
      const r = lineReplace(base, a, bEnd, fl.slice(a, fEnd));
      if (r) {
        const startLine = a + 1;
        const endLine = bEnd;
        return { ...r, startLine, endLine, viewRange: [Math.max(1, startLine - context), Math.min(bl.length, endLine + context)] };
      }
    }
    if (a > 0) a--;
    else if (bEnd < bl.length) {
      bEnd++;
      fEnd++;
    } else throw new Error('goldEdit: no unique region');
  }
}

/** One-token mutations a confused coder makes (order matters: the first that applies is used). */
const MUTATIONS: [RegExp, string | ((m: RegExpExecArray) => string)][] = [
  [/ === /, ' !== '],
  [/ !== /, ' === '],
  [/ == /, ' != '],
  [/ != /, ' == '],
  [/ <= /, ' < '],
  [/ >= /, ' > '],
  [/ < /, ' <= '],
  [/ > /, ' >= '],
  [/ && /, ' || '],
  [/ \|\| /, ' && '],
  [/ and /, ' or '],
  [/ or /, ' and '],
  [/ \+ 1\b/, ' - 1'],
  [/ - 1\b/, ' + 1'],
  [/\btrue\b/, 'false'],
  [/\bfalse\b/, 'true'],
  [/\bTrue\b/, 'False'],
  [/\bFalse\b/, 'True'],
  [/\bnot /, ''],
  [/!(?=[\w(])/, ''],
  [/\b0\b/, '1'],
  [/\b1\b/, '0'],
  [/\b([2-9])\b/, (m) => String(Number(m[1]) + 1)],
  [/\.length\b(?! [-+])/, '.length - 1'],
  [/\blen\((\w+)\)(?! [-+])/, (m) => `len(${m[1]}) - 1`],
  [/ \+ /, ' - '],
  [/ - /, ' + '],
  [/ \* /, ' / '],
];

/** Distinct one-token mutants of a line, in MUTATIONS order (pure). */
export function mutants(line: string): string[] {
  const out: string[] = [];
  for (const [re, rep] of MUTATIONS) {
    const m = re.exec(line);
    if (!m) continue;
    const r = typeof rep === 'string' ? rep : rep(m);
    const v = line.slice(0, m.index) + r + line.slice(m.index + m[0].length);
    if (v !== line && !out.includes(v)) out.push(v);
  }
  return out;
}

/** A mutated copy of a base line range as a str_replace, or undefined. */
function mutateLines(base: string, a: number, b: number, which: number, avoid: string[]): StrReplace | undefined {
  const lines = splitLines(base);
  const region = lines.slice(a, b);
  const options: string[][] = [];
  region.forEach((l, i) => {
    for (const m of mutants(l)) options.push(region.map((x, j) => (j === i ? m : x)));
  });
  const fresh = options.filter((o) => !avoid.includes(o.join('\n')));
  const pick = fresh[which];
  return pick ? lineReplace(base, a, b, pick) : undefined;
}

/** The nearest non-blank lines (0-based) above or below the region, nearest first. */
function neighbours(lines: string[], start: number, end: number, dir: -1 | 1): number[] {
  const out: number[] = [];
  for (let i = dir < 0 ? start - 1 : end; i >= 0 && i < lines.length && out.length < 4; i += dir) {
    if (lines[i].trim().length > 2) out.push(i);
  }
  return out;
}

/**
 * Plausible wrong edits of a task, in a fixed order of kinds (pure). `regression` is the suite's
 * regression-breaking fixed file, when the task has one.
 */
export function wrongEdits(base: string, fixed: string, gold: GoldEdit, regression?: string): WrongEdit[] {
  const lines = splitLines(base);
  const a = gold.startLine - 1;
  const b = gold.endLine;
  const out: WrongEdit[] = [];
  // a wrong edit no longer than the gold one plus a line (a long one would not fit the context)
  const maxLines = Math.max(3, gold.oldStr.split('\n').length + 1);
  const add = (kind: WrongKind, e: StrReplace | undefined) => {
    if (!e || e.oldStr === e.newStr) return;
    if (e.oldStr.split('\n').length > maxLines || e.newStr.split('\n').length > maxLines) return;
    if (out.some((w) => w.oldStr === e.oldStr && w.newStr === e.newStr)) return;
    if (e.oldStr === gold.oldStr && e.newStr === gold.newStr) return;
    out.push({ kind, ...e });
  };
  const neighbour = (dir: -1 | 1, nth: number): StrReplace | undefined => {
    let seen = 0;
    for (const i of neighbours(lines, a, b, dir)) {
      const e = mutateLines(base, i, i + 1, 0, []);
      if (e && seen++ === nth) return e;
    }
    return undefined;
  };
  const fl = splitLines(fixed);
  const goldRegionLines = fl.slice(a, fl.length - (lines.length - b));
  add('above', neighbour(-1, 0));
  add('below', neighbour(1, 0));
  add('operator', mutateLines(base, a, b, 0, [goldRegionLines.join('\n')]));
  if (regression !== undefined && regression !== fixed) {
    try {
      add('regression', goldEdit(base, regression, 0));
    } catch {
      // no single region: not used
    }
  }
  // partial: a multi-line region where only the first changed line is fixed
  const oldRegion = lines.slice(a, b);
  const newRegion = goldRegionLines;
  if (oldRegion.length === newRegion.length && oldRegion.length > 1) {
    const changed = oldRegion.map((l, i) => l !== newRegion[i]);
    if (changed.filter(Boolean).length > 1) {
      const first = changed.indexOf(true);
      add('partial', lineReplace(base, a, b, oldRegion.map((l, i) => (i === first ? newRegion[i] : l))));
    }
  }
  add('above2', neighbour(-1, 1));
  add('below2', neighbour(1, 1));
  add('operator2', mutateLines(base, a, b, 1, [goldRegionLines.join('\n')]));
  return out;
}

/** A mistyped old_str (an extra space) that does not occur in the file, for error-and-retry demonstrations. */
export function mistypedOldStr(base: string, oldStr: string): string | undefined {
  const candidates: string[] = [];
  const sp = oldStr.indexOf(' ');
  if (sp > 0) candidates.push(oldStr.slice(0, sp) + ' ' + oldStr.slice(sp));
  const paren = oldStr.indexOf('(');
  if (paren > 0) candidates.push(oldStr.slice(0, paren + 1) + ' ' + oldStr.slice(paren + 1));
  candidates.push(oldStr + ';');
  return candidates.find((c) => c !== oldStr && !base.includes(c));
}
