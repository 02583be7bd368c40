/**
 * Patch normalisation for majority voting and for counting distinct patches: two diffs that make
 * the same change to the same files compare equal even when git metadata, hunk line numbers,
 * line endings, trailing or repeated blanks, or the order of files differ.
 */
import { createHash } from 'node:crypto';

interface FileSection {
  key: string;
  body: string[];
}

const HUNK = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/;
const METADATA = /^(diff |index |old mode |new mode |deleted file mode |new file mode |similarity index |dissimilarity index |rename from |rename to |copy from |copy to )/;

const clean = (line: string) => line.replace(/[ \t\f\v]+/g, ' ').trimEnd();

function headerPath(line: string): string {
  let p = line.slice(4).split('\t')[0].trim();
  if (p.startsWith('"') && p.endsWith('"')) p = p.slice(1, -1);
  return p === '/dev/null' ? p : p.replace(/^[ab]\//, '');
}

/**
 * Normalises a unified diff:
 * - CRLF and CR become LF; lines lose trailing blanks and runs of blanks become one space;
 * - "diff --git", "index", mode, rename/copy/similarity and "\ No newline" lines are dropped;
 * - "--- a/x" / "+++ b/x" keep the paths only (a/ b/ prefixes and timestamps removed);
 * - hunk headers lose their line numbers and function context (hunk bodies are read by the
 *   header's line counts, so a removed line that starts with "--" is not taken for a header);
 * - added or removed blank lines are dropped (blank-line-only edits do not vote apart);
 * - file sections are sorted by path.
 * Text outside any diff is kept line by line, cleaned the same way. "" stays "".
 */
export function normalisePatch(patch: string): string {
  const lines = patch.replace(/\r\n?/g, '\n').split('\n');
  const files: FileSection[] = [];
  let current: FileSection | undefined;
  let pendingOld: string | undefined;
  let oldLeft = 0;
  let newLeft = 0;
  const section = () => {
    if (!current) {
      current = { key: '', body: [] };
      files.push(current);
    }
    return current;
  };
  for (const raw of lines) {
    if (oldLeft > 0 || newLeft > 0) {
      const c = raw[0];
      if (c === '\\') continue;
      if (c === '+') newLeft--;
      else if (c === '-') oldLeft--;
      else {
        // context line (' ', or an empty line where a tool stripped the leading blank)
        oldLeft--;
        newLeft--;
      }
      const line = clean(raw);
      if ((c === '+' || c === '-') && line.length === 1) continue;
      section().body.push(line === '' ? ' ' : line);
      continue;
    }
    if (raw.startsWith('--- ')) {
      pendingOld = headerPath(raw);
      continue;
    }
    if (raw.startsWith('+++ ') && pendingOld !== undefined) {
      current = { key: `--- ${pendingOld}\n+++ ${headerPath(raw)}`, body: [] };
      files.push(current);
      pendingOld = undefined;
      continue;
    }
    if (pendingOld !== undefined) {
      // a lone "--- " line that no "+++ " followed: keep it as text
      section().body.push(clean(`--- ${pendingOld}`));
      pendingOld = undefined;
    }
    const hunk = HUNK.exec(raw);
    if (hunk) {
      oldLeft = hunk[1] === undefined ? 1 : Number(hunk[1]);
      newLeft = hunk[2] === undefined ? 1 : Number(hunk[2]);
      section().body.push('@@');
      continue;
    }
    if (METADATA.test(raw) || raw.startsWith('\\')) continue;
    const line = clean(raw);
    if (line !== '') section().body.push(line);
  }
  if (pendingOld !== undefined) section().body.push(clean(`--- ${pendingOld}`));
  files.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return files.map((f) => [f.key, ...f.body].filter((l, i) => i > 0 || l !== '').join('\n')).join('\n');
}

/** sha256 (hex) of the normalised patch; the empty patch hashes "". */
export function normalisedPatchHash(patch: string): string {
  return createHash('sha256').update(normalisePatch(patch)).digest('hex');
}

/** patchKey of the empty patch: sha256 of "". */
export const EMPTY_PATCH_KEY = createHash('sha256').update('').digest('hex');

/**
 * What makes two candidates' patches "the same": the candidate's patchKey when it has one
 * (a summary's patchHash), else its normalised patch text. "" for an empty patch either way.
 */
export function patchIdentity(c: { patch: string; patchKey?: string }): string {
  if (c.patchKey !== undefined) return c.patchKey === EMPTY_PATCH_KEY ? '' : `#${c.patchKey}`;
  return normalisePatch(c.patch);
}
