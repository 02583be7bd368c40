/** The search tool: grep -F in the sandbox, with the result summarised as R2E-Gym does. Pure parts here. */

/** Quotes a string for bash. */
export const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The grep command line for a search term and a path (file or directory). */
export function searchCommand(term: string, target: string): string {
  return `grep -rIn -F --exclude-dir=.git --exclude-dir=node_modules --exclude-dir=__pycache__ -e ${shQuote(term)} -- ${shQuote(target)}`;
}

/**
 * Formats grep -n output. In a directory: the files with their match counts (at most maxFiles);
 * in a file: the matching lines with numbers (at most maxLines).
 */
export function formatSearch(term: string, shownPath: string, isFile: boolean, grepOutput: string, root: string, maxFiles = 100, maxLines = 200): string {
  const rows = grepOutput.split('\n').filter((l) => l.length > 0 && !l.startsWith('grep: '));
  if (rows.length === 0) return `No matches found for "${term}" in ${shownPath}.`;
  const strip = (f: string) => (f.startsWith(root + '/') ? f.slice(root.length + 1) : f);
  if (isFile) {
    const lines = rows.map((r) => r.replace(/^([^:]*:)?(\d+):/, (_m, _f, n: string) => `${n}:`));
    const shown = lines.slice(0, maxLines);
    const more = lines.length > maxLines ? `\n[... ${lines.length - maxLines} more matches]` : '';
    return `Matches for "${term}" in ${shownPath}:\n${shown.join('\n')}${more}`;
  }
  const counts = new Map<string, number>();
  for (const r of rows) {
    const m = /^(.*?):\d+:/.exec(r);
    if (!m) continue;
    const f = strip(m[1]);
    counts.set(f, (counts.get(f) ?? 0) + 1);
  }
  if (counts.size > maxFiles) {
    return `More than ${maxFiles} files matched "${term}" in ${shownPath} (${counts.size} files, ${rows.length} matches). Please narrow your search.`;
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const list = [...counts.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([f, n]) => `./${f} (${n} matches)`);
  return `Found ${total} matches for "${term}" in ${shownPath}:\n${list.join('\n')}\nEnd of matches for "${term}" in ${shownPath}.`;
}
