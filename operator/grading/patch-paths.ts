/**
 * Reading the paths a unified diff touches, in every form git and GNU diff write (issue 11 items 2
 * and 9), and refusing patches that reach outside the work tree. Pure.
 *
 * Handled: LF and CRLF line ends (and a lone CR), "\ No newline at end of file", new and deleted
 * files (/dev/null), renames and copies ("rename from/to", "copy from/to"), mode changes, binary
 * hunks ("GIT binary patch", "Binary files ... differ"), C-quoted paths ("a/sp\303\244ce \"q\".py")
 * and unquoted paths with spaces ("diff --git a/my file.py b/my file.py"), timestamps after a tab
 * on ---/+++ lines, and the a/ b/ prefixes (or none, -p0 style). Symbolic links a patch creates
 * are read from their mode (120000) and target.
 */

/** One file a patch touches. */
export interface PatchFile {
  /** Path before the change (undefined for a new file). */
  from?: string;
  /** Path after the change (undefined for a deletion). */
  to?: string;
  /** The target, when the patch makes `to` a symbolic link (mode 120000). */
  symlinkTarget?: string;
}

/** Lines of a text, whatever its line ends. */
const linesOf = (text: string): string[] => text.split(/\r\n|\r|\n/);

/** Undoes git's C-style quoting of a path ("\t", "\"", "\\", octal bytes as UTF-8). */
export function unquoteCPath(s: string): string {
  if (!(s.length >= 2 && s.startsWith('"') && s.endsWith('"'))) return s;
  const body = s.slice(1, -1);
  const bytes: number[] = [];
  const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', a: '\x07', b: '\b', f: '\f', v: '\v' };
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\' && i + 1 < body.length) {
      const n = body[i + 1];
      if (/[0-7]/.test(n)) {
        const oct = /^[0-7]{1,3}/.exec(body.slice(i + 1))![0];
        bytes.push(parseInt(oct, 8) & 0xff);
        i += oct.length;
        continue;
      }
      if (simple[n] !== undefined) {
        bytes.push(...Buffer.from(simple[n]));
        i++;
        continue;
      }
    }
    bytes.push(...Buffer.from(c));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Strips the a/ or b/ prefix git writes (paths written without one are kept as they are). */
const stripPrefix = (p: string): string => p.replace(/^[ab]\//, '');

/** The path of a ---/+++ line: quoted, or up to a tab (GNU diff's timestamp); /dev/null -> undefined. */
function headerPath(rest: string): string | undefined {
  let p = rest;
  if (p.startsWith('"')) {
    const end = findQuoteEnd(p, 0);
    p = p.slice(0, end + 1);
  } else {
    const tab = p.indexOf('\t');
    if (tab >= 0) p = p.slice(0, tab);
    p = p.replace(/\s+$/, '');
  }
  const u = unquoteCPath(p);
  return u === '/dev/null' ? undefined : stripPrefix(u);
}

function findQuoteEnd(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i;
  }
  return s.length - 1;
}

/** The two paths of "diff --git A B" (quoted, or unquoted with spaces: split where both halves agree). */
function gitHeaderPaths(rest: string): [string, string] | undefined {
  if (rest.startsWith('"')) {
    const end = findQuoteEnd(rest, 0);
    const a = rest.slice(0, end + 1);
    const b = rest.slice(end + 1).trim();
    return [stripPrefix(unquoteCPath(a)), stripPrefix(unquoteCPath(b))];
  }
  if (rest.endsWith('"')) {
    const start = rest.lastIndexOf(' "');
    return [stripPrefix(rest.slice(0, start)), stripPrefix(unquoteCPath(rest.slice(start + 1)))];
  }
  // Unquoted: "a/x y b/x y". Prefer the split where both sides name the same file.
  const candidates: [string, string][] = [];
  for (let i = rest.indexOf(' '); i >= 0; i = rest.indexOf(' ', i + 1)) {
    const a = rest.slice(0, i);
    const b = rest.slice(i + 1);
    candidates.push([a, b]);
    if (stripPrefix(a) === stripPrefix(b)) return [stripPrefix(a), stripPrefix(b)];
  }
  const ab = candidates.find(([a, b]) => a.startsWith('a/') && b.startsWith('b/'));
  if (ab) return [stripPrefix(ab[0]), stripPrefix(ab[1])];
  return candidates.length ? [stripPrefix(candidates[0][0]), stripPrefix(candidates[0][1])] : undefined;
}

