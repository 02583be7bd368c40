import test from 'ava';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { commandArgv } from '../../../operator/rollout/sandbox/isolation.ts';
import { environmentBinds, reachableByOthers } from '../../../operator/rollout/sandbox/environment-view.ts';
import { DEFAULT_LIMITS } from '../../../operator/rollout/sandbox/limits.ts';

test('bwrap: the environment is bound read-only after the private /tmp (so a venv under /tmp stays visible), before the work tree', (t) => {
  const argv = commandArgv(
    { isolation: 'bwrap', workDir: '/tmp/wt', limits: DEFAULT_LIMITS, processLimit: true, unprivileged: true, environmentBinds: [{ source: '/tmp/envview/0', dest: '/root/venv' }] },
    'true',
  );
  const at = (a: string, b: string) => argv.findIndex((x, i) => x === a && argv[i + 1] === b);
  const tmpfs = at('--tmpfs', '/tmp');
  const env = at('--ro-bind', '/tmp/envview/0');
  t.true(tmpfs >= 0 && env > tmpfs, argv.join(' '));
  t.is(argv[env + 2], '/root/venv');
  t.true(at('--bind', '/tmp/wt') > env);
});

test('environmentBinds: system directories and missing ones left out, nested ones covered by their parent; an unreachable directory gets a hard-linked view for a user of its own', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-envview-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const locked = path.join(dir, 'locked');
  const venv = path.join(locked, 'venv');
  await mkdir(path.join(venv, 'bin'), { recursive: true });
  await writeFile(path.join(venv, 'bin', 'tool'), 'x');
  await chmod(dir, 0o755);
  await chmod(locked, 0o700); // like /root
  t.false(reachableByOthers(venv));
  t.true(reachableByOthers('/usr/bin'));
  // the runner's own user reaches it: bound as it is
  t.deepEqual(environmentBinds(['/usr/lib', venv, path.join(venv, 'bin'), path.join(dir, 'missing')], false), [{ source: venv, dest: venv }]);
  // a user of its own does not: a view it can reach, same files (hard links), shown at the real path
  const [b] = environmentBinds([venv], true);
  t.is(b.dest, venv);
  t.not(b.source, venv);
  t.true(reachableByOthers(b.source));
  t.is(await readFile(path.join(b.source, 'bin', 'tool'), 'utf8'), 'x');
  t.is((await stat(path.join(b.source, 'bin', 'tool'))).ino, (await stat(path.join(venv, 'bin', 'tool'))).ino);
  // made once per process
  t.is(environmentBinds([venv], true)[0].source, b.source);
});
