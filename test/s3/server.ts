/**
 * A real S3-compatible server for the tests and `npm run bench:store`: versitygw (Versity S3
 * Gateway, Apache-2.0), built from its Go module by test/s3/provision.sh (cached under
 * ~/.cache/entropo/s3/<version>), serving its posix backend from a temporary data directory of
 * its own, on a free loopback port. Never a mock: requests go through the real S3 REST API,
 * SigV4 signing and multipart uploads.
 *
 *   const s3 = await startS3Server();          // provisions (cached) and starts; ready when it returns
 *   const store = new S3Store('s3://b/p', s3.settings());
 *   await s3.createBucket('b');
 *   await s3.kill(); await s3.start();          // a crash and a restart on the same port and data
 *   await s3.stop();                            // stops and removes the data directory
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Settings } from '../../operator/store/s3-store.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
let binary: string | undefined;

/** The versitygw binary: provisioned (built once, cached) by test/s3/provision.sh. */
export function s3ServerBinary(): string {
  if (!binary) {
    const out = execFileSync('bash', [path.join(HERE, 'provision.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 });
    binary = out.trim().split('\n').pop()!;
  }
  return binary;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface S3ServerOptions {
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  region?: string;
}

export class S3TestServer {
  readonly host: string;
  port = 0;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  readonly dir: string;
  private child?: ChildProcess;
  private log = '';
  private started = false;

  constructor(o: S3ServerOptions = {}) {
    this.host = o.host ?? '127.0.0.1';
    this.accessKeyId = o.accessKeyId ?? 'entropo-test';
    this.secretAccessKey = o.secretAccessKey ?? 'entropo-test-secret-0123456789';
    this.region = o.region ?? 'us-east-1';
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'entropo-s3-'));
    mkdirSync(path.join(this.dir, 'data'));
    mkdirSync(path.join(this.dir, 'meta'));
  }

  get endpoint(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** Settings for an S3Store on this server (its root credentials, path-style). */
  settings(extra: Partial<S3Settings> = {}): S3Settings {
    return { endpoint: this.endpoint, region: this.region, forcePathStyle: true, credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey }, ...extra };
  }

  /** Starts the server (again, after kill/stop, on the same port and data); resolves once it answers HTTP. */
  async start(): Promise<void> {
    const bin = s3ServerBinary();
    for (let attempt = 0; ; attempt++) {
      if (!this.port) this.port = await freePort(this.host);
      this.log = '';
      const child = spawn(bin, ['--access', this.accessKeyId, '--secret', this.secretAccessKey, '--region', this.region, '--port', `${this.host}:${this.port}`, '--quiet', 'posix', '--sidecar', path.join(this.dir, 'meta'), path.join(this.dir, 'data')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.child = child;
      child.stdout!.on('data', (b: Buffer) => (this.log = (this.log + b.toString()).slice(-4000)));
      child.stderr!.on('data', (b: Buffer) => (this.log = (this.log + b.toString()).slice(-4000)));
      const exited = new Promise<string>((resolve) => child.once('exit', (code, sig) => resolve(`exited ${sig ?? code}`)));
      if (await this.waitReady(child, 60_000)) {
        this.started = true;
        return;
      }
      const why = await exited;
      // the port was taken between picking and binding, or the server failed: try again
      if (attempt >= 4) throw new Error(`versitygw did not start (${why}): ${this.log}`);
      if (!this.started) this.port = 0; // a new port, unless clients already know this one
      await new Promise((res) => setTimeout(res, 500 * (attempt + 1)));
    }
  }

  /** True once the server answers HTTP, false when it exited first; throws after timeoutMs. */
  private async waitReady(child: ChildProcess, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) return false;
      try {
        const res = await fetch(`${this.endpoint}/`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        return true; // any HTTP answer (403 without credentials) means it serves
      } catch {
        if (Date.now() > until) throw new Error(`versitygw on ${this.endpoint} not ready after ${timeoutMs} ms: ${this.log}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  }

  /** SIGKILL, as a crash: in-flight requests break. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((res) => c.once('exit', () => res()));
    c.kill(sig);
    await gone;
  }

  /** Creates a bucket through the S3 API. */
  async createBucket(name: string): Promise<void> {
    const client = new S3Client({ ...this.settings(), maxAttempts: 3 });
    try {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    } finally {
      client.destroy();
    }
  }

  /** Stops the server and removes its data. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Provisions (cached), starts and returns a server; stop() it when done. */
export async function startS3Server(o: S3ServerOptions = {}): Promise<S3TestServer> {
  const s = new S3TestServer(o);
  try {
    await s.start();
  } catch (e) {
    rmSync(s.dir, { recursive: true, force: true });
    throw e;
  }
  return s;
}
