/**
 * Containment, on the real sandbox (real processes, the isolation this machine supports): fork
 * bombs, endless loops, 100 MB of output, writes outside the work tree, tool calls with invalid
 * JSON. Each ends as an observation; the runner goes on; the work tree is always removed.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../../../operator/rollout/sandbox/sandbox.ts';
import { defaultIsolation, isolationWorks } from '../../../operator/rollout/sandbox/isolation.ts';
import { Toolbox } from '../../../operator/rollout/tools/toolbox.ts';
import { fixtureTask } from './helpers/fixture.ts';

const LIMITS = { cpuSeconds: 20, memoryMiB: 2048, processes: 128, fileSizeMiB: 8 };

async function withBox(t: { teardown(fn: () => Promise<void>): void }, isolation?: 'bwrap' | 'unshare' | 'none', toolTimeoutSeconds = 10) {
  const sandbox = await Sandbox.create(fixtureTask(), { limits: LIMITS, ...(isolation ? { isolation } : {}) });
  t.teardown(() => sandbox.dispose());
  return { sandbox, tools: new Toolbox(sandbox, { toolTimeoutSeconds }) };
}

/** Live (not zombie: those only wait for init to reap them) processes of the sandbox user, from /proc. */
const processesOf = async (uid: number | undefined): Promise<number> => {
  if (uid === undefined) return 0;
  let n = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    const state = /^State:\s+(\S)/m.exec(status)?.[1];
    if (real === String(uid) && state !== 'Z') n++;
  }
  return n;
};

test('the default isolation here is the strongest that works, and is reported', (t) => {
  const iso = defaultIsolation(process.getuid?.() === 0 ? 250_000 : undefined);
  t.true(['bwrap', 'unshare', 'none'].includes(iso));
  if (isolationWorks('bwrap', process.getuid?.() === 0 ? 250_000 : undefined)) t.is(iso, 'bwrap');
  t.log(`isolation: ${iso}`);
});

test('fork bomb: contained by the process limit and the process group, the runner goes on', async (t) => {
  const { sandbox, tools } = await withBox(t);
  const r = await tools.call('execute_bash', JSON.stringify({ command: ':(){ :|:& };:; sleep 1; echo survived-bomb', timeout: 8 }));
  t.false(r.error);
  t.true(r.seconds < 10, `took ${r.seconds} s`);
  t.log(r.content.split('\n').slice(0, 2).join(' | '), '...', r.content.split('\n').slice(-2).join(' | '));
  // The process limit stopped it (a root runner's sandbox has a user of its own; a Pod has its pids limit).
  if (sandbox.uid !== undefined) t.regex(r.content, /Resource temporarily unavailable|retry: /);
  // Nothing of the bomb outlives the call.
  await new Promise((res) => setTimeout(res, 300));
  t.is(await processesOf(sandbox.uid), 0);
  const after = await tools.call('execute_bash', { command: 'echo still-here' });
  t.regex(after.content, /still-here\n\[exit code: 0\]/);
});

test('endless loop: killed at the tool timeout with every child, reported', async (t) => {
  const { sandbox, tools } = await withBox(t);
  const r = await tools.call('execute_bash', { command: '(while true; do :; done) & while true; do :; done', timeout: 2 });
  t.false(r.error);
  t.regex(r.content, /timed out after 2 s and was killed/);
  t.true(r.seconds >= 2 && r.seconds < 5, `took ${r.seconds} s`);
  await new Promise((res) => setTimeout(res, 300));
  t.is(await processesOf(sandbox.uid), 0);
});

test('100 MB of output: head and tail kept, the size reported, memory bounded', async (t) => {
  const { tools } = await withBox(t, undefined, 120);
  const before = process.memoryUsage().rss;
  // 100 MB through a pipe takes a while on a loaded machine: a tool timeout of 120 s, not 10 s.
  const r = await tools.call('execute_bash', { command: 'echo START; head -c 100000000 /dev/zero | tr "\\0" x; echo; echo END' });
  t.false(r.error);
  t.true(r.content.startsWith('START\nxxx'));
  t.regex(r.content, /END\n\[exit code: 0\]/);
  t.regex(r.content, /\[The output was 100000011 bytes; only its beginning and end are shown\.\]/);
  t.true(r.content.length < 40_000);
  t.true(process.memoryUsage().rss - before < 64 * 1024 * 1024);
});

