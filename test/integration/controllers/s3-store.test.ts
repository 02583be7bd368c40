/**
 * The reconcilers with an s3:// store on a real S3-compatible server (versitygw, test/s3) and a
 * real API server: the operator reads the credentials Secret and writes the task list, records
 * and merged trajectories to the bucket; sandbox Pods get the store settings as values and the
 * credentials by secretKeyRef only; their NetworkPolicy lets them reach the S3 endpoint; wrong or
 * missing credentials are reported in status (StoreAvailable=False) naming the bucket.
 */
import test from 'ava';
import type { V1Container, V1NetworkPolicy, V1Pod } from '@kubernetes/client-node';
import { NetworkPolicies, resourcePath } from '../../../operator/runtime/kube/resource.ts';
import { S3Store } from '../../../operator/store/s3-store.ts';
import { startS3Server, type S3TestServer } from '../../s3/server.ts';
import { adminClient, cluster, create, createNamespace, get, identity, pods, RB, rolloutBatch, startOperator, succeed, waitFor } from './helpers.ts';

let s3: S3TestServer;
const BUCKET = 'entropo-ctrl';
test.before(async () => {
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
});
test.after.always(async () => {
  await s3?.stop();
});

const storage = (prefix: string, secret: string) => ({ uri: `s3://${BUCKET}/${prefix}`, s3: { endpoint: s3.endpoint, region: s3.region, credentialsSecretRef: { name: secret } } });
const secretBody = (name: string, secretAccessKey: string) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name },
  stringData: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey },
});
const all = (p: V1Pod): V1Container[] => [...(p.spec!.initContainers ?? []), ...p.spec!.containers];

test.serial('a RolloutBatch on an s3:// store: tasks, records and trajectories in the bucket; credentials reach Pods by reference only', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 's3rb');
  await admin.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: secretBody('s3-creds', s3.secretAccessKey) });
  await startOperator(t, cp, ns);
  const st = storage(`runs-${ns}`, 's3-creds');
  await create(admin, RB, rolloutBatch(ns, 'rb', st.uri, { storage: st, tasks: { builtin: { split: 'All' }, limit: 1 } }));
  const store = new S3Store(st.uri, s3.settings());

  const live = await waitFor('2 sandbox Pods', async () => {
    const ps = await pods(admin, ns);
    return ps.length === 2 && ps;
  });
  for (const p of live) {
    for (const c of all(p).filter((x) => ['prepare', 'prepare-grading', 'grade'].includes(x.name))) {
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
      t.is(env.ENTROPO_STORE_URI?.value, st.uri, c.name);
      t.is(env.AWS_ENDPOINT_URL_S3?.value, s3.endpoint, c.name);
      t.deepEqual(env.AWS_SECRET_ACCESS_KEY?.valueFrom, { secretKeyRef: { name: 's3-creds', key: 'AWS_SECRET_ACCESS_KEY' } }, c.name);
    }
    t.false((all(p).find((c) => c.name === 'agent')!.env ?? []).some((e) => e.name.startsWith('AWS_')), 'the agent gets no store settings');
    t.false(JSON.stringify(p).includes(s3.secretAccessKey), 'no secret text in the Pod');
  }
  // the sandboxes may reach the S3 endpoint (and the policy endpoint), nothing else
  const np = (await admin.request<{ items: V1NetworkPolicy[] }>('GET', resourcePath(NetworkPolicies, ns))).items[0];
  t.true(
    np.spec!.egress!.some((r) => r.to?.[0]?.ipBlock?.cidr === '127.0.0.1/32' && r.ports?.[0]?.port === s3.port),
    `egress to the S3 endpoint: ${JSON.stringify(np.spec!.egress)}`,
  );
  // the operator wrote the resolved task list to the bucket with the Secret's credentials
  const keys = await store.list('');
  t.true(keys.some((k) => k.endsWith('/tasks.jsonl')), keys.join(', '));

  for (const p of live) await succeed(admin, store, p, { resolved: identity(p).sample === 0 });
  const rb = await waitFor('Succeeded', async () => {
    const o = await get(admin, ns, 'rb');
    return o.status?.phase === 'Succeeded' && o;
  }, 60_000);
  t.like(rb.status!.counts, { total: 2, completed: 2, resolved: 1 });
  const lines = (await store.getText(rb.status!.trajectories)).trim().split('\n');
  t.is(lines.length, 2, 'merged trajectories, in the bucket');
  t.is((await store.list('')).filter((k) => k.includes('/records/')).length, 2, 'one attempt record per sandbox, in the bucket');
});

test.serial('wrong credentials or a missing Secret: StoreAvailable=False naming the bucket, nothing created', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 's3bad');
  await admin.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: secretBody('wrong', 'not-the-secret-key-at-all') });
  await startOperator(t, cp, ns);
  await create(admin, RB, rolloutBatch(ns, 'bad', 's3://x', { storage: storage('bad', 'wrong') }));
  await create(admin, RB, rolloutBatch(ns, 'nosecret', 's3://x', { storage: storage('nosecret', 'absent') }));
  const cond = async (name: string) => {
    const o = await get(admin, ns, name);
    return (o.status?.conditions as { type: string; status: string; message: string }[] | undefined)?.find((c) => c.type === 'StoreAvailable' && c.status === 'False');
  };
  const bad = await waitFor('StoreAvailable=False (wrong key)', () => cond('bad'), 60_000);
  t.regex(bad.message, /rejected the credentials/);
  t.regex(bad.message, new RegExp(`bucket "${BUCKET}"`));
  const none = await waitFor('StoreAvailable=False (no Secret)', () => cond('nosecret'), 60_000);
  t.regex(none.message, /credentialsSecretRef/);
  t.regex(none.message, /absent/);
  t.deepEqual(await pods(admin, ns), [], 'no sandbox without a usable store');
});
