/**
 * kwok on the real node's API server: simulated nodes run Pods to completion (for the fan-out
 * benchmark of the reconcilers) while the real node keeps running real containers.
 */
import test from 'ava';
import { stringify } from 'yaml';
import { nodeCluster } from './cluster.ts';
import { startKwok, TERMINATION_MESSAGE_ANNOTATION } from './kwok.ts';

test('kwok: 300 Pods on 3 simulated nodes go to Succeeded with their termination messages; none lands on the real node', async (t) => {
  const c = await nodeCluster();
  const kwok = await startKwok({ kubeconfig: c.kubeconfigPath, kubectl: c.state().kubectl, nodes: 3, completeDelayMs: 500 });
  t.teardown(() => kwok.stop());
  const ns = await c.namespace('kwok');
  const n = 300;
  const pods = Array.from({ length: n }, (_, i) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `sim-${i}`, labels: { app: 'sim' }, annotations: { [TERMINATION_MESSAGE_ANNOTATION]: JSON.stringify({ sample: i }) } },
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'entropo.local/simulated:0' }], ...kwok.podPlacement },
    }),
  );
  const t0 = Date.now();
  const r = c.kubectl(['-n', ns, 'create', '-f', '-'], pods.join('---\n'));
  t.is(r.status, 0, r.stderr);
  let done = 0;
  let list: Array<{ metadata: { name: string }; spec: { nodeName?: string }; status: { phase?: string; containerStatuses?: Array<{ state?: { terminated?: { message?: string } } }> } }> = [];
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    list = JSON.parse(c.kubectl(['-n', ns, 'get', 'pods', '-o', 'json']).stdout).items;
    done = list.filter((p) => p.status.phase === 'Succeeded').length;
    if (done === n) break;
    await new Promise((res) => setTimeout(res, 1000));
  }
  const ms = Date.now() - t0;
  t.log(`${done}/${n} simulated Pods Succeeded in ${ms} ms`);
  t.is(done, n, kwok.log(2000));
  t.true(list.every((p) => kwok.nodes.includes(p.spec.nodeName ?? '')));
  t.is(new Set(list.map((p) => p.spec.nodeName)).size, 3, 'spread over the simulated nodes');
  for (const p of list) {
    const i = Number(p.metadata.name.slice('sim-'.length));
    t.is(p.status.containerStatuses?.[0]?.state?.terminated?.message, JSON.stringify({ sample: i }));
  }
  // The real node is still Ready and untouched.
  t.is(c.kubectl(['get', 'node', c.nodeName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).stdout, 'True');
});
