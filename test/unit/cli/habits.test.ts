import test from 'ava';
import { spawnSync } from 'node:child_process';
import { parseDuration, seconds } from '../../../operator/cli/args.ts';
import { watchNamespaces } from '../../../operator/cli/commands/operator.ts';
import { logger, routeLogs } from '../../../operator/logging/logger.ts';

const entropo = (...args: string[]) => spawnSync('node', ['bin/entropo.js', ...args], { encoding: 'utf8' });

test('durations as kubectl and helm take them, or bare seconds', (t) => {
  t.is(parseDuration('5m'), 300);
  t.is(parseDuration('90s'), 90);
  t.is(parseDuration('1h30m'), 5400);
  t.is(parseDuration('1.5h'), 5400);
  t.is(parseDuration('250ms'), 0.25);
  t.is(parseDuration('120'), 120);
  for (const bad of ['5 m', '5min', '-5m', 'm', '']) t.throws(() => parseDuration(bad), undefined, bad);
  t.is(seconds('2m'), 120);
  t.throws(() => seconds('0s'));
});

test('--watch-namespace / WATCH_NAMESPACE: comma-separated, empty or "all" means every namespace', (t) => {
  t.deepEqual(watchNamespaces([], undefined), []);
  t.deepEqual(watchNamespaces([], 'team-a, team-b'), ['team-a', 'team-b']);
  t.deepEqual(watchNamespaces(['x', 'y', 'x'], 'ignored'), ['x', 'y'], 'the flag wins over the variable');
  t.deepEqual(watchNamespaces([], 'all'), []);
  t.deepEqual(watchNamespaces(['all'], undefined), []);
});

test('entropo version, in one line or as json; -o xml fails', (t) => {
  const line = entropo('version');
  t.is(line.status, 0, line.stderr);
  t.regex(line.stdout, /^entropo \d+\.\d+\.\d+ \(API entropo\.dev\/v1alpha1, Node v\d+/);
  const json = entropo('version', '-o', 'json');
  t.like(JSON.parse(json.stdout), { apiVersion: 'entropo.dev/v1alpha1' });
  const xml = entropo('version', '-o', 'xml');
  t.is(xml.status, 1);
  t.regex(xml.stderr, /unknown output format "xml"/);
});

test('-o is an output format in every command (directories and files have --out-dir / --out-file)', (t) => {
  const help = entropo('--help').stdout;
  const commands = [...help.matchAll(/^ {2}([a-z-]+)(?: \[options\]| <|$| {2,})/gm)].map((m) => m[1]).filter((c) => c !== 'help');
  t.true(commands.length >= 8, commands.join(' '));
  const subcommands = ['verifier train', 'verifier score', 'sandbox run'].filter((c) => commands.includes(c.split(' ')[0]));
  for (const c of [...commands, ...subcommands]) {
    const h = entropo(...c.split(' '), '--help').stdout;
    const o = /-o, --([a-z-]+) <(\w+)>/.exec(h);
    if (o) t.deepEqual([c, o[1], o[2]], [c, 'output', 'format'], `${c}: -o must be --output <format>`);
  }
  t.regex(entropo('rollout', '--help').stdout, /--out-dir <dir>/);
});

test('routeLogs sends log lines through a writer (above a progress bar) and restores stderr', (t) => {
  const lines: string[] = [];
  const restore = routeLogs((l) => lines.push(l));
  logger.info('routed', { component: 'test' });
  restore();
  t.is(lines.length, 1);
  t.like(JSON.parse(lines[0]), { message: 'routed', component: 'test' });
  t.true(lines[0].endsWith('\n'));
  t.true(logger.transports.length >= 1);
  t.false(logger.transports.some((tr) => tr.constructor.name === 'Stream'));
});

test('entropo rollout --split defaults to the schema\'s default split', async (t) => {
  const { TaskSource } = await import('../../../operator/api/common.ts');
  const schemaDefault = (TaskSource as any).properties.builtin.anyOf?.[0]?.properties?.split?.default ?? (TaskSource as any).properties.builtin.properties.split.default;
  t.is(schemaDefault, 'Train');
  t.regex(entropo('rollout', '--help').stdout.replace(/\s+/g, ' '), new RegExp(`--split <split> .*\\(default: "${schemaDefault}"\\)`));
});

test('the example trainer config validates against the trainer schema (the README uses it)', async (t) => {
  const { TrainConfig } = await import('../../../operator/training/job-config.ts');
  const { check } = await import('../../../operator/api/validate.ts');
  const { readFileSync } = await import('node:fs');
  const { parse: parseYaml } = await import('yaml');
  const file = 'manifests/examples/trainer/train-kto.yaml';
  const r = check<{ preference: { algorithm: string }; training: { truncation: string } }>(TrainConfig, parseYaml(readFileSync(file, 'utf8')));
  t.true(r.ok, JSON.stringify(!r.ok && r.errors));
  if (r.ok) t.deepEqual([r.value.preference.algorithm, r.value.training.truncation], ['KTO', 'KeepEnd']);
  t.true(readFileSync('README.md', 'utf8').includes(file));
});

test('the example trainer config\'s header makes its rollouts with flags `entropo rollout` has, on a few tasks (a first try stays short)', async (t) => {
  const { readFileSync } = await import('node:fs');
  const header = readFileSync('manifests/examples/trainer/train-kto.yaml', 'utf8').split('\n').filter((l) => l.startsWith('#'));
  const line = header.find((l) => /node bin\/entropo\.js rollout /.test(l));
  t.truthy(line, 'the header shows the rollout command');
  t.regex(line!, /--limit 3 --samples 2\b/);
  const help = spawnSync(process.execPath, ['bin/entropo.js', 'rollout', '--help'], { encoding: 'utf8' });
  t.is(help.status, 0, help.stderr);
  for (const flag of line!.match(/--[a-z-]+/g) ?? []) t.true(help.stdout.includes(`${flag} `), `rollout --help lists ${flag}`);
});