test('CPU time and memory limits: a spinning command dies of SIGXCPU, a huge allocation fails', async (t) => {
  const sandbox = await Sandbox.create(fixtureTask(), { limits: { ...LIMITS, cpuSeconds: 1, memoryMiB: 1024 } });
  t.teardown(() => sandbox.dispose());
  const tools = new Toolbox(sandbox, { toolTimeoutSeconds: 20 });
  const spin = await tools.call('execute_bash', { command: 'while true; do :; done' });
  t.regex(spin.content, /killed by SIGXCPU \(CPU time limit\)/);
  t.true(spin.seconds < 10, `took ${spin.seconds} s`);
  const mem = await tools.call('execute_bash', { command: `node -e "const b = Buffer.alloc(3 * 1024 ** 3, 1); console.log('allocated', b.length)"; echo rc=$?` });
  t.notRegex(mem.content, /allocated/);
  t.regex(mem.content, /rc=[1-9]/);
});

test('a huge file: stopped by the file-size limit', async (t) => {
  const { sandbox, tools } = await withBox(t);
  const r = await tools.call('execute_bash', { command: 'head -c 20000000 /dev/zero > big.bin; echo rc=$?; stat -c %s big.bin' });
  t.regex(r.content, /File size limit exceeded|rc=153/);
  t.regex(r.content, /^8388608$/m); // 8 MiB, the limit
  await rm(path.join(sandbox.workDir, 'big.bin'));
});

test('writes outside the work tree: refused by bash (read-only / permissions) and by the editor (paths, symlinks)', async (t) => {
  const { sandbox, tools } = await withBox(t);
  const outside = await mkdtemp(path.join(os.tmpdir(), 'entropo-outside-'));
  t.teardown(() => rm(outside, { recursive: true, force: true }));
  const target = path.join(outside, 'pwned.txt');
  const bash = await tools.call('execute_bash', { command: `echo x > ${target}; echo x > /etc/entropo-pwned; echo done` });
  t.regex(bash.content, /(Read-only file system|Permission denied|No such file or directory)[\s\S]*(Read-only file system|Permission denied)[\s\S]*done/);
  t.false(existsSync(target));
  t.false(existsSync('/etc/entropo-pwned'));

  const rel = await tools.call('file_editor', { command: 'create', path: path.relative(sandbox.workDir, target), file_text: 'x' });
  t.true(rel.error);
  t.regex(rel.content, /outside the repository/);
  const abs = await tools.call('file_editor', { command: 'create', path: '/etc/entropo-pwned', file_text: 'x' });
  t.true(abs.error);
  await symlink(outside, path.join(sandbox.workDir, 'escape'));
  const link = await tools.call('file_editor', { command: 'create', path: 'escape/pwned.txt', file_text: 'x' });
  t.true(link.error);
  t.regex(link.content, /symbolic link/);
  const view = await tools.call('file_editor', { command: 'view', path: '/etc/passwd' });
  t.true(view.error);
  t.false(existsSync(target));
});

test('invalid tool calls become error observations', async (t) => {
  const { tools } = await withBox(t);
  const bad = await tools.call('execute_bash', '{"command": "ls"');
  t.true(bad.error);
  t.regex(bad.content, /not valid JSON/);
  t.regex((await tools.call('rm_rf', '{}')).content, /unknown tool "rm_rf"\. The tools are: file_editor, execute_bash, search, finish/);
  t.regex((await tools.call('execute_bash', '{}')).content, /`command` is required/);
  t.regex((await tools.call('file_editor', { command: 'delete', path: 'x' })).content, /Unknown file_editor command/);
  t.regex((await tools.call('file_editor', { command: 'str_replace', path: 'src/math.js', old_str: 'nope', new_str: '' })).content, /did not appear verbatim/);
  t.true((await tools.call('finish', '{}')).finished);
});

