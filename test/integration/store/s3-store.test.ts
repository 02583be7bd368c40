/**
 * The S3 store against a real S3-compatible server (versitygw, test/s3/server.ts, built from its Go
 * module and started on loopback): the store contract shared with the directory store, multipart
 * objects, pagination past 1,000 keys, concurrent writers, a crash of the server in the middle of
 * an upload, wrong credentials, a missing bucket.
 */
import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { FsStore } from '../../../operator/store/fs-store.ts';
import { openStore, registerStore } from '../../../operator/store/open.ts';
import { S3Store } from '../../../operator/store/s3-store.ts';
import { StoreError, type ArtifactStore } from '../../../operator/store/store.ts';
import { getFile, putFile, downloadPrefix, uploadDir } from '../../../operator/store/sync.ts';
import { startS3Server, type S3TestServer } from '../../s3/server.ts';

let s3: S3TestServer;
const BUCKET = 'entropo-test';
let n = 0;
/** A store under a fresh prefix of the test bucket. */
const fresh = (extra: Parameters<S3TestServer['settings']>[0] = {}): S3Store => new S3Store(`s3://${BUCKET}/t${++n}-${process.pid}`, s3.settings(extra));

test.before(async () => {
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
});
test.after.always(async () => {
  await s3?.stop();
});

