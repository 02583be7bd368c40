/**
 * Starts a real etcd and kube-apiserver on loopback (envtest-style: no kubelet, scheduler or
 * controller-manager; tests write Pod and Job status themselves). Binaries come from
 * KUBEBUILDER_ASSETS / TEST_ASSET_KUBE_APISERVER / TEST_ASSET_ETCD / TEST_ASSET_KUBECTL when set,
 * else from test/envtest/provision.sh (built once, cached under ~/.cache).
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync, createWriteStream } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

export interface Assets {
  kubeApiserver: string;
  etcd: string;
  kubectl: string;
  helm?: string;
}

/** Resolves the control-plane binaries, provisioning (building and caching) them if needed. */
export function resolveAssets(): Assets {
  const env = process.env;
  if (env.TEST_ASSET_KUBE_APISERVER && env.TEST_ASSET_ETCD) {
    return {
      kubeApiserver: env.TEST_ASSET_KUBE_APISERVER,
      etcd: env.TEST_ASSET_ETCD,
      kubectl: env.TEST_ASSET_KUBECTL ?? 'kubectl',
      helm: env.TEST_ASSET_HELM,
    };
  }
  const dir = execFileSync('bash', [join(HERE, 'provision.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .pop()!;
  const at = (b: string) => join(dir, b);
  return {
    kubeApiserver: env.TEST_ASSET_KUBE_APISERVER ?? at('kube-apiserver'),
    etcd: env.TEST_ASSET_ETCD ?? at('etcd'),
    kubectl: env.TEST_ASSET_KUBECTL ?? (existsSync(at('kubectl')) ? at('kubectl') : 'kubectl'),
    helm: env.TEST_ASSET_HELM ?? (existsSync(at('helm')) ? at('helm') : undefined),
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface ControlPlaneOptions {
  /** Extra kube-apiserver flags, e.g. ['--etcd-compaction-interval=0']. */
  apiServerFlags?: string[];
  /** Keep logs in the work dir (apiserver.log, etcd.log). */
  verbose?: boolean;
}

export class ControlPlane {
  readonly dir: string;
  readonly token = randomBytes(16).toString('hex');
  etcdPort = 0;
  apiPort = 0;
  private etcd?: ChildProcess;
  private api?: ChildProcess;

  constructor(
    readonly assets: Assets,
    private readonly options: ControlPlaneOptions = {},
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'entropo-envtest-'));
  }

  get server(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }
  get etcdUrl(): string {
    return `http://127.0.0.1:${this.etcdPort}`;
  }
  get kubeconfigPath(): string {
    return join(this.dir, 'kubeconfig');
  }

  async start(): Promise<this> {
    this.etcdPort = await freePort();
    const peerPort = await freePort();
    this.apiPort = await freePort();
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(this.dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(this.dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(this.dir, 'tokens.csv'), `${this.token},admin,admin,system:masters\n`);
    this.etcd = this.spawnLogged('etcd', this.assets.etcd, [
      `--data-dir=${join(this.dir, 'etcd')}`,
      `--listen-client-urls=${this.etcdUrl}`,
      `--advertise-client-urls=${this.etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync',
      '--quota-backend-bytes=4294967296',
    ]);
    await this.startApiServer();
    this.writeKubeconfig();
    return this;
  }

  /** (Re)starts kube-apiserver on the same port against the same etcd. */
  async startApiServer(): Promise<void> {
    this.api = this.spawnLogged('apiserver', this.assets.kubeApiserver, [
      '--advertise-address=127.0.0.1',
      '--bind-address=127.0.0.1',
      `--secure-port=${this.apiPort}`,
      `--etcd-servers=${this.etcdUrl}`,
      `--cert-dir=${join(this.dir, 'certs')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      '--authorization-mode=RBAC',
      `--token-auth-file=${join(this.dir, 'tokens.csv')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(this.dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(this.dir, 'sa.key')}`,
      '--disable-admission-plugins=ServiceAccount',
      '--endpoint-reconciler-type=none',
      ...(this.options.apiServerFlags ?? []),
    ]);
    await this.waitReady(90_000);
  }

  async stopApiServer(): Promise<void> {
    await stopProcess(this.api);
    this.api = undefined;
  }

  async stop(): Promise<void> {
    await stopProcess(this.api);
    await stopProcess(this.etcd);
    if (!this.options.verbose) rmSync(this.dir, { recursive: true, force: true });
  }

  private spawnLogged(name: string, bin: string, args: string[]): ChildProcess {
    const log = createWriteStream(join(this.dir, `${name}.log`), { flags: 'a' });
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    child.on('error', (e) => log.write(`spawn error: ${e.message}\n`));
    return child;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (this.api?.exitCode !== null && this.api?.exitCode !== undefined) {
        throw new Error(`kube-apiserver exited with ${this.api.exitCode}; see ${join(this.dir, 'apiserver.log')}`);
      }
      try {
        const res = await probe(`${this.server}/readyz`, this.token);
        if (res.status === 200) return;
        last = `${res.status} ${res.body.slice(-300)}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`kube-apiserver not ready after ${timeoutMs} ms: ${last}`);
  }

  private writeKubeconfig(): void {
    const ca = join(this.dir, 'certs', 'apiserver.crt');
    writeFileSync(
      this.kubeconfigPath,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: envtest',
        '  cluster:',
        `    server: ${this.server}`,
        existsSync(ca) ? `    certificate-authority: ${ca}` : '    insecure-skip-tls-verify: true',
        'users:',
        '- name: admin',
        '  user:',
        `    token: ${this.token}`,
        'contexts:',
        '- name: envtest',
        '  context: {cluster: envtest, user: admin, namespace: default}',
        'current-context: envtest',
        '',
      ].join('\n'),
    );
  }

  /** Runs the real kubectl against this control plane. */
  kubectl(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
    return runTool(this.assets.kubectl, ['--kubeconfig', this.kubeconfigPath, ...args], input);
  }
}

export function runTool(bin: string, args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(bin, args, { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) return { status: 1, stdout: '', stderr: r.error.message };
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

async function stopProcess(p?: ChildProcess): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(timer);
}

/** GET with the admin token; the apiserver's serving cert is self-signed, so this probe skips verification. */
function probe(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
