/**
 * Starts a real etcd and kube-apiserver on loopback (envtest-style: no kubelet, scheduler or
 * controller-manager; tests write Pod and Job status themselves). Binaries come from
 * KUBEBUILDER_ASSETS / TEST_ASSET_KUBE_APISERVER / TEST_ASSET_ETCD / TEST_ASSET_KUBECTL when set,
 * else from test/envtest/provision.sh (built once, cached under ~/.cache).
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync, createWriteStream, readFileSync } from 'node:fs';
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
  /**
   * Address kube-apiserver binds, advertises and the kubeconfigs name (default 127.0.0.1). The
   * real node (test/e2e/cluster.ts) uses the host's address so that Pods reach the API server
   * through the `kubernetes` Service.
   */
  address?: string;
  /**
   * A real cluster's settings instead of envtest's: ServiceAccount admission on (Pods get token
   * volumes), the `kubernetes` Service endpoints kept by the lease reconciler, and the Node
   * authorizer in front of RBAC.
   */
  clusterMode?: boolean;
  /** Extra users with static bearer tokens (name and groups), e.g. system:node:<node>. */
  users?: Array<{ name: string; groups?: string[] }>;
}

export class ControlPlane {
  readonly dir: string;
  readonly token = randomBytes(16).toString('hex');
  /** Bearer tokens of the extra users (options.users), by user name. */
  readonly tokens = new Map<string, string>();
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

  get address(): string {
    return this.options.address ?? '127.0.0.1';
  }
  get server(): string {
    return `https://${this.address}:${this.apiPort}`;
  }
  /** The API server's serving certificate chain (self-signed CA included), for kubeconfigs and Pods. */
  get caFile(): string {
    return join(this.dir, 'certs', 'apiserver.crt');
  }
  get etcdUrl(): string {
    return `http://127.0.0.1:${this.etcdPort}`;
  }
  get kubeconfigPath(): string {
    return join(this.dir, 'kubeconfig');
  }

  /** Starts etcd and kube-apiserver; on any failure stops whatever it started, then throws. */
  async start(): Promise<this> {
    try {
      await this.startProcesses();
    } catch (e) {
      await this.stop();
      throw e;
    }
    return this;
  }

  private async startProcesses(): Promise<void> {
    this.etcdPort = await freePort();
    const peerPort = await freePort();
    this.apiPort = await freePort();
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(this.dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(this.dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const lines = [`${this.token},admin,admin,system:masters`];
    for (const u of this.options.users ?? []) {
      const token = randomBytes(16).toString('hex');
      this.tokens.set(u.name, token);
      lines.push(`${token},${u.name},${u.name}${u.groups?.length ? `,"${u.groups.join(',')}"` : ''}`);
    }
    writeFileSync(join(this.dir, 'tokens.csv'), lines.join('\n') + '\n');
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
  }

  /** (Re)starts kube-apiserver on the same port against the same etcd. */
  async startApiServer(): Promise<void> {
    const cluster = this.options.clusterMode ?? false;
    this.api = this.spawnLogged('apiserver', this.assets.kubeApiserver, [
      `--advertise-address=${this.address}`,
      `--bind-address=${this.address}`,
      `--secure-port=${this.apiPort}`,
      `--etcd-servers=${this.etcdUrl}`,
      `--cert-dir=${join(this.dir, 'certs')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      `--authorization-mode=${cluster ? 'Node,RBAC' : 'RBAC'}`,
      `--token-auth-file=${join(this.dir, 'tokens.csv')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(this.dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(this.dir, 'sa.key')}`,
      ...(cluster
        ? ['--enable-admission-plugins=NodeRestriction', '--endpoint-reconciler-type=lease', '--kubelet-preferred-address-types=InternalIP,Hostname']
        : ['--disable-admission-plugins=ServiceAccount', '--endpoint-reconciler-type=none']),
      ...(this.options.apiServerFlags ?? []),
    ]);
    await this.waitReady(90_000);
  }

  /** PIDs of etcd and kube-apiserver while they run (for memory reports). */
  pids(): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.etcd?.pid && this.etcd.exitCode === null) out.etcd = this.etcd.pid;
    if (this.api?.pid && this.api.exitCode === null) out['kube-apiserver'] = this.api.pid;
    return out;
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
        throw new Error(`kube-apiserver exited with ${this.api.exitCode}: ${logTail(join(this.dir, 'apiserver.log'))}`);
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
    throw new Error(`kube-apiserver not ready after ${timeoutMs} ms: ${last}; log: ${logTail(join(this.dir, 'apiserver.log'))}`);
  }

  private writeKubeconfig(): void {
    this.writeKubeconfigFor(this.kubeconfigPath, 'admin', this.token);
  }

  /**
   * Writes a kubeconfig for `user` (admin, or one of options.users) to `path` and returns the
   * path. Throws when the user has no token.
   */
  kubeconfigFor(user: string, path = join(this.dir, `kubeconfig-${user.replace(/[^a-z0-9-]/gi, '_')}`)): string {
    const token = user === 'admin' ? this.token : this.tokens.get(user);
    if (!token) throw new Error(`kubeconfigFor: no token for user ${user} (add it to ControlPlaneOptions.users)`);
    this.writeKubeconfigFor(path, user, token);
    return path;
  }

  private writeKubeconfigFor(path: string, user: string, token: string): void {
    const ca = this.caFile;
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: envtest',
        '  cluster:',
        `    server: ${this.server}`,
        existsSync(ca) ? `    certificate-authority: ${ca}` : '    insecure-skip-tls-verify: true',
        'users:',
        `- name: ${JSON.stringify(user)}`,
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: envtest',
        `  context: {cluster: envtest, user: ${JSON.stringify(user)}, namespace: default}`,
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

/** The last `bytes` of a log file (for error messages: the work dir is removed on failure). */
export function logTail(path: string, bytes = 1500): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.slice(-bytes);
  } catch {
    return `(no log at ${path})`;
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