/** Every file a unified diff touches, in order, with both sides of renames and copies. */
export function patchFiles(patch: string): PatchFile[] {
  const out: PatchFile[] = [];
  let cur: (PatchFile & { mode?: string; sawHeader?: boolean; closed?: boolean }) | undefined;
  let inHunk = false;
  let hunkLeft = { old: 0, neu: 0 };
  const push = () => {
    if (cur && (cur.from !== undefined || cur.to !== undefined)) out.push({ ...(cur.from !== undefined ? { from: cur.from } : {}), ...(cur.to !== undefined ? { to: cur.to } : {}), ...(cur.symlinkTarget !== undefined ? { symlinkTarget: cur.symlinkTarget } : {}) });
    cur = undefined;
  };
  for (const line of linesOf(patch)) {
    if (inHunk) {
      if (hunkLeft.old > 0 || hunkLeft.neu > 0) {
        const c = line[0];
        if (c === ' ' || line === '') {
          hunkLeft.old--;
          hunkLeft.neu--;
        } else if (c === '-') hunkLeft.old--;
        else if (c === '+') {
          hunkLeft.neu--;
          if (cur?.mode === '120000' && cur.symlinkTarget === undefined) cur.symlinkTarget = line.slice(1);
        } else if (c !== '\\') inHunk = false;
        if (inHunk) continue;
      } else if (line.startsWith('\\')) continue;
      else inHunk = false;
    }
    let m: RegExpExecArray | null;
    if ((m = /^diff --git (.+)$/.exec(line))) {
      push();
      const p = gitHeaderPaths(m[1]);
      cur = p ? { from: p[0], to: p[1] } : {};
      continue;
    }
    if ((m = /^(?:new file mode|new mode) (\d+)$/.exec(line))) {
      if (cur) cur.mode = m[1];
      continue;
    }
    if ((m = /^(rename|copy) (from|to) (.+)$/.exec(line))) {
      cur ??= {};
      const p = stripPrefix(unquoteCPath(m[3]));
      if (m[2] === 'from') cur.from = p;
      else cur.to = p;
      continue;
    }
    if ((m = /^--- (.+)$/.exec(line))) {
      // A ---/+++ pair outside a git header starts a new file (plain `diff -u` output).
      if (!cur || cur.sawHeader || cur.closed) {
        push();
        cur = {};
      }
      cur.sawHeader = true;
      const p = headerPath(m[1]);
      cur.from = p;
      if (p === undefined) delete cur.from;
      continue;
    }
    if ((m = /^\+\+\+ (.+)$/.exec(line))) {
      cur ??= { sawHeader: true };
      const p = headerPath(m[1]);
      cur.to = p;
      if (p === undefined) delete cur.to;
      continue;
    }
    if ((m = /^deleted file mode/.exec(line))) {
      if (cur) cur.to = undefined;
      continue;
    }
    if (/^(GIT binary patch|Binary files .* differ)$/.test(line)) {
      if (cur) cur.closed = true;
      continue;
    }
    if ((m = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(line))) {
      inHunk = true;
      if (cur) cur.closed = true;
      hunkLeft = { old: m[1] === undefined ? 1 : Number(m[1]), neu: m[2] === undefined ? 1 : Number(m[2]) };
      continue;
    }
  }
  push();
  return out;
}

/** Paths a unified diff touches (both sides of renames and copies), without a/ b/ prefixes. */
export function filesOfPatch(patch: string): string[] {
  const out = new Set<string>();
  for (const f of patchFiles(patch)) {
    if (f.from !== undefined) out.add(f.from);
    if (f.to !== undefined) out.add(f.to);
  }
  return [...out];
}

/** Why a path in a patch is not allowed: absolute, leaves the tree, or inside .git; undefined if fine. */
export function unsafePathReason(p: string): string | undefined {
  const norm = p.replace(/\\/g, '/');
  if (norm === '') return 'empty path';
  if (norm.startsWith('/') || /^[A-Za-z]:\//.test(norm)) return 'absolute path';
  const parts = norm.split('/');
  let depth = 0;
  for (const part of parts) {
    if (part === '..') {
      depth--;
      if (depth < 0) return 'leaves the work tree';
    } else if (part !== '' && part !== '.') depth++;
    // .git, and names git or a case-insensitive file system takes for it (".GIT", ".git.", ".git ").
    if (/^\.git[. ]*$/i.test(part)) return 'inside .git';
  }
  if (parts.includes('..')) return 'has ".." segments';
  return undefined;
}

/**
 * Why a patch must not be applied (pure): a path absolute, outside the tree or inside .git, on any
 * side of any file; a symbolic link it creates pointing outside the tree (absolute, or up past the
 * root). Empty when it is safe to hand to git apply / patch.
 */
export function patchSafetyProblems(patch: string): string[] {
  const problems: string[] = [];
  for (const f of patchFiles(patch)) {
    for (const p of [f.from, f.to]) {
      if (p === undefined) continue;
      const why = unsafePathReason(p);
      if (why) problems.push(`${JSON.stringify(p)}: ${why}`);
    }
    if (f.symlinkTarget !== undefined && f.to !== undefined) {
      const dir = f.to.split('/').slice(0, -1).join('/');
      const target = f.symlinkTarget.startsWith('/') ? f.symlinkTarget : dir ? `${dir}/${f.symlinkTarget}` : f.symlinkTarget;
      const why = unsafePathReason(target);
      if (why) problems.push(`symbolic link ${JSON.stringify(f.to)} -> ${JSON.stringify(f.symlinkTarget)}: ${why}`);
    }
  }
  // Formats other than unified diffs (ed scripts, context and normal diffs) are not read here, so not applied.
  if (/^(?:\d+(?:,\d+)?[acd]\d+(?:,\d+)?|\*\*\* \S|\*{15})\s*$/m.test(patch.replace(/\r/g, ''))) {
    problems.push('not a unified diff (ed-style, normal or context diff lines found)');
  }
  return [...new Set(problems)];
}
