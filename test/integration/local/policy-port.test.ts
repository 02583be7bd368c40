/**
 * Local mode's policy server keeps its port across runs: the URL is written into child objects'
 * specs (a child RolloutBatch's policy.endpoint), so `--resume` must serve the same unit on the
 * same port, or every resumed rollout fails with a connection error.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { logger } from '../../../operator/logging/logger.ts';
import { startPolicyServer, type UnitContext } from '../../../operator/local/units.ts';
import { FsStore } from '../../../operator/store/fs-store.ts';
import type { PolicyServerUnit } from '../../../operator/controllers/decision.ts';

const unit: PolicyServerUnit = {
  role: 'PolicyServer',
  name: 'quickstart-policy-c0-a0',
  owner: { kind: 'TrainingRun', name: 'quickstart', namespace: 'default', uid: 'u1' },
  checkpoint: 0,
  attempt: 0,
  model: 'tiny-coder',
  source: 'builtin:tiny-coder',
  storeUri: 'file:///unused',
  replicas: 1,
};

async function serveOnce(ctx: UnitContext): Promise<string> {
  let wake!: () => void;
  const woken = new Promise<void>((r) => (wake = r));
  const u = startPolicyServer(unit, { ...ctx, changed: () => wake() });
  await woken;
  const o = u.observed as { ready?: boolean; endpoint?: string; message?: string };
  await u.stop();
  if (!o.ready || !o.endpoint) throw new Error(`policy server not ready: ${o.message}`);
  return o.endpoint;
}

test('a resumed run serves the same policy-server unit on the same port', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'entropo-policy-port-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ctx: UnitContext = { store: new FsStore(dir), log: logger, changed: () => undefined, isolation: 'none', scratch: dir };
  const first = await serveOnce(ctx);
  const second = await serveOnce(ctx);
  t.regex(first, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  t.is(second, first);
});