test('editor and search work in the tree; the diff has tracked and new files; dispose removes the tree', async (t) => {
  const sandbox = await Sandbox.create(fixtureTask(), { limits: LIMITS });
  const tools = new Toolbox(sandbox, { toolTimeoutSeconds: 10 });
  t.regex((await tools.call('file_editor', { command: 'view', path: '.' })).content, /src\/\nsrc\/math\.js[\s\S]*test\/mul\.test\.js/);
  t.false((await tools.call('file_editor', { command: 'str_replace', path: 'src/math.js', old_str: 'a - b', new_str: 'a + b' })).error);
  t.false((await tools.call('file_editor', { command: 'create', path: 'docs/notes.md', file_text: 'n\n' })).error);
  t.false((await tools.call('file_editor', { command: 'insert', path: 'docs/notes.md', insert_line: 1, new_str: 'm' })).error);
  t.false((await tools.call('file_editor', { command: 'undo_edit', path: 'docs/notes.md' })).error);
  // The sandbox user can change what the editor created.
  t.regex((await tools.call('execute_bash', { command: 'echo more >> docs/notes.md && cat docs/notes.md' })).content, /n\nmore\n\[exit code: 0\]/);
  t.is((await tools.call('search', { search_term: 'return a', path: 'src' })).content, 'Found 2 matches for "return a" in src:\n./src/math.js (2 matches)\nEnd of matches for "return a" in src.');
  t.is((await tools.call('search', { search_term: 'a * b', path: 'src/math.js' })).content, 'Matches for "a * b" in src/math.js:\n6:  return a * b;');
  // The agent may commit; the diff is still against the base.
  await tools.call('execute_bash', { command: 'git add -A && git -c user.name=a -c user.email=a@b commit -qm wip && echo committed' });
  const patch = await sandbox.diff();
  t.regex(patch, /diff --git a\/docs\/notes\.md b\/docs\/notes\.md\nnew file mode 100644/);
  t.regex(patch, /- {2}return a - b;\n\+ {2}return a \+ b;/);
  t.false(patch.includes('mul.test.js'));
  const dir = sandbox.workDir;
  await sandbox.dispose();
  t.false(existsSync(dir));
  await t.throwsAsync(async () => sandbox.exec('true', 1), { message: /disposed/ });
});

test('every isolation mode that works here runs commands; bwrap and unshare have no network', async (t) => {
  const uid = process.getuid?.() === 0 ? 250_001 : undefined;
  for (const mode of ['bwrap', 'unshare', 'none'] as const) {
    if (!isolationWorks(mode, uid)) {
      t.log(`${mode}: not available here`);
      continue;
    }
    const { sandbox, tools } = await withBox(t, mode);
    // Caches written to the home directory never reach the patch.
    const home = await tools.call('execute_bash', { command: 'mkdir -p "$HOME/.cache" && echo x > "$HOME/.cache/c" && echo home-ok' });
    t.regex(home.content, /home-ok\n\[exit code: 0\]/);
    t.is(await sandbox.diff(), '');
    const r = await tools.call('execute_bash', {
      command: `node -e "require('http').get('http://1.1.1.1', () => { console.log('NET'); process.exit(0); }).on('error', (e) => console.log('NONET', e.code)).setTimeout(3000, () => { console.log('NONET timeout'); process.exit(0); })"`,
      timeout: 8,
    });
    t.log(`${mode}: ${r.content.split('\n')[0]}`);
    if (mode !== 'none') t.regex(r.content, /NONET/);
    t.regex(r.content, /\[exit code: 0\]/);
  }
});

test('a work tree that cannot be made is a SandboxError, and leaves nothing behind', async (t) => {
  const bad = { ...fixtureTask(), files: { '../escape.txt': 'x' } };
  const parent = await mkdtemp(path.join(os.tmpdir(), 'entropo-parent-'));
  t.teardown(() => rm(parent, { recursive: true, force: true }));
  await t.throwsAsync(Sandbox.create(bad, { tmpDir: parent }), { name: 'SandboxError' });
  t.deepEqual(await (await import('node:fs/promises')).readdir(parent), []);
  await t.throwsAsync(
    Sandbox.create({ instance_id: 'x', repo: 'a/b', base_commit: 'abc', problem_statement: 'p', patch: '', test_patch: '', FAIL_TO_PASS: [], PASS_TO_PASS: [] }, { tmpDir: parent }),
    { name: 'SandboxError', message: /needs its repository checkout/ },
  );
  await writeFile(path.join(parent, 'marker'), '');
  t.is((await readFile(path.join(parent, 'marker'), 'utf8')), '');
});
