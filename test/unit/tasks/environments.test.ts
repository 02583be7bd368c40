import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SweBenchTask } from '../../../operator/api/records.ts';
import { entryFor, EnvironmentError, environmentVariables, parseEnvironments, resolveEnvironment, resolveSpec, withEnvironmentDefaults } from '../../../operator/tasks/environments.ts';
import { parseTaskJsonl } from '../../../operator/tasks/dataset.ts';

const task = (over: Partial<SweBenchTask> = {}): SweBenchTask => ({
  instance_id: 'o__r-1',
  repo: 'o/r',
  base_commit: 'abc',
  problem_statement: 'x',
  patch: '',
  test_patch: '',
  FAIL_TO_PASS: ['t'],
  PASS_TO_PASS: [],
  ...over,
});

/** A directory tree with a git checkout, a fake venv (pyvenv.cfg, bin/python -> an interpreter elsewhere) and a tools dir. */
async function layout(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-envs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'repo'));
  execFileSync('git', ['init', '-q', path.join(dir, 'repo')]);
  await mkdir(path.join(dir, 'pythons', 'py3', 'bin'), { recursive: true });
  await writeFile(path.join(dir, 'pythons', 'py3', 'bin', 'python3.11'), '#!/bin/sh\n');
  await mkdir(path.join(dir, 'repo', '.venv', 'bin'), { recursive: true });
  await writeFile(path.join(dir, 'repo', '.venv', 'pyvenv.cfg'), `home = ${path.join(dir, 'pythons', 'py3', 'bin')}\ninclude-system-site-packages = false\n`);
  await symlink(path.join(dir, 'pythons', 'py3', 'bin', 'python3.11'), path.join(dir, 'repo', '.venv', 'bin', 'python'));
  await mkdir(path.join(dir, 'tools'));
  return dir;
}

