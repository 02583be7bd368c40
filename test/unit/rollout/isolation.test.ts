import test from 'ava';
import { commandArgv } from '../../../operator/rollout/sandbox/isolation.ts';
import { DEFAULT_LIMITS, ulimitScript } from '../../../operator/rollout/sandbox/limits.ts';

const spec = { workDir: '/tmp/wt', limits: DEFAULT_LIMITS, processLimit: true, unprivileged: true };

test('ulimitScript sets each limit on its own; the process limit only when asked', (t) => {
  const s = ulimitScript({ ...DEFAULT_LIMITS, cpuSeconds: 30, memoryMiB: 1024, fileSizeMiB: 2, openFiles: 256, processes: 64 }, { processLimit: true });
  t.is(s, 'ulimit -H -t 31 2>/dev/null; ulimit -S -t 30 2>/dev/null; ulimit -v 1048576 2>/dev/null; ulimit -f 2048 2>/dev/null; ulimit -n 256 2>/dev/null; ulimit -c 0 2>/dev/null; ulimit -u 64 2>/dev/null');
  t.false(ulimitScript(DEFAULT_LIMITS, { processLimit: false }).includes('ulimit -u'));
});

test('bwrap: only system directories read-only (never the whole root), writable work tree, private /tmp, no network, own PID namespace', (t) => {
  const argv = commandArgv({ ...spec, isolation: 'bwrap' }, 'echo hi');
  t.is(argv[0], 'bwrap');
  const s = argv.join(' ');
  t.false(s.includes('--ro-bind / /'));
  t.false(s.includes('--ro-bind-try / /'));
  for (const d of ['/usr', '/bin', '/lib', '/etc']) t.true(s.includes(`--ro-bind-try ${d} ${d}`), d);
  t.true(s.includes('--bind /tmp/wt /tmp/wt'));
  // A work tree shown at a fixed path, and runtimes bound read-only on request.
  const shown = commandArgv({ ...spec, isolation: 'bwrap', shownDir: '/workspace/repo', readOnlyBinds: ['/opt/py'] }, 'x').join(' ');
  t.true(shown.includes('--bind /tmp/wt /workspace/repo'));
  t.true(shown.includes('--chdir /workspace/repo'));
  t.true(shown.includes('--ro-bind-try /opt/py /opt/py'));
  t.true(s.includes('--tmpfs /tmp'));
  for (const f of ['--unshare-net', '--unshare-pid', '--die-with-parent', '--new-session']) t.true(argv.includes(f));
  t.deepEqual(argv.slice(-5, -1), ['bash', '--noprofile', '--norc', '-c']);
  t.true(argv[argv.length - 1].endsWith('\nexec 2>&1\necho hi'));
});

test('unshare: network and PID namespaces; maps root only for an unprivileged user', (t) => {
  t.deepEqual(commandArgv({ ...spec, isolation: 'unshare' }, 'x').slice(0, 7), ['unshare', '--map-root-user', '--net', '--pid', '--fork', '--kill-child', 'bash']);
  t.deepEqual(commandArgv({ ...spec, unprivileged: false, isolation: 'unshare' }, 'x').slice(0, 6), ['unshare', '--net', '--pid', '--fork', '--kill-child', 'bash']);
  t.is(commandArgv({ ...spec, isolation: 'none' }, 'x')[0], 'bash');
});
