/**
 * The Helm chart on the real node, with the real helm binary and the locally built operator image
 * (pullPolicy Never: nothing is pulled): one release, watching one namespace, used for every
 * assertion. `helm install --wait` makes it Ready, it holds its Lease and reconciles a
 * RolloutBatch (its own /metrics through the API server's Pod proxy counts the reconcile); its
 * RBAC by impersonation (what it needs allowed, Secrets list and the unwatched namespace denied);
 * `helm upgrade` to 2 replicas and an extra argument keeps the same Lease held throughout the
 * rolling update; `helm uninstall` leaves no object of the release (the CRDs stay).
 */
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { nodeCluster } from './cluster.ts';
import { REPO } from './images.ts';

const RELEASE = 'entropo-helm';
const FULLNAME = `${RELEASE}-entropo-operator`;
const LEASE = 'entropo-helm.entropo.dev';

interface Lease {
  metadata: { uid: string };
  spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}

test('helm install (Ready, Lease, reconciles, RBAC), helm upgrade without losing the Lease, helm uninstall leaves nothing but the CRDs', async (t) => {
  t.timeout(15 * 60_000); // installs and rolling updates on a loaded 2-core machine
  const c = await nodeCluster();
  const helmBin = c.state().helm;
  if (!helmBin) throw new Error('helm not provisioned: test/envtest/provision.sh');
  const helm = (args: string[]) => {
    const r = spawnSync(helmBin, [...args, '--kubeconfig', c.kubeconfigPath], { encoding: 'utf8' });
    return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
  };
  // helm upgrade runs while the Lease is watched: asynchronously, so the watcher keeps sampling
  const helmAsync = (args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((res) =>
      execFile(helmBin, [...args, '--kubeconfig', c.kubeconfigPath], { encoding: 'utf8' }, (e, stdout, stderr) => res({ status: e ? ((e as { code?: number }).code ?? 1) : 0, stdout, stderr })),
    );
  const ok = (r: { status: number; stderr: string; stdout: string }, what: string) => t.is(r.status, 0, `${what}: ${r.stderr || r.stdout}`);
  const ns = await c.namespace('helm');
  const watched = await c.namespace('helm-w');
  const other = await c.namespace('helm-o');
  const [repository, tag] = [c.images.operator.slice(0, c.images.operator.lastIndexOf(':')), c.images.operator.slice(c.images.operator.lastIndexOf(':') + 1)];
  const chart = join(REPO, 'charts', 'entropo-operator');

  // 1. helm install with the local image, watching one namespace.
  const t0 = Date.now();
  const install = helm([
    'install', RELEASE, chart, '-n', ns, '--wait', '--timeout', '5m',
    '--set', `image.repository=${repository}`, '--set', `image.tag=${tag}`, '--set', 'image.pullPolicy=Never',
    '--set', 'replicaCount=1', '--set', `watchNamespaces={${watched}}`, '--set', `leaderElection.leaseName=${LEASE}`,
  ]);
  ok(install, 'helm install');
  t.log(`helm install --wait: ${Date.now() - t0} ms`);
  t.regex(install.stdout, new RegExp(`It reconciles TrainingRuns, RolloutBatches and EvalSuites in: ${watched}\\.`), 'NOTES.txt');
  t.regex(install.stdout, /kubectl apply -n \S+ -f manifests\/examples\/rolloutbatch\.yaml/);
  const podsOf = () =>
    (JSON.parse(c.kubectl(['-n', ns, 'get', 'pods', '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'json']).stdout).items as Array<{
      metadata: { name: string; deletionTimestamp?: string };
      spec: { containers: Array<{ args: string[]; imagePullPolicy: string }> };
      status: { conditions?: Array<{ type: string; status: string }> };
    }>).filter((p) => !p.metadata.deletionTimestamp);
  const ready = (p: ReturnType<typeof podsOf>[number]) => !!p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
  const first = podsOf();
  t.is(first.length, 1);
  t.true(ready(first[0]), 'the operator Pod is Ready');
  t.is(first[0].spec.containers[0].imagePullPolicy, 'Never');
  const lease = (): Lease | undefined => {
    const r = c.kubectl(['-n', ns, 'get', 'lease', LEASE, '-o', 'json']);
    return r.status === 0 ? (JSON.parse(r.stdout) as Lease) : undefined;
  };
  let l: Lease | undefined;
  for (let i = 0; i < 120 && !l?.spec.holderIdentity?.startsWith(first[0].metadata.name); i++) {
    l = lease();
    await new Promise((r) => setTimeout(r, 500));
  }
  t.true(!!l?.spec.holderIdentity?.startsWith(first[0].metadata.name), `Lease holder ${l?.spec.holderIdentity}`);
  const leaseUid = l!.metadata.uid;

  // 2. It reconciles a RolloutBatch of the watched namespace (its own metrics count it).
  const rb = {
    apiVersion: 'entropo.dev/v1alpha1',
    kind: 'RolloutBatch',
    metadata: { name: 'via-helm', namespace: watched },
    spec: { policy: { name: 'scripted', endpoint: { url: `http://llm.${watched}.svc:8000/v1` } }, tasks: { builtin: {}, limit: 1 }, samplesPerTask: 1 },
  };
  ok(c.kubectl(['apply', '-f', '-'], stringify(rb)), 'create RolloutBatch');
  let reconciled = 0;
  let metrics = '';
  for (let i = 0; i < 120 && reconciled === 0; i++) {
    const r = c.kubectl(['get', '--raw', `/api/v1/namespaces/${ns}/pods/${first[0].metadata.name}:8080/proxy/metrics`]);
    metrics = r.stdout || r.stderr;
    // any result: without a store mounted (the default pvc://) it reconciles, reports StoreAvailable=False and retries
    reconciled = [...metrics.matchAll(/^controller_runtime_reconcile_total\{controller="rolloutbatch",result="(\w+)"\} (\d+)$/gm)].reduce((a, m) => a + Number(m[2]), 0);
    if (reconciled === 0) await new Promise((r) => setTimeout(r, 500));
  }
  const reconcileLines = metrics.split('\n').filter((l) => /^controller_runtime_reconcile_(total|errors_total)\{controller="rolloutbatch"/.test(l));
  if (reconciled === 0) t.log((await c.podLogs(ns, first[0].metadata.name).catch((e: Error) => e.message)).slice(-3000));
  t.true(reconciled > 0, `the release's operator reconciled the RolloutBatch: ${reconcileLines.join('; ')}`);
  t.regex(metrics, /^leader_election_master_status\{name="entropo-helm\.entropo\.dev"\} 1$/m);
  let status: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }> } = {};
  for (let i = 0; i < 120 && status.observedGeneration !== 1; i++) {
    status = JSON.parse(c.kubectl(['-n', watched, 'get', 'rolloutbatch', 'via-helm', '-o', 'json']).stdout).status ?? {};
    if (status.observedGeneration !== 1) await new Promise((r) => setTimeout(r, 500));
  }
  t.is(status.observedGeneration, 1, JSON.stringify(status));
  t.true(!!status.conditions?.some((x) => x.type === 'StoreAvailable'), JSON.stringify(status.conditions));

  // 3. RBAC by impersonation: what it needs, and no more.
  const sa = `system:serviceaccount:${ns}:${FULLNAME}`;
  const can = (args: string[]) => c.kubectl(['auth', 'can-i', ...args, '--as', sa]).stdout.trim();
  for (const [verb, resource] of [
    ['watch', 'rolloutbatches.entropo.dev'],
    ['patch', 'trainingruns.entropo.dev/status'],
    ['create', 'pods'],
    ['create', 'jobs.batch'],
    ['create', 'deployments.apps'],
    ['create', 'networkpolicies.networking.k8s.io'],
    ['get', 'secrets'],
  ]) {
    t.is(can([verb, resource, '-n', watched]), 'yes', `${verb} ${resource} in ${watched}`);
  }
  t.is(can(['update', 'leases.coordination.k8s.io', '-n', ns]), 'yes', 'its Lease');
  t.is(can(['list', 'secrets', '-n', watched]), 'no', 'Secrets are read by name only');
  t.is(can(['watch', 'secrets', '-n', watched]), 'no');
  for (const [verb, resource] of [['get', 'rolloutbatches.entropo.dev'], ['create', 'pods'], ['get', 'secrets']]) {
    t.is(can([verb, resource, '-n', other]), 'no', `${verb} ${resource} in the unwatched ${other}`);
  }
  t.is(can(['list', 'rolloutbatches.entropo.dev', '--all-namespaces']), 'no', 'nothing cluster-wide');
  t.is(can(['create', 'clusterrolebindings.rbac.authorization.k8s.io']), 'no');

  // 4. helm upgrade: 2 replicas and an extra argument, rolling; the same Lease stays held.
  let watching = true;
  let samples = 0;
  let maxUnheldMs = 0;
  let unheldSince: number | undefined;
  const holders = new Set<string>();
  const uids = new Set<string>();
  const watcher = (async () => {
    while (watching) {
      const x = lease();
      const now = Date.now();
      samples++;
      if (x) uids.add(x.metadata.uid);
      const held = !!x?.spec.holderIdentity && !!x.spec.renewTime && new Date(x.spec.renewTime).getTime() + (x.spec.leaseDurationSeconds ?? 15) * 1000 > now;
      if (x?.spec.holderIdentity) holders.add(x.spec.holderIdentity);
      if (!held) unheldSince ??= now;
      else if (unheldSince !== undefined) {
        maxUnheldMs = Math.max(maxUnheldMs, now - unheldSince);
        unheldSince = undefined;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const t1 = Date.now();
  const upgrade = await helmAsync(['upgrade', RELEASE, chart, '-n', ns, '--reuse-values', '--wait', '--timeout', '5m', '--set', 'replicaCount=2', '--set', 'extraArgs={--sync-period=30m}']);
  // after the rollout: wait for a current Pod to hold the Lease, then stop watching
  let after = podsOf();
  for (let i = 0; i < 120; i++) {
    after = podsOf();
    const h = lease()?.spec.holderIdentity ?? '';
    if (after.length === 2 && after.every(ready) && after.some((p) => h.startsWith(p.metadata.name))) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  watching = false;
  await watcher;
  // The loop above may have seen the new holder between two of the watcher's samples.
  const last = lease();
  if (last?.spec.holderIdentity) holders.add(last.spec.holderIdentity);
  if (unheldSince !== undefined) maxUnheldMs = Math.max(maxUnheldMs, Date.now() - unheldSince);
  ok(upgrade, 'helm upgrade');
  t.log(`helm upgrade --wait: ${Date.now() - t1} ms; ${samples} Lease samples; holders ${[...holders].join(', ')}; longest time without a valid holder ${maxUnheldMs} ms`);
  t.is(after.length, 2);
  t.true(after.every(ready), 'both replicas Ready');
  for (const p of after) t.true(p.spec.containers[0].args.includes('--sync-period=30m'), p.spec.containers[0].args.join(' '));
  t.false(after.some((p) => p.metadata.name === first[0].metadata.name), 'the first Pod was replaced');
  const h = lease()!.spec.holderIdentity ?? '';
  t.true(after.some((p) => h.startsWith(p.metadata.name)), `a new Pod holds the Lease (${h})`);
  t.deepEqual([...uids], [leaseUid], 'the same Lease object throughout');
  t.true(samples >= 10, `the Lease was sampled during the upgrade (${samples})`);
  t.true(holders.size >= 2, `the Lease passed from the first Pod to a new one (${[...holders].join(', ')})`);
  t.true(maxUnheldMs < 15_000, `the Lease was never left without a valid holder for its duration (longest ${maxUnheldMs} ms)`);

  // 5. helm uninstall: nothing of the release is left; the CRDs stay.
  ok(c.kubectl(['-n', watched, 'delete', 'rolloutbatch', 'via-helm', '--wait=true', '--timeout=120s']), 'delete the RolloutBatch');
  ok(helm(['uninstall', RELEASE, '-n', ns, '--wait', '--timeout', '3m']), 'helm uninstall');
  const selector = `app.kubernetes.io/instance=${RELEASE}`;
  for (const n of [ns, watched]) {
    const left = c.kubectl(['-n', n, 'get', 'deployments,replicasets,services,serviceaccounts,configmaps,roles,rolebindings', '-l', selector, '-o', 'name']);
    t.is(left.stdout.trim(), '', `left in ${n}: ${left.stdout}${left.stderr}`);
  }
  const clusterLeft = c.kubectl(['get', 'clusterroles,clusterrolebindings', '-l', selector, '-o', 'name']);
  t.is(clusterLeft.stdout.trim(), '');
  let podsLeft = podsOf().length;
  for (let i = 0; i < 120 && podsLeft > 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    podsLeft = c.kubectl(['-n', ns, 'get', 'pods', '-l', selector, '-o', 'name']).stdout.trim().split('\n').filter(Boolean).length;
  }
  t.is(podsLeft, 0, 'the operator Pods are gone');
  for (const crd of ['trainingruns.entropo.dev', 'rolloutbatches.entropo.dev', 'evalsuites.entropo.dev']) ok(c.kubectl(['get', 'crd', crd]), `CRD ${crd} kept`);
});
