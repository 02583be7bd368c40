/** `entropo validate FILE...`: checks manifests the way the API server would, without one. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { parseResource, ValidationError } from '../../api/validate.ts';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('validate TrainingRun / RolloutBatch / EvalSuite manifests (schema, defaults, CEL rules) without a cluster')
    .argument('<files...>', 'YAML files (multi-document allowed)')
    .option('-o, --output <format>', 'print the defaulted objects: yaml or json')
    .action((files: string[], opts: { output?: string }) => {
      let bad = 0;
      for (const file of files) {
        const docs = parseAllDocuments(readFileSync(file, 'utf8'));
        docs.forEach((doc, i) => {
          const where = docs.length > 1 ? `${file} (document ${i + 1})` : file;
          if (doc.errors.length) {
            console.error(`${where}: YAML error: ${doc.errors[0].message}`);
            bad++;
            return;
          }
          try {
            const { kind, value } = parseResource(doc.toJS(), where);
            if (opts.output === 'json') console.log(JSON.stringify(value, null, 2));
            else if (opts.output === 'yaml') console.log(`---\n${stringify(value)}`);
            else console.log(`${where}: ${kind} is valid`);
          } catch (e) {
            if (!(e instanceof ValidationError)) throw e;
            console.error(e.message);
            bad++;
          }
        });
      }
      if (bad) process.exitCode = 1;
    });
}
