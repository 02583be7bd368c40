/**
 * Unified diffs of one file, in git's format (a/ b/ prefixes, 3 lines of context), computed
 * in-process: the built-in suite stores each task as correct sources plus bug edits, and its
 * gold patch / test patch are diffs computed here. Pure.
 */

type Op = { kind: ' ' | '-' | '+'; line: string };

const NOEOL = '\u0000\\ No newline at end of file';

/** Lines of a text; a last line without "\n" carries the NOEOL marker, so it differs from the same text with one. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const newlineAtEnd = text.endsWith('\n');
  const lines = (newlineAtEnd ? text.slice(0, -1) : text).split('\n');
  if (!newlineAtEnd) lines[lines.length - 1] += NOEOL;
  return lines;
}

/** Line-level edit script: common prefix/suffix trimmed, LCS on the rest. */
function editScript(a: string[], b: string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const mid: Op[] = [];
  if (am.length * bm.length > 25_000_000) {
    // Too large for the quadratic LCS: replace the block (still a correct diff).
    for (const l of am) mid.push({ kind: '-', line: l });
    for (const l of bm) mid.push({ kind: '+', line: l });
  } else {
    const n = am.length;
    const m = bm.length;
    const dp: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        dp[i][j] = am[i] === bm[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (am[i] === bm[j]) {
        mid.push({ kind: ' ', line: am[i] });
        i++;
        j++;
      } else if (dp[i + 1][j] >= dp[i][j + 1]) {
        mid.push({ kind: '-', line: am[i++] });
      } else {
        mid.push({ kind: '+', line: bm[j++] });
      }
    }
    while (i < n) mid.push({ kind: '-', line: am[i++] });
    while (j < m) mid.push({ kind: '+', line: bm[j++] });
  }
  return [
    ...a.slice(0, pre).map((line) => ({ kind: ' ' as const, line })),
    ...mid,
    ...a.slice(a.length - suf).map((line) => ({ kind: ' ' as const, line })),
  ];
}

const range = (start: number, count: number) => (count === 0 ? `${start},0` : count === 1 ? `${start}` : `${start},${count}`);

/**
 * The unified diff turning `before` into `after` at `path`; before === null: a new file,
 * after === null: a deleted file. Empty string when nothing changes.
 */
export function unifiedDiff(path: string, before: string | null, after: string | null, context = 3): string {
  if (before === after) return '';
  const ops = editScript(splitLines(before ?? ''), splitLines(after ?? ''));
  const header = [`diff --git a/${path} b/${path}`];
  if (before === null) header.push('new file mode 100644', '--- /dev/null', `+++ b/${path}`);
  else if (after === null) header.push('deleted file mode 100644', `--- a/${path}`, '+++ /dev/null');
  else header.push(`--- a/${path}`, `+++ b/${path}`);

  // Positions (index into ops) of changes; group into hunks with `context` lines around.
  const changed = ops.map((o, i) => (o.kind === ' ' ? -1 : i)).filter((i) => i >= 0);
  if (changed.length === 0) return '';
  const hunks: [number, number][] = [];
  for (const i of changed) {
    const s = Math.max(0, i - context);
    const e = Math.min(ops.length - 1, i + context);
    const last = hunks[hunks.length - 1];
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else hunks.push([s, e]);
  }
  // Line numbers of each op on both sides.
  const posA: number[] = [];
  const posB: number[] = [];
  let ia = 0;
  let ib = 0;
  for (const o of ops) {
    posA.push(ia);
    posB.push(ib);
    if (o.kind !== '+') ia++;
    if (o.kind !== '-') ib++;
  }
  const out = [...header];
  for (const [s, e] of hunks) {
    const slice = ops.slice(s, e + 1);
    const countA = slice.filter((o) => o.kind !== '+').length;
    const countB = slice.filter((o) => o.kind !== '-').length;
    const startA = countA === 0 ? posA[s] : posA[s] + 1;
    const startB = countB === 0 ? posB[s] : posB[s] + 1;
    out.push(`@@ -${range(startA, countA)} +${range(startB, countB)} @@`);
    for (const o of slice) {
      if (o.line.endsWith(NOEOL)) out.push(`${o.kind}${o.line.slice(0, -NOEOL.length)}`, '\\ No newline at end of file');
      else out.push(`${o.kind}${o.line}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** A diff over several files: path -> [before, after] (null: absent). Files in path order. */
export function unifiedDiffOfFiles(changes: Record<string, [string | null, string | null]>): string {
  return Object.keys(changes)
    .sort()
    .map((p) => unifiedDiff(p, changes[p][0], changes[p][1]))
    .join('');
}
