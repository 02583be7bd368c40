/** `entropo crds`: prints the CustomResourceDefinitions generated from the schemas. */
import type { Command } from 'commander';
import { renderCrds } from '../../api/generate.ts';

export function registerGenerate(program: Command): void {
  program
    .command('crds')
    .description('print the CustomResourceDefinitions (same as crds/*.yaml)')
    .action(() => {
      console.log([...renderCrds().values()].join('---\n'));
    });
}
