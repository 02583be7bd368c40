import test from 'ava';
import os from 'node:os';
import { runShell } from '../../../operator/grading/exec.ts';
import { killAllGroups } from '../../../operator/util/process-groups.ts';

test('killAllGroups also stops a grading run in progress (a stopped runner leaves no test run behind)', async (t) => {
  const started = Date.now();
  const run = runShell('sleep 30 & sleep 30', { cwd: os.tmpdir(), timeoutSeconds: 60 });
  await new Promise((r) => setTimeout(r, 300));
  killAllGroups();
  const r = await run;
  t.is(r.signal, 'SIGKILL');
  t.false(r.timedOut);
  t.true(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
});