/** Deterministic pseudo-random bytes (xorshift), `size` bytes in chunks: never all in memory. */
function* bytes(size: number, seed: number, chunk = 1 << 20): Generator<Buffer> {
  let x = seed >>> 0 || 1;
  for (let done = 0; done < size; done += chunk) {
    const b = Buffer.allocUnsafe(Math.min(chunk, size - done));
    for (let i = 0; i + 4 <= b.length; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b.writeUInt32LE(x >>> 0, i);
    }
    for (let i = b.length - (b.length % 4); i < b.length; i++) b[i] = i & 0xff;
    yield b;
  }
}
const sha = async (chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<string> => {
  const h = createHash('sha256');
  for await (const c of chunks) h.update(c);
  return h.digest('hex');
};

/** The contract every store keeps (run on the directory store and on S3 alike). */
async function contract(t: ExecutionContext, store: ArtifactStore): Promise<void> {
  await store.put('runs/a/x.json', '{"a":1}');
  await store.put('runs/a/y.bin', new Uint8Array([0, 1, 2, 255]));
  await store.put('runs/a/sub/z.txt', 'zeta');
  await store.put('runs/ab/w.txt', 'not under runs/a');
  await store.put('top.txt', 'top');
  t.is(await store.getText('runs/a/x.json'), '{"a":1}');
  t.deepEqual([...(await store.get('runs/a/y.bin'))], [0, 1, 2, 255]);
  t.true(await store.exists('runs/a/x.json'));
  t.false(await store.exists('runs/a/nope.json'));
  t.false(await store.exists('runs/a'), 'a "directory" is not an object');
  t.deepEqual(await store.list('runs/a'), ['runs/a/sub/z.txt', 'runs/a/x.json', 'runs/a/y.bin']);
  t.deepEqual(await store.list('runs/a/'), ['runs/a/sub/z.txt', 'runs/a/x.json', 'runs/a/y.bin']);
  t.deepEqual(await store.list(''), ['runs/a/sub/z.txt', 'runs/a/x.json', 'runs/a/y.bin', 'runs/ab/w.txt', 'top.txt']);
  t.deepEqual(await store.list('nothing/here'), []);
  // overwrite, streams
  await store.put('runs/a/x.json', '{"a":2}');
  t.is(await store.getText('runs/a/x.json'), '{"a":2}');
  await store.putStream('runs/s/stream.txt', Readable.from([Buffer.from('hello '), Buffer.from('stream')]));
  t.is(await store.getText('runs/s/stream.txt'), 'hello stream');
  const rs = await store.getStream('runs/s/stream.txt');
  t.is(Buffer.concat(await rs.toArray()).toString(), 'hello stream');
  // delete: an object, then a "directory"
  await store.delete('top.txt');
  t.false(await store.exists('top.txt'));
  await store.delete('runs/a');
  t.deepEqual(await store.list(''), ['runs/ab/w.txt', 'runs/s/stream.txt']);
  await store.delete('does/not/exist');
  // a missing key: get and getStream fail (and name it)
  await t.throwsAsync(() => store.get('runs/a/x.json'));
  await t.throwsAsync(() => store.getStream('runs/a/x.json'));
  await t.throwsAsync(() => store.put('../escape', 'x'), { message: /invalid artifact key/ });
}

test.serial('the store contract holds on S3 as on the directory store (same keys, same listing)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'entropo-fs-'));
  try {
    await contract(t, new FsStore(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const store = fresh();
  await contract(t, store);
  const err = await t.throwsAsync(() => store.get('runs/a/x.json'), { instanceOf: StoreError });
  t.is(err.code, 'NoSuchKey');
  t.regex(err.message, new RegExp(`bucket "${BUCKET}"`));
  t.regex(err.message, /runs\/a\/x\.json/);
  // the prefix of the URI is where the keys are: nothing outside it
  const root = new S3Store(`s3://${BUCKET}`, s3.settings());
  t.deepEqual(await root.list(store.prefix), [`${store.prefix}/runs/ab/w.txt`, `${store.prefix}/runs/s/stream.txt`]);
});

test.serial('a 72 MiB checkpoint goes up in 16 MiB parts and comes back byte-identical, streamed both ways', async (t) => {
  const store = fresh();
  const size = 72 * 1024 * 1024;
  const want = await sha(bytes(size, 7));
  await store.putStream('ckpt/model.safetensors', Readable.from(bytes(size, 7)));
  const head = await store.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: store.objectKey('ckpt/model.safetensors') }));
  t.is(head.ContentLength, size);
  t.regex(head.ETag ?? '', /-5"?$/, 'a multipart ETag of 5 parts (72 MiB / 16 MiB)');
  t.is(await sha(await store.getStream('ckpt/model.safetensors')), want);
  // a large Uint8Array through put() takes the same multipart path
  const big = Buffer.concat([...bytes(20 * 1024 * 1024, 9)]);
  await store.put('ckpt/big.bin', big);
  t.true((await store.get('ckpt/big.bin')).equals(big));
});

test.serial('files and directories move through the interface: putFile / getFile / uploadDir / downloadPrefix', async (t) => {
  const store = fresh();
  const dir = mkdtempSync(path.join(tmpdir(), 'entropo-sync-'));
  try {
    const { writeFileSync, mkdirSync, readFileSync, existsSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'src', 'checkpoints', 'step-000002'), { recursive: true });
    writeFileSync(path.join(dir, 'src', 'metrics.jsonl'), '{"step":1}\n');
    writeFileSync(path.join(dir, 'src', 'checkpoints', 'step-000002', 'trainable.safetensors'), Buffer.alloc(6 * 1024 * 1024, 3));
    writeFileSync(path.join(dir, 'src', 'checkpoints', 'step-000002', 'state.json'), '{"step":2}');
    t.is(await uploadDir(store, path.join(dir, 'src'), 'run/out'), 3);
    t.deepEqual(await store.list('run/out'), ['run/out/checkpoints/step-000002/state.json', 'run/out/checkpoints/step-000002/trainable.safetensors', 'run/out/metrics.jsonl']);
    t.is(await downloadPrefix(store, 'run/out', path.join(dir, 'dst')), 3);
    t.true(readFileSync(path.join(dir, 'dst', 'checkpoints', 'step-000002', 'trainable.safetensors')).equals(Buffer.alloc(6 * 1024 * 1024, 3)));
    await putFile(store, 'one/file', path.join(dir, 'src', 'metrics.jsonl'));
    await getFile(store, 'one/file', path.join(dir, 'x', 'file'));
    t.is(readFileSync(path.join(dir, 'x', 'file'), 'utf8'), '{"step":1}\n');
    await t.throwsAsync(() => getFile(store, 'one/missing', path.join(dir, 'x', 'missing')), { instanceOf: StoreError });
    t.false(existsSync(path.join(dir, 'x', 'missing')), 'a failed download leaves no file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('listing pages past 1,000 keys: every key under the prefix, none outside, sorted', async (t) => {
  const store = fresh();
  const keys = Array.from({ length: 1234 }, (_, i) => `traj/${String(i).padStart(5, '0')}.json`);
  const others = ['trajx/0.json', 'tra.json', 'traj.json'];
  const all = [...keys, ...others];
  for (let i = 0; i < all.length; i += 48) await Promise.all(all.slice(i, i + 48).map((k) => store.put(k, k)));
  const listed = await store.list('traj');
  t.is(listed.length, 1234);
  t.deepEqual(listed, keys);
  t.is((await store.list('')).length, 1237);
  // delete of a "directory" past 1,000 keys (DeleteObjects batches)
  await store.delete('traj');
  t.deepEqual(await store.list(''), ['tra.json', 'traj.json', 'trajx/0.json']);
});

test.serial('concurrent writers: distinct keys all land; racing writes of one key leave one whole value', async (t) => {
  const store = fresh();
  const writers = 12;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < 15; i++) await store.put(`w${w}/r${i}.json`, JSON.stringify({ w, i, pad: 'x'.repeat(1000) }));
    }),
  );
  const listed = await store.list('');
  t.is(listed.length, writers * 15);
  for (const k of listed.slice(0, 20)) {
    const r = JSON.parse(await store.getText(k)) as { w: number; i: number };
    t.is(k, `w${r.w}/r${r.i}.json`);
  }
  // the same key from every writer at once, 1 MiB each: the result is exactly one of them
  const values = Array.from({ length: writers }, (_, w) => Buffer.alloc(1 << 20, w + 1));
  await Promise.all(values.map((v) => store.put('shared/latest.bin', v)));
  const got = await store.get('shared/latest.bin');
  t.is(got.length, 1 << 20);
  t.true(values.some((v) => v.equals(got)), 'never a mix of two writes');
});

