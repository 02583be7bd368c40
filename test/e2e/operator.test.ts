/**
 * The operator installed the way a user installs it (crds/ + manifests/install/ with kubectl,
 * the image built from the repository), on the real node: its Pods become Ready, one holds the
 * Lease, it reconciles with its own ServiceAccount, and its /metrics is scraped through its
 * Service from another Pod.
 */
import test from 'ava';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { nodeCluster } from './cluster.ts';
import { REPO } from './images.ts';
import { waitEstablished } from '../envtest/crds.ts';

const NS = 'entropo-system';

test('installed from crds/ and manifests/install/: Ready, holds the Lease, reconciles as its ServiceAccount, /metrics through its Service', async (t) => {
  const c = await nodeCluster();
  const ok = (r: { status: number; stderr: string; stdout: string }, what: string) => t.is(r.status, 0, `${what}: ${r.stderr || r.stdout}`);
  // The operator watches every namespace: uninstall it so that it reconciles no later test's objects.
  t.teardown(() => void c.kubectl(['delete', '--ignore-not-found', '--wait=true', '--timeout=120s', '-f', join(REPO, 'manifests', 'install')]));

  // 1. What the README tells a user to run, with the locally built image.
  ok(c.kubectl(['apply', '--server-side', '-f', join(REPO, 'crds')]), 'apply crds');
  waitEstablished((args) => c.kubectl(args));
  ok(c.kubectl(['apply', '--server-side', '-f', join(REPO, 'manifests', 'install')]), 'apply manifests/install');
  ok(c.kubectl(['-n', NS, 'set', 'image', 'deploy/entropo-operator', `operator=${c.images.operator}`]), 'set image');
  const t0 = Date.now();
  const rollout = c.kubectl(['-n', NS, 'rollout', 'status', 'deploy/entropo-operator', '--timeout=240s']);
  // The Pods of the current ReplicaSet (the first one, with the placeholder image, is going away).
  const pods = (JSON.parse(c.kubectl(['-n', NS, 'get', 'pods', '-l', 'app.kubernetes.io/name=entropo-operator', '-o', 'json']).stdout).items as Array<{
    metadata: { name: string; deletionTimestamp?: string };
    spec: { serviceAccountName: string; containers: Array<{ image: string }> };
    status: { conditions?: Array<{ type: string; status: string }> };
  }>).filter((p) => !p.metadata.deletionTimestamp && p.spec.containers[0].image === c.images.operator) as Array<{
    metadata: { name: string };
    spec: { serviceAccountName: string };
    status: { conditions?: Array<{ type: string; status: string }> };
  }>;
  ok(rollout, `rollout (pods: ${JSON.stringify(pods.map((p) => p.status))})`);
  t.log(`operator Deployment available in ${Date.now() - t0} ms`);
  const ready = pods.filter((p) => p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
  t.true(ready.length >= 1, 'an operator Pod is Ready');
  for (const p of pods) t.is(p.spec.serviceAccountName, 'entropo-operator');

  // 2. One replica holds the Lease.
  let holder = '';
  for (let i = 0; i < 120 && !pods.some((p) => p.metadata.name === holder); i++) {
    holder = c.kubectl(['-n', NS, 'get', 'lease', 'entropo-operator.entropo.dev', '-o', 'jsonpath={.spec.holderIdentity}']).stdout;
    if (!pods.some((p) => holder.startsWith(p.metadata.name))) await new Promise((r) => setTimeout(r, 500));
    else break;
  }
  t.true(
    pods.some((p) => holder.startsWith(p.metadata.name)),
    `Lease holder "${holder}" is one of ${pods.map((p) => p.metadata.name).join(', ')}`,
  );

  // 3. It reconciles with its own ServiceAccount (in-cluster config: the only credential it has
  //    is its projected token; the RBAC of manifests/install/ must allow the status write).
  const ns = await c.namespace('op');
  const rb = {
    apiVersion: 'entropo.dev/v1alpha1',
    kind: 'RolloutBatch',
    metadata: { name: 'accept-me', namespace: ns },
    spec: { policy: { name: 'scripted', endpoint: { url: `http://llm.${ns}.svc:8000/v1` } }, tasks: { builtin: {}, limit: 1 }, samplesPerTask: 1 },
  };
  ok(c.kubectl(['apply', '-f', '-'], stringify(rb)), 'create RolloutBatch');
  let status: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }> } = {};
  let managers: Array<{ manager: string; subresource?: string }> = [];
  for (let i = 0; i < 240; i++) {
    const obj = JSON.parse(c.kubectl(['-n', ns, 'get', 'rolloutbatch', 'accept-me', '-o', 'json', '--show-managed-fields']).stdout);
    status = obj.status ?? {};
    managers = obj.metadata.managedFields ?? [];
    if (status.observedGeneration === 1 && status.conditions?.length) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const operatorLogs = async () =>
    (await Promise.all(pods.map(async (p) => `--- ${p.metadata.name}\n${(await c.podLogs(NS, p.metadata.name).catch((e: Error) => e.message)).slice(-2500)}`))).join('\n');
  if (status.observedGeneration !== 1) t.log(await operatorLogs());
  t.is(status.observedGeneration, 1, `status: ${JSON.stringify(status)}`);
  t.true(!!status.conditions?.length, 'the operator wrote conditions');
  t.true(managers.some((m) => m.manager === 'entropo-operator' && m.subresource === 'status'), JSON.stringify(managers));
  const canIt = c.kubectl(['auth', 'can-i', 'patch', 'rolloutbatches/status', '--as', `system:serviceaccount:${NS}:entropo-operator`, '-n', ns]);
  t.is(canIt.stdout.trim(), 'yes');
  const notMaster = c.kubectl(['auth', 'can-i', 'create', 'clusterrolebindings', '--as', `system:serviceaccount:${NS}:entropo-operator`]);
  t.is(notMaster.stdout.trim(), 'no', 'the operator is not cluster-admin');

  // 4. /metrics through the Service, from another Pod (DNS name, ClusterIP, kube-proxy).
  // The Service balances over both replicas per TCP connection (kube-proxy), so each scrape opens
  // a new connection (agent: false; fetch would keep one alive and always reach the same Pod) and
  // we scrape until the leader (status 1) answers: P(40 misses) = 2^-40.
  const scrape = `(async () => {
      const http = require('node:http');
      const get = (url) => new Promise((ok, ko) => http.get(url, { agent: false }, (r) => {
        let b = ''; r.setEncoding('utf8'); r.on('data', (d) => (b += d)); r.on('end', () => ok(b));
      }).on('error', ko));
      for (let i = 0; i < 40; i++) {
        const b = await get('http://entropo-operator-metrics.${NS}.svc:8080/metrics');
        const keep = b.split('\\n').filter((l) => /^(leader_election_master_status|controller_runtime_reconcile_total)\\{/.test(l));
        if (keep.some((l) => /^leader_election_master_status.* 1$/.test(l))) { console.log(keep.join('\\n')); return; }
      }
      throw new Error('no scrape reached the leader');
    })().catch((e) => { console.error(e); process.exit(1); })`;
  ok(
    c.kubectl(['-n', ns, 'apply', '-f', '-'], stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'scrape' },
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: c.images.operator, command: ['/opt/entropo/bin/node', '-e', scrape] }] },
    })),
    'scraper Pod',
  );
  const scraper = await c.waitForPodPhase(ns, 'scrape', ['Succeeded', 'Failed'], 120_000);
  const metrics = await c.podLogs(ns, 'scrape');
  t.is(scraper.status?.phase, 'Succeeded', metrics);
  t.regex(metrics, /^leader_election_master_status\{name="[^"]+"\} 1$/m);
  t.regex(metrics, /^controller_runtime_reconcile_total\{controller="rolloutbatch",result="success"\} \d+$/m);
});
