/**
 * Progress for output that is not a terminal (a log file, CI): cli-progress draws its bars for a
 * TTY only (elsewhere it printed "2/100 ... 86h" for 2 items), so a command prints one plain line
 * per finished item instead: `<label> <done>/<total> | <name> <value> | ...` on stderr.
 */
export function plainProgress(label: string, total: number, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): (values: Record<string, number>) => void {
  let done = 0;
  return (values) => {
    done++;
    write([`${label} ${done}/${total}`, ...Object.entries(values).map(([k, v]) => `${k.replace(/_/g, ' ')} ${v}`)].join(' | '));
  };
}