test('parseEnvironments: entries checked field by field, errors name the file, the entry and the field', (t) => {
  const ok = parseEnvironments('environments:\n  - repo: o/r\n    version: 1.2\n    checkout: repo\n    env: {A: "1"}\n', '/x/envs.yaml');
  t.is(ok.file, '/x/envs.yaml');
  t.deepEqual(ok.entries, [{ repo: 'o/r', version: '1.2', checkout: 'repo', env: { A: '1' } }]);
  const e = t.throws(() => parseEnvironments('environments:\n  - repo: o/r\n    pyhton: /usr/bin/python3\n  - checkout: x\n  - repo: o/s\n    env: {"1A": x}\n', 'envs.yaml'), { instanceOf: EnvironmentError });
  t.regex(e!.message, /envs\.yaml: environments\[0\]/);
  t.regex(e!.message, /pyhton/);
  // an unknown field is one line (not also TypeBox's "Unexpected property")
  t.is(e!.message.split('\n').filter((l) => l.includes('pyhton')).length, 1);
  t.regex(e!.message, /environments\[0\]\.pyhton: unknown field \(expected one of repo, /);
  t.regex(e!.message, /envs\.yaml: environments\[1\]\.repo/);
  t.regex(e!.message, /envs\.yaml: environments\[2\]\.env/);
  t.throws(() => parseEnvironments('- repo: o/r\n- repo: o/r\n', 'e.yaml'), { message: /environments\[1\]: repeats environments\[0\] \(o\/r\)/ });
  t.throws(() => parseEnvironments('repos: []', 'e.yaml'), { message: /e\.yaml: expected a list of environments/ });
});

test('entryFor: repo and version both equal wins over the repo alone; another repo never matches', (t) => {
  const entries = [{ repo: 'o/r', checkout: 'any' }, { repo: 'o/r', version: '2.0', checkout: 'v2' }, { repo: 'o/s', checkout: 's' }];
  t.is(entryFor(entries, { repo: 'o/r', version: '2.0' })?.checkout, 'v2');
  t.is(entryFor(entries, { repo: 'o/r', version: '1.0' })?.checkout, 'any');
  t.is(entryFor(entries, { repo: 'o/r' })?.checkout, 'any');
  t.is(entryFor(entries, { repo: 'o/t' }), undefined);
});

test('resolveSpec: a venv puts its bin first, sets VIRTUAL_ENV, and shows the venv and its base interpreter read-only', async (t) => {
  const dir = await layout(t);
  const env = resolveSpec({ checkout: 'repo', python: 'repo/.venv', path: ['tools'], env: { PYTHONPATH: 'src' }, setup: 'make', test_command: 'python -m pytest' }, dir, 'envs.yaml: o/r');
  t.is(env.checkout, path.join(dir, 'repo'));
  t.deepEqual(env.pathEntries, [path.join(dir, 'repo', '.venv', 'bin'), path.join(dir, 'tools')]);
  t.deepEqual(env.env, { PYTHONPATH: 'src', VIRTUAL_ENV: path.join(dir, 'repo', '.venv') });
  t.deepEqual(new Set(env.readOnlyDirs), new Set([path.join(dir, 'repo', '.venv'), path.join(dir, 'pythons', 'py3'), path.join(dir, 'tools')]));
  t.is(env.setup, 'make');
  t.is(env.testCommand, 'python -m pytest');
  t.deepEqual(environmentVariables(env, '/usr/bin:/bin'), {
    PYTHONPATH: 'src',
    VIRTUAL_ENV: path.join(dir, 'repo', '.venv'),
    PATH: `${path.join(dir, 'repo', '.venv', 'bin')}:${path.join(dir, 'tools')}:/usr/bin:/bin`,
  });
  // an interpreter: its bin directory on PATH, its prefix read-only
  const interp = resolveSpec({ python: path.join(dir, 'pythons', 'py3', 'bin', 'python3.11') }, '/', 'x');
  t.deepEqual(interp.pathEntries, [path.join(dir, 'pythons', 'py3', 'bin')]);
  t.deepEqual(interp.readOnlyDirs, [path.join(dir, 'pythons', 'py3')]);
  // what cannot work is named
  t.throws(() => resolveSpec({ checkout: 'tools' }, dir, 'envs.yaml: o/r'), { message: /envs\.yaml: o\/r: checkout: .*tools is not a git checkout/ });
  t.throws(() => resolveSpec({ python: 'tools' }, dir, 'o'), { message: /o: python: .*tools is a directory without pyvenv\.cfg/ });
  t.throws(() => resolveSpec({ python: 'nope/bin/python' }, dir, 'o'), { message: /o: python: .*does not exist/ });
  t.throws(() => resolveSpec({ path: ['missing'] }, dir, 'o'), { message: /o: path\[0\]: / });
});

test('resolveEnvironment: the task record\'s environment over the file\'s entry, field by field; self-contained tasks have none', async (t) => {
  const dir = await layout(t);
  const envs = parseEnvironments(`environments:\n  - repo: o/r\n    checkout: repo\n    python: repo/.venv\n    env: {A: file, B: file}\n    test_command: python -m pytest -rA\n`, path.join(dir, 'envs.yaml'));
  const fromFile = resolveEnvironment(task(), envs, '/elsewhere')!;
  t.is(fromFile.checkout, path.join(dir, 'repo'));
  const both = resolveEnvironment(task({ environment: { env: { B: 'task' }, setup: 'true' } }), envs, dir)!;
  t.is(both.checkout, path.join(dir, 'repo'));
  t.deepEqual(both.env, { A: 'file', B: 'task', VIRTUAL_ENV: path.join(dir, 'repo', '.venv') });
  t.is(both.setup, 'true');
  t.regex(both.origin, /task o__r-1: environment over .*envs\.yaml: o\/r/);
  t.is(resolveEnvironment(task({ repo: 'o/other' }), envs), undefined);
  t.is(withEnvironmentDefaults(task(), fromFile).test_command, 'python -m pytest -rA');
  t.is(withEnvironmentDefaults(task({ test_command: 'own' }), fromFile).test_command, 'own');
  // the record's field is part of the task schema: a typo is a load error naming the line and field
  const { errors } = parseTaskJsonl(JSON.stringify({ ...task(), environment: { chekout: 'x' } }));
  t.is(errors[0].line, 1);
  t.regex(`${errors[0].field} ${errors[0].message}`, /environment/);
});
