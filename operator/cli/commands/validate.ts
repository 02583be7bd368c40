/**
 * `entropo validate [FILE...] [-f FILE]...`: checks manifests the way the API server would,
 * without one (operator/api/manifests.ts decides). `-` or `-f -` reads stdin. Exit 0 when every
 * entropo.dev object is valid, 1 otherwise (also for a file with no object at all: empty or only
 * comments); documents of other kinds are skipped with a note.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { validateManifests } from '../../api/manifests.ts';

/** Output formats of `-o` (as kubectl's): the defaulted objects. */
const FORMATS = ['yaml', 'json', 'name'] as const;

const format = (v: string): (typeof FORMATS)[number] => {
  if (!(FORMATS as readonly string[]).includes(v)) throw new InvalidArgumentError(`unknown output format ${JSON.stringify(v)}: expected one of ${FORMATS.join(', ')}`);
  return v as (typeof FORMATS)[number];
};

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Reads a file argument; "-" is stdin. */
export function readInput(file: string): string {
  return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('validate TrainingRun / RolloutBatch / EvalSuite manifests (schema, defaults, CEL rules, metadata) as the API server would, without a cluster')
    .argument('[files...]', 'YAML files (multi-document allowed; - reads stdin)')
    .option('-f, --filename <file>', 'a file to validate (repeatable; - reads stdin), as kubectl -f', collect)
    .option('-o, --output <format>', `print the defaulted objects: ${FORMATS.join(', ')}`, format)
    .action((args: string[], opts: { filename?: string[]; output?: (typeof FORMATS)[number] }) => {
      const files = [...args, ...(opts.filename ?? [])];
      if (files.length === 0) throw new Error('validate: give at least one file (or - / -f - for stdin)');
      let bad = 0;
      const objects: unknown[] = [];
      for (const file of files) {
        let text: string;
        try {
          text = readInput(file);
        } catch (e) {
          console.error(`${file}: ${(e as Error).message}`);
          bad++;
          continue;
        }
        const source = file === '-' ? '<stdin>' : file;
        const results = validateManifests(text, source);
        if (results.length === 0) {
          // as `kubectl apply -f` of such a file ("no objects passed to apply"): an error, not a pass
          console.error(`${source}: no objects to validate (the file is empty or holds only comments)`);
          bad++;
        }
        for (const r of results) {
          if (r.status === 'skipped') console.error(`${r.where}: ${r.note}`);
          else if (r.status === 'invalid') {
            bad++;
            if (r.kind === 'YAML') console.error(`${r.where}: ${r.errors!.map((e) => e.message).join('\n')}`);
            else console.error(`${r.where}: ${r.kind ?? 'document'} is invalid:\n${r.errors!.map((e) => `  - ${e.field || '(root)'}${e.line !== undefined ? ` (line ${e.line})` : ''}: ${e.message}`).join('\n')}`);
          } else if (opts.output) objects.push(r.value);
          else console.log(`${r.where}: ${r.kind} is valid`);
        }
      }
      if (opts.output === 'json') console.log(JSON.stringify(objects.length === 1 ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects }, null, 2));
      else if (opts.output === 'yaml') for (const o of objects) console.log(`---\n${stringify(o).trimEnd()}`);
      else if (opts.output === 'name') {
        for (const o of objects) {
          const v = o as { kind: string; metadata: { name?: string } };
          console.log(`${v.kind.toLowerCase()}.entropo.dev/${v.metadata.name}`);
        }
      }
      if (bad) process.exitCode = 1;
    });
}
