/**
 * 429 Too Many Requests with Retry-After, replayed against a real API server through a throttling
 * front (throttle-proxy.ts): the client waits for Retry-After and re-sends (client-go's rule), and a
 * reconcile whose request was throttled for longer than the client's cap is requeued no sooner
 * than the server asked.
 */
import test from 'ava';
import { RestClient, ApiError } from '../../../operator/runtime/kube/rest.ts';
import { resourcePath } from '../../../operator/runtime/kube/resource.ts';
import { patchStatus } from '../../../operator/runtime/status.ts';
import { Manager } from '../../../operator/runtime/manager.ts';
import { createRegistry } from '../../../operator/metrics/registry.ts';
import { logger } from '../../../operator/logging/logger.ts';
import { adminClient, cluster, createNamespace, createRB, getRB, kubeConfig, RB, waitFor } from './helpers.ts';
import { ThrottleProxy } from './throttle-proxy.ts';

const log = logger.child({ test: 'throttle' });

async function proxyFor(t: Parameters<typeof cluster>[0]) {
  const cp = await cluster(t);
  const upstream = new URL(kubeConfig(cp).getCurrentCluster()!.server);
  const proxy = await new ThrottleProxy(upstream).start();
  t.teardown(() => proxy.stop());
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  return { cp, proxy, admin };
}

test('a GET answered 429 / Retry-After: 1 is re-sent after 1 s and succeeds', async (t) => {
  const { cp, proxy, admin } = await proxyFor(t);
  const ns = await createNamespace(admin);
  await createRB(admin, ns, 'g');
  const client = await RestClient.fromKubeConfig(proxy.kubeConfig(cp.kubeconfigPath));
  t.teardown(() => client.close());
  const path = new RegExp(`/namespaces/${ns}/rolloutbatches/g$`);
  proxy.throttle({ method: 'GET', path, times: 1, retryAfterSeconds: 1 });
  const obj = await client.request<{ metadata: { name: string } }>('GET', resourcePath(RB, ns, 'g'));
  t.is(obj.metadata.name, 'g');
  const gets = proxy.seen('GET', path);
  t.is(gets.length, 2);
  const gap = gets[1].at - gets[0].at;
  t.log(`re-sent after ${gap} ms`);
  t.true(gap >= 950, `re-sent after ${gap} ms, Retry-After was 1 s`);
});

test('a status PATCH answered 429 / Retry-After: 2 three times is re-sent every >= 2 s and lands', async (t) => {
  const { cp, proxy, admin } = await proxyFor(t);
  const ns = await createNamespace(admin);
  const rb = await createRB(admin, ns, 'p');
  const client = await RestClient.fromKubeConfig(proxy.kubeConfig(cp.kubeconfigPath));
  t.teardown(() => client.close());
  const path = new RegExp(`/namespaces/${ns}/rolloutbatches/p/status$`);
  proxy.throttle({ method: 'PATCH', path, times: 3, retryAfterSeconds: 2 });
  await patchStatus(client, RB, rb, { phase: 'Running', message: 'after throttling' });
  const patches = proxy.seen('PATCH', path);
  t.deepEqual(patches.map((p) => p.throttled), [true, true, true, false]);
  for (let i = 1; i < patches.length; i++) {
    const gap = patches[i].at - patches[i - 1].at;
    t.true(gap >= 1_950, `re-send ${i} after ${gap} ms, Retry-After was 2 s`);
  }
  t.is((await getRB(admin, ns, 'p')).status?.message, 'after throttling');
});

test('a Retry-After over the client cap fails the request with retryAfterMs; the controller requeues no sooner', async (t) => {
  const { cp, proxy, admin } = await proxyFor(t);
  const ns = await createNamespace(admin);
  await createRB(admin, ns, 'c');
  const path = new RegExp(`/namespaces/${ns}/rolloutbatches/c/status$`);

  // The bare client: 3 s is above a 1 s cap, so it is not waited for inside the client.
  const capped = await RestClient.fromKubeConfig(proxy.kubeConfig(cp.kubeconfigPath), { maxRetryAfterMs: 1_000 });
  t.teardown(() => capped.close());
  proxy.throttle({ method: 'PATCH', path, times: 1, retryAfterSeconds: 3 });
  const err = await t.throwsAsync(
    capped.request('PATCH', resourcePath(RB, ns, 'c', 'status'), { body: { status: { message: 'x' } }, contentType: 'application/merge-patch+json' }),
  );
  t.true(err instanceof ApiError);
  t.is((err as ApiError).code, 429);
  t.is((err as ApiError).retryAfterMs, 3_000);

  // Through a controller: the reconcile fails with that error and runs again >= 3 s later.
  proxy.throttle({ method: 'PATCH', path, times: 1, retryAfterSeconds: 3 });
  const mgr = await Manager.create({
    kubeConfig: proxy.kubeConfig(cp.kubeconfigPath),
    namespaces: [ns],
    leaderElection: false,
    restClient: { maxRetryAfterMs: 1_000 },
    registry: createRegistry({ defaults: false }),
    log,
  });
  const cache = mgr.cache(RB);
  const runs: number[] = [];
  mgr.addController({
    name: 'throttled',
    for: RB,
    reconciler: {
      async reconcile(req, ctx) {
        runs.push(Date.now());
        const obj = cache.get(req.namespace, req.name);
        if (obj) await patchStatus(ctx.client, RB, obj, { ...(obj.status as object), message: 'reconciled' });
      },
    },
  });
  t.teardown(() => mgr.stop());
  await mgr.start();
  await waitFor('the status written after the throttled attempt', async () => (await getRB(admin, ns, 'c')).status?.message === 'reconciled', 20_000);
  const patches = proxy.seen('PATCH', path).slice(1); // the controller's
  t.true(patches[0].throttled);
  const gap = patches[1].at - patches[0].at;
  t.log(`requeued after ${gap} ms (rate limiter alone: 5 ms)`);
  t.true(gap >= 2_950, `requeued after ${gap} ms, Retry-After was 3 s`);
  t.true(runs.length >= 2);
});
