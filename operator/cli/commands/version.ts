/** `entropo version [-o json|yaml]`: the version of the CLI, the API it speaks and the runtime, as kubectl version prints them. */
import type { Command} from 'commander';
import { InvalidArgumentError } from 'commander';
import { stringify } from 'yaml';
import { GROUP, VERSION } from '../../api/common.ts';

/** What `entropo version` reports. */
export function versionInfo(version: string): { version: string; apiVersion: string; node: string; platform: string } {
  return { version, apiVersion: `${GROUP}/${VERSION}`, node: process.version, platform: `${process.platform}/${process.arch}` };
}

export function registerVersion(program: Command, version: string): void {
  program
    .command('version')
    .description('print the version of entropo, its API and its runtime')
    .option('-o, --output <format>', 'json or yaml (default: one line)', (v: string) => {
      if (v !== 'json' && v !== 'yaml') throw new InvalidArgumentError(`unknown output format ${JSON.stringify(v)}: expected json or yaml`);
      return v;
    })
    .action((o: { output?: 'json' | 'yaml' }) => {
      const info = versionInfo(version);
      if (o.output === 'json') console.log(JSON.stringify(info, null, 2));
      else if (o.output === 'yaml') process.stdout.write(stringify(info));
      else console.log(`entropo ${info.version} (API ${info.apiVersion}, Node ${info.node}, ${info.platform})`);
    });
}
