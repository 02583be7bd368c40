/**
 * Artifact store benchmark: put / get throughput of 1 KiB records (trajectory summaries, attempt
 * records) and 64 MiB checkpoints (streamed; multipart on S3), on the directory store and on a
 * real S3-compatible server on loopback (versitygw, test/s3, provisioned and started here), in one
 * run on the same machine. Prints a markdown table and the S3 / directory ratios.
 *   npm run bench:store [-- --records 2000 --concurrency 16 --checkpoints 3 --checkpoint-mib 64]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { FsStore } from '../operator/store/fs-store.ts';
import { S3Store } from '../operator/store/s3-store.ts';
import type { ArtifactStore } from '../operator/store/store.ts';
import { startS3Server } from '../test/s3/server.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    checkpoints: { type: 'string', default: '3' },
    'checkpoint-mib': { type: 'string', default: '64' },
  },
});
const RECORDS = Number(values.records);
const CONCURRENCY = Number(values.concurrency);
const CHECKPOINTS = Number(values.checkpoints);
const CKPT = Number(values['checkpoint-mib']) * 1024 * 1024;
const RECORD = Buffer.alloc(1024, 'r');
const CHUNK = Buffer.alloc(1 << 20, 7);

async function pool(n: number, concurrency: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, async () => {
    while (next < n) await f(next++);
  }));
}

function* checkpointBytes(size: number): Generator<Buffer> {
  for (let done = 0; done < size; done += CHUNK.length) yield CHUNK.subarray(0, Math.min(CHUNK.length, size - done));
}

interface Row {
  store: string;
  op: string;
  n: number;
  seconds: number;
  perSecond: number;
  mibPerSecond: number;
}

async function measure(name: string, store: ArtifactStore): Promise<Row[]> {
  const rows: Row[] = [];
  const time = async (op: string, n: number, bytes: number, f: () => Promise<void>) => {
    const t0 = performance.now();
    await f();
    const s = (performance.now() - t0) / 1000;
    rows.push({ store: name, op, n, seconds: s, perSecond: n / s, mibPerSecond: bytes / s / 1024 / 1024 });
  };
  await time('put 1 KiB', RECORDS, RECORDS * RECORD.length, () => pool(RECORDS, CONCURRENCY, (i) => store.put(`records/r${i}.json`, RECORD)));
  await time('get 1 KiB', RECORDS, RECORDS * RECORD.length, () =>
    pool(RECORDS, CONCURRENCY, async (i) => {
      if ((await store.get(`records/r${i}.json`)).length !== RECORD.length) throw new Error(`records/r${i}.json: wrong size`);
    }),
  );
  await time(`put ${CKPT >> 20} MiB`, CHECKPOINTS, CHECKPOINTS * CKPT, async () => {
    for (let i = 0; i < CHECKPOINTS; i++) await store.putStream(`ckpt/c${i}.safetensors`, Readable.from(checkpointBytes(CKPT)));
  });
  await time(`get ${CKPT >> 20} MiB`, CHECKPOINTS, CHECKPOINTS * CKPT, async () => {
    for (let i = 0; i < CHECKPOINTS; i++) {
      let got = 0;
      for await (const c of await store.getStream(`ckpt/c${i}.safetensors`)) got += (c as Buffer).length;
      if (got !== CKPT) throw new Error(`ckpt/c${i}.safetensors: ${got} bytes, expected ${CKPT}`);
    }
  });
  return rows;
}

const dir = mkdtempSync(path.join(tmpdir(), 'entropo-bench-store-'));
const s3 = await startS3Server();
try {
  await s3.createBucket('bench');
  const fsRows = await measure('directory (FsStore)', new FsStore(dir));
  const s3Store = new S3Store('s3://bench/run', s3.settings());
  const s3Rows = await measure('S3 (versitygw, loopback)', s3Store);
  s3Store.destroy();
  console.log(`\nstore benchmark: ${RECORDS} records x 1 KiB (${CONCURRENCY} at a time), ${CHECKPOINTS} checkpoints x ${CKPT >> 20} MiB (streamed; S3: 16 MiB parts, 4 in flight)`);
  console.log(`machine: ${cpus().length} cores, load average ${loadavg()[0].toFixed(1)}; node ${process.version}\n`);
  console.log('| store | operation | n | s | ops/s | MiB/s |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const r of [...fsRows, ...s3Rows]) console.log(`| ${r.store} | ${r.op} | ${r.n} | ${r.seconds.toFixed(2)} | ${r.perSecond.toFixed(1)} | ${r.mibPerSecond.toFixed(1)} |`);
  console.log('\nS3 / directory throughput ratio (same run):');
  for (let i = 0; i < fsRows.length; i++) console.log(`  ${fsRows[i].op}: ${(s3Rows[i].perSecond / fsRows[i].perSecond).toFixed(3)}`);
} finally {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
}