test.serial('a server crash in the middle of a multipart upload: the write fails naming the key, nothing half-written is seen, a retry succeeds', async (t) => {
  const store = fresh({ maxAttempts: 2, partSizeBytes: 5 * 1024 * 1024, queueSize: 1 });
  const size = 64 * 1024 * 1024;
  const want = await sha(bytes(size, 3));
  let sent = 0;
  let killed: Promise<void> | undefined;
  async function* watched(): AsyncGenerator<Buffer> {
    for (const b of bytes(size, 3)) {
      sent += b.length;
      // crash once a few parts are through (the upload is multipart by then)
      if (!killed && sent >= 24 * 1024 * 1024) killed = s3.kill();
      yield b;
    }
  }
  const err = await t.throwsAsync(() => store.putStream('ckpt/model.safetensors', watched()), { instanceOf: StoreError });
  t.truthy(killed, 'the server was killed during the upload');
  await killed;
  t.regex(err.message, new RegExp(`s3://${BUCKET}/${store.prefix}/ckpt/model\\.safetensors`));
  await s3.start();
  // nothing of the failed upload is visible: no object, no listing entry
  t.false(await store.exists('ckpt/model.safetensors'));
  t.deepEqual(await store.list(''), []);
  await t.throwsAsync(() => store.get('ckpt/model.safetensors'), { instanceOf: StoreError, message: /no such key/ });
  // the retry, from the start
  await store.putStream('ckpt/model.safetensors', Readable.from(bytes(size, 3)));
  t.is(await sha(await store.getStream('ckpt/model.safetensors')), want);
  t.deepEqual(await store.list(''), ['ckpt/model.safetensors']);
});

test.serial('retries ride out a short outage: a request made while the server restarts succeeds', async (t) => {
  const store = fresh({ maxAttempts: 12 });
  await store.put('a.txt', 'before');
  await s3.kill();
  const restarted = new Promise<void>((res) => setTimeout(() => void s3.start().then(res), 100));
  // the first attempts meet a refused connection; the SDK backs off and retries
  const write = store.put('b.txt', 'during');
  await restarted;
  await write;
  t.is(await store.getText('b.txt'), 'during');
  t.is(await store.getText('a.txt'), 'before');
});

test.serial('wrong credentials: a clear error naming the bucket and key, for reads and writes', async (t) => {
  const bad = new S3Store(`s3://${BUCKET}/creds`, s3.settings({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'wrong-secret-wrong-secret' }, maxAttempts: 2 }));
  const w = await t.throwsAsync(() => bad.put('k/obj.json', '{}'), { instanceOf: StoreError });
  t.is(w.code, 'InvalidCredentials');
  t.is(w.status, 403);
  t.regex(w.message, new RegExp(`bucket "${BUCKET}"`));
  t.regex(w.message, /creds\/k\/obj\.json/);
  t.regex(w.message, /AWS_SECRET_ACCESS_KEY/);
  const r = await t.throwsAsync(() => bad.get('k/obj.json'), { instanceOf: StoreError });
  t.is(r.code, 'InvalidCredentials');
  const unknown = new S3Store(`s3://${BUCKET}/creds`, s3.settings({ credentials: { accessKeyId: 'nobody', secretAccessKey: 'whatever-whatever' }, maxAttempts: 2 }));
  const u = await t.throwsAsync(() => unknown.list('k'), { instanceOf: StoreError });
  t.is(u.code, 'InvalidCredentials');
  t.regex(u.message, /s3:\/\/entropo-test\/creds\/k/);
});

