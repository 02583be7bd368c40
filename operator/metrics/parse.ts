/** A small parser of the Prometheus text exposition format (for probes, tests and the benchmark). */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels match every entry of `where` (a function or a partial label set). */
export function sumSamples(samples: Sample[], name: string, where: Record<string, string> | ((l: Record<string, string>) => boolean) = {}): number {
  const match = typeof where === 'function' ? where : (l: Record<string, string>) => Object.entries(where).every(([k, v]) => l[k] === v);
  return samples.filter((s) => s.name === name && match(s.labels)).reduce((a, s) => a + s.value, 0);
}