test.serial('a missing bucket: NoSuchBucket naming it, from put, get, list and exists alike', async (t) => {
  const store = new S3Store('s3://no-such-bucket-here/p', s3.settings({ maxAttempts: 2 }));
  for (const [op, f] of [
    ['put', () => store.put('a/b.json', '{}')],
    ['get', () => store.get('a/b.json')],
    ['list', () => store.list('a')],
    ['exists', () => store.exists('a/b.json')],
  ] as const) {
    const e = await t.throwsAsync(f as () => Promise<unknown>, { instanceOf: StoreError }, op);
    t.is(e.code, 'NoSuchBucket', op);
    t.regex(e.message, /bucket "no-such-bucket-here" does not exist/, op);
  }
});

test.serial('openStore opens s3:// from the environment a Pod gets, and registerStore hands a configured store to openStore(uri)', async (t) => {
  const env = { AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_REGION: s3.region, ENTROPO_S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const store = openStore(`s3://${BUCKET}/env-${process.pid}`);
    t.true(store instanceof S3Store);
    await store.put('x.txt', 'from env');
    t.is(await store.getText('x.txt'), 'from env');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const configured = fresh();
  const unregister = registerStore(configured);
  t.is(openStore(configured.uri), configured);
  unregister();
  t.not(openStore(configured.uri), configured);
});

test.serial('the trainer on S3: trajectories and the newest complete checkpoint come down, new checkpoints and the model go up', async (t) => {
  const { trainerFiles } = await import('../../../operator/training/store-files.ts');
  const { mkdirSync, writeFileSync, readFileSync, existsSync } = await import('node:fs');
  const store = fresh();
  const ck = 'trainingruns/ns/r/iter-1';
  await store.put('rb/trajectories.jsonl', '{"id":"a"}\n');
  await store.put(`${ck}/checkpoints/step-000001/trainable.safetensors`, 'w1');
  await store.put(`${ck}/checkpoints/step-000001/state.json`, '{"step":1}');
  await store.put(`${ck}/checkpoints/step-000002/trainable.safetensors`, 'w2');
  await store.put(`${ck}/checkpoints/step-000002/state.json`, '{"step":2}');
  await store.put(`${ck}/checkpoints/step-000003/trainable.safetensors`, 'w3'); // no state.json: an interrupted upload
  await store.put(`${ck}/metrics.jsonl`, '{"step":1}\n{"step":2}\n');
  const work = mkdtempSync(path.join(tmpdir(), 'entropo-trainer-'));
  try {
    const f = await trainerFiles(store, { trajectoriesKey: 'rb/trajectories.jsonl', checkpointKey: ck }, work);
    t.is(readFileSync(f.trajectories, 'utf8'), '{"id":"a"}\n');
    // the newest complete checkpoint (step 2; step 3 has no state.json) and the run's files, nothing else
    t.true(existsSync(path.join(f.output, 'checkpoints', 'step-000002', 'state.json')));
    t.false(existsSync(path.join(f.output, 'checkpoints', 'step-000001')));
    t.false(existsSync(path.join(f.output, 'checkpoints', 'step-000003')));
    t.is(readFileSync(path.join(f.output, 'metrics.jsonl'), 'utf8'), '{"step":1}\n{"step":2}\n');
    // the trainer makes step 4 (and a half-written .tmp), then the model
    mkdirSync(path.join(f.output, 'checkpoints', 'step-000004'), { recursive: true });
    writeFileSync(path.join(f.output, 'checkpoints', 'step-000004', 'trainable.safetensors'), 'w4');
    writeFileSync(path.join(f.output, 'checkpoints', 'step-000004', 'state.json'), '{"step":4}');
    mkdirSync(path.join(f.output, 'checkpoints', 'step-000005.tmp'), { recursive: true });
    writeFileSync(path.join(f.output, 'checkpoints', 'step-000005.tmp', 'trainable.safetensors'), 'partial');
    writeFileSync(path.join(f.output, 'metrics.jsonl'), '{"step":1}\n{"step":2}\n{"step":4}\n');
    await f.sync();
    t.is(await store.getText(`${ck}/checkpoints/step-000004/state.json`), '{"step":4}');
    t.is(await store.getText(`${ck}/metrics.jsonl`), '{"step":1}\n{"step":2}\n{"step":4}\n');
    t.deepEqual((await store.list(`${ck}/checkpoints`)).filter((k) => k.includes('step-000005')), [], 'an unfinished checkpoint stays local');
    mkdirSync(path.join(f.output, 'model'), { recursive: true });
    writeFileSync(path.join(f.output, 'model', 'model.safetensors'), 'final');
    writeFileSync(path.join(f.output, 'summary.json'), '{"steps":4}');
    await f.finish();
    t.is(await store.getText(`${ck}/model/model.safetensors`), 'final');
    t.is(await store.getText(`${ck}/summary.json`), '{"steps":4}');
    await f.cleanup();
    t.false(existsSync(work));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
