/**
 * A real single-node Kubernetes cluster for end-to-end tests: etcd + kube-apiserver (token
 * authentication, Node + RBAC authorization, ServiceAccount admission and token signing),
 * kube-controller-manager, kube-scheduler, kubelet, kube-proxy (iptables), CoreDNS, and
 * containerd + runc with a CNI bridge. Every binary is provisioned and cached by
 * test/envtest/provision.sh and test/e2e/provision-node.sh; containerd, runc and the CNI plugins
 * are Debian packages (.ci/apt-packages.txt). Needs root (CI runs as root).
 *
 * Usage (in an ava test file under test/e2e/, run by `npm run test:e2e`):
 *
 *   import { nodeCluster } from './cluster.ts';           // from elsewhere: '../e2e/cluster.ts'
 *   test('a Pod runs', async (t) => {
 *     const c = await nodeCluster();                      // shared cluster of the tier, or a private one
 *     const ns = await c.namespace('demo');               // waits for its default ServiceAccount
 *     c.kubectl(['-n', ns, 'run', 'p', `--image=${c.images.taskBase}`, '--restart=Never', '--', 'echo', 'hi']);
 *     const pod = await c.waitForPodPhase(ns, 'p', ['Succeeded'], 60_000);
 *     t.is(await c.podLogs(ns, 'p'), 'hi\n');
 *   });
 *
 * `npm run test:e2e` (test/e2e/with-node.ts) starts ONE cluster for all test files, builds and
 * imports the images (operator, task base), and passes it to the tests through
 * ENTROPO_E2E_CLUSTER (a JSON file, see NodeClusterState); `nodeCluster()` attaches to it. A test
 * file run alone (`npx tsx test/e2e/with-node.ts ava test/e2e/x.test.ts`) gets the same. Without
 * that variable, `nodeCluster()` starts a private cluster and stops it when the process exits.
 *
 * The cluster:
 *   - kubeconfig (admin, system:masters): `c.kubeconfigPath`; `c.kc` is a loaded KubeConfig;
 *     `c.kubeconfigFor(user, groups)` mints one for any other user (tests of RBAC).
 *   - one node `entropo-node`, Pod CIDR 10.244.0.0/24 on bridge entropo0, Service CIDR
 *     10.0.0.0/24 (`kubernetes` at 10.0.0.1:443), cluster domain cluster.local; Pods resolve
 *     Service names through CoreDNS listening on the host address (the node's clusterDNS).
 *   - images: nothing is ever pulled. `c.importImage(archive)` loads a docker-archive tarball
 *     (`ctr -n k8s.io images import`); names live under `entropo.local/`, so a missing image fails
 *     with ErrImagePull at once. test/e2e/images.ts builds the operator and task base images.
 *   - one cluster at a time per machine: start() takes /tmp/entropo-node.lock (flock) and holds
 *     it until stop() (or the process's death).
 *   - stop() stops only what start() started (by PID): Pods first (through the kubelet, so CNI
 *     tears their network down), then the node components, containerd, its shims, the mounts under
 *     the work directory, network namespaces of its sandboxes, the bridge, kube-proxy's rules
 *     (kube-proxy --cleanup), the control plane. A failure at any step of start() runs stop().
 *
 * Environment: ENTROPO_E2E_KEEP=1 keeps the work directory (logs of every component) after stop.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { homedir, networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { ControlPlane, freePort, logTail, resolveAssets, runTool, type Assets } from '../envtest/controlplane.ts';
import { operatorImage, pauseImage, taskBaseImage } from './images.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const NODE_NAME = 'entropo-node';
export const POD_CIDR = '10.244.0.0/24';
export const SERVICE_CIDR = '10.0.0.0/24';
export const BRIDGE = 'entropo0';
export const NODE_LOCK = '/tmp/entropo-node.lock';
const CNI_BIN = process.env.ENTROPO_CNI_BIN ?? '/usr/lib/cni';
/**
 * containerd's root (content store, unpacked image snapshots, metadata) outlives a cluster, so
 * a warm start imports nothing: one cluster at a time uses it (the node lock), start() removes
 * containers a dead run left behind and images that this run did not ask for.
 */
const CONTAINERD_ROOT = process.env.ENTROPO_CONTAINERD_ROOT ?? join(homedir(), '.cache', 'entropo', 'node', 'containerd-root');

/** The node's binaries (test/e2e/provision-node.sh), each an absolute path. */
export interface NodeAssets {
  dir: string;
  kubelet: string;
  kubeScheduler: string;
  kubeControllerManager: string;
  kubeProxy: string;
  coredns: string;
  kwok: string;
  pause: string;
}

/** Provisions (builds once, then cached) the node's binaries; returns their paths. */
export function provisionNode(): NodeAssets {
  const dir = execFileSync('bash', [join(HERE, 'provision-node.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .pop()!;
  const at = (b: string) => join(dir, b);
  return {
    dir,
    kubelet: at('kubelet'),
    kubeScheduler: at('kube-scheduler'),
    kubeControllerManager: at('kube-controller-manager'),
    kubeProxy: at('kube-proxy'),
    coredns: at('coredns'),
    kwok: at('kwok'),
    pause: at('pause'),
  };
}

/** What a running cluster hands to other processes (ENTROPO_E2E_CLUSTER names this JSON file). */
export interface NodeClusterState {
  dir: string;
  server: string;
  kubeconfigPath: string;
  kubectl: string;
  helm?: string;
  ctr: string;
  containerdAddress: string;
  hostIP: string;
  nodeName: string;
  /** Image names by role, e.g. {operator, taskBase, pause}. */
  images: Record<string, string>;
  /** kwok binary (test/e2e/kwok.ts). */
  kwok: string;
}

export interface NodeClusterOptions {
  /** docker-archive tarballs to import after start, by role: {operator: {name, archive}}. */
  images?: Record<string, { name: string; archive: string }>;
  /** Keep the work directory (component logs) after stop (also ENTROPO_E2E_KEEP=1). */
  keep?: boolean;
}

interface Started {
  name: string;
  child: ChildProcess;
}

function requireTool(path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${what} not found at ${path}: install the Debian packages of .ci/apt-packages.txt (containerd, runc, containernetworking-plugins, iptables)`);
}

function which(bin: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  if (r.status !== 0 || !p) throw new Error(`${bin} not found on PATH: install the Debian packages of .ci/apt-packages.txt (containerd, runc, containernetworking-plugins, iptables)`);
  return p;
}

/** The host's first non-internal IPv4 address: API server, kubelet and CoreDNS listen there. */
export function hostAddress(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('10.244.')) return a.address;
  }
  throw new Error('no non-loopback IPv4 address on this host: the node needs one that Pods can reach');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * True when a process above this one is `flock ... /tmp/entropo-node.lock ...` (someone wrapped the
 * tests in the lock by hand): taking it again from here would wait on our own ancestor forever.
 */
function lockHeldByAncestor(): boolean {
  let pid = process.ppid;
  for (let depth = 0; pid > 1 && depth < 32; depth++) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('flock') && argv.includes(NODE_LOCK)) return true;
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
      pid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()!.trim().split(' ')[1]);
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * Holds /tmp/entropo-node.lock through a `flock` child until release() or this process's death
 * (the child's stdin closes, it exits, the kernel drops the lock).
 */
async function acquireNodeLock(timeoutMs = 30 * 60_000): Promise<() => void> {
  if (lockHeldByAncestor()) {
    console.error(`[e2e] ${NODE_LOCK} is held by an enclosing flock of this process: not taking it again`);
    return () => {};
  }
  const child = spawn('flock', ['-w', String(Math.round(timeoutMs / 1000)), NODE_LOCK, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`could not take ${NODE_LOCK} (flock exited ${code}): another real-node cluster is running on this machine`)));
    child.on('error', reject);
  });
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return () => {
    child.stdin!.end();
  };
}

/** The image name (RepoTags[0]) of a docker-archive tarball, or undefined. */
function imageNameOf(archive: string): string | undefined {
  const r = spawnSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' });
  try {
    return (JSON.parse(r.stdout) as Array<{ RepoTags?: string[] }>)[0]?.RepoTags?.[0];
  } catch {
    return undefined;
  }
}

/** Chains named KUBE-* or CNI-* per table, for iptables and ip6tables ("iptables:nat:KUBE-SERVICES"). */
function kubeChains(): Set<string> {
  const out = new Set<string>();
  for (const bin of ['iptables', 'ip6tables']) {
    const r = spawnSync(`${bin}-save`, [], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    let table = '';
    for (const line of r.stdout.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1);
      const m = /^:((KUBE|CNI)-\S+)/.exec(line);
      if (m) out.add(`${bin}:${table}:${m[1]}`);
    }
  }
  return out;
}

/** Deletes the given chains: first every rule that jumps to them, then the chains themselves. */
function deleteChains(chains: string[]): void {
  const byBin = new Map<string, string[]>();
  for (const c of chains) {
    const [bin] = c.split(':');
    byBin.set(bin, [...(byBin.get(bin) ?? []), c]);
  }
  for (const [bin, list] of byBin) {
    const save = spawnSync(`${bin}-save`, [], { encoding: 'utf8' }).stdout ?? '';
    let table = '';
    for (const line of save.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1);
      const jump = /^-A (\S+) (.*)-j (\S+)/.exec(line);
      if (jump && list.includes(`${bin}:${table}:${jump[3]}`) && !list.includes(`${bin}:${table}:${jump[1]}`)) {
        // A rule of a chain we keep that jumps into one we delete: delete it by its spec.
        spawnSync('sh', ['-c', `${bin} -w -t ${table} ${line.replace(/^-A /, '-D ')}`]);
      }
    }
    for (const c of list) {
      const [, t, name] = c.split(':');
      spawnSync(bin, ['-w', '-t', t, '-F', name]);
    }
    for (const c of list) {
      const [, t, name] = c.split(':');
      spawnSync(bin, ['-w', '-t', t, '-X', name]);
    }
  }
}

/** The kubelet's top-level cgroups (kubepods) under each cgroup v1 controller. */
function kubeCgroups(): string[] {
  const root = '/sys/fs/cgroup';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((c) => join(root, c, 'kubepods'))
    .filter((p) => existsSync(p));
}

/** rmdir of a cgroup directory tree, deepest first (cgroup files vanish with their directory). */
function removeCgroupTree(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
    rmdirSync(dir);
  } catch {
    /* busy or gone: best effort */
  }
}

/** Every mount point under `dir` (deepest first), from /proc/self/mountinfo. */
function mountsUnder(dir: string): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const points = text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(dir + '/'));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export class NodeCluster {
  readonly dir: string;
  readonly hostIP: string;
  readonly nodeName = NODE_NAME;
  cp?: ControlPlane;
  assets?: Assets;
  node?: NodeAssets;
  kc!: k8s.KubeConfig;
  /** Image names by role (pause, plus options.images). */
  readonly images: Record<string, string> = {};
  private started: Started[] = [];
  private releaseLock?: () => void;
  private sysctlsToRestore: Array<[string, string]> = [];
  private netnsSeen = new Set<string>();
  private cgroupsBefore = new Set<string>();
  private chainsBefore?: Set<string>;
  private stopped = false;
  private onExit = () => this.killAllSync();

  private constructor(
    private readonly options: NodeClusterOptions,
    attached?: NodeClusterState,
  ) {
    if (attached) {
      // Another process runs this cluster: the same helpers, stop() does nothing.
      this.dir = attached.dir;
      this.hostIP = attached.hostIP;
      this.stopped = true;
      Object.assign(this.images, attached.images);
      this.assets = { kubectl: attached.kubectl, helm: attached.helm, kubeApiserver: '', etcd: '' };
      this.attachedState = attached;
      this.kc = new k8s.KubeConfig();
      this.kc.loadFromFile(attached.kubeconfigPath);
      return;
    }
    this.dir = mkdtempSync('/tmp/entropo-node-');
    this.hostIP = hostAddress();
  }

  private attachedState?: NodeClusterState;

  /** Wraps the state of a cluster another process runs (ENTROPO_E2E_CLUSTER); stop() does nothing. */
  static attach(state: NodeClusterState): NodeCluster {
    return new NodeCluster({}, state);
  }

  get kubeconfigPath(): string {
    return this.attachedState?.kubeconfigPath ?? this.cp!.kubeconfigPath;
  }
  get server(): string {
    return this.attachedState?.server ?? this.cp!.server;
  }
  get containerdAddress(): string {
    return join(this.dir, 'containerd', 'containerd.sock');
  }

  /** Starts the whole cluster and waits until the node is Ready; on failure leaves nothing running. */
  static async start(options: NodeClusterOptions = {}): Promise<NodeCluster> {
    if (process.getuid?.() !== 0) throw new Error('the real node needs root (kubelet, containerd, CNI): run the e2e tier as root, as CI does');
    // The lock first: a start that waits for another cluster has created nothing yet.
    const release = await acquireNodeLock();
    let c: NodeCluster;
    try {
      c = new NodeCluster(options);
    } catch (e) {
      release();
      throw e;
    }
    c.releaseLock = release;
    try {
      await c.startAll();
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /** Durations of start's steps in ms (for reports). */
  readonly timings: Record<string, number> = {};

  private async timed<T>(step: string, fn: () => Promise<T> | T): Promise<T> {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      this.timings[step] = Date.now() - t0;
    }
  }

  private async startAll(): Promise<void> {
    process.on('exit', this.onExit);
    this.assets = await this.timed('provision control plane', () => resolveAssets());
    this.node = await this.timed('provision node', () => provisionNode());
    const pause = await this.timed('pause image', () => pauseImage(this.node!.pause));
    this.images.pause = pause.name;
    const containerd = which('containerd');
    which('runc');
    const ctr = which('ctr');
    which('iptables');
    for (const p of ['bridge', 'host-local', 'loopback']) requireTool(join(CNI_BIN, p), `CNI plugin ${p}`);

    this.cgroupsBefore = new Set(kubeCgroups());
    this.chainsBefore = kubeChains();
    this.setSysctl('net/ipv4/ip_forward', '1');
    if (existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) this.setSysctl('net/bridge/bridge-nf-call-iptables', '1');

    const pki = this.kubeletClientCert();
    this.cp = new ControlPlane(this.assets, {
      address: this.hostIP,
      apiServerFlags: [`--kubelet-client-certificate=${pki.cert}`, `--kubelet-client-key=${pki.key}`],
      clusterMode: true,
      verbose: true, // the work dir is ours; stop() removes it
      users: [
        { name: `system:node:${NODE_NAME}`, groups: ['system:nodes'] },
        { name: 'system:kube-controller-manager' },
        { name: 'system:kube-scheduler' },
        { name: 'system:kube-proxy' },
        { name: 'system:entropo-coredns' },
      ],
    });
    await this.timed('control plane', () => this.cp!.start());
    this.kc = new k8s.KubeConfig();
    this.kc.loadFromFile(this.cp.kubeconfigPath);
    this.applyCoreDnsRbac();

    await this.timed('containerd', () => this.startContainerd(containerd, pause.name));
    this.removeContainers(); // a previous run that died
    const wanted = new Set([pause.name, ...Object.values(this.options.images ?? {}).map((i) => i.name)]);
    for (const name of this.ctr(['images', 'list', '--quiet']).stdout.split('\n')) {
      if (name.startsWith('entropo.local/') && !wanted.has(name)) this.ctr(['images', 'remove', name]);
    }
    await this.timed('pause import', () => this.importImage(pause.archive, ctr));

    const kcm = this.cp.kubeconfigFor('system:kube-controller-manager');
    this.spawnLogged('kube-controller-manager', this.node.kubeControllerManager, [
      `--kubeconfig=${kcm}`,
      `--authentication-kubeconfig=${kcm}`,
      `--authorization-kubeconfig=${kcm}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      `--cert-dir=${join(this.dir, 'kcm-certs')}`,
      '--leader-elect=false',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${join(this.cp.dir, 'sa.key')}`,
      `--root-ca-file=${this.cp.caFile}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--allocate-node-cidrs=false',
      '--controllers=*,-bootstrapsigner,-tokencleaner,-nodeipam',
    ]);
    const sched = this.cp.kubeconfigFor('system:kube-scheduler');
    this.spawnLogged('kube-scheduler', this.node.kubeScheduler, [
      `--kubeconfig=${sched}`,
      `--authentication-kubeconfig=${sched}`,
      `--authorization-kubeconfig=${sched}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      `--cert-dir=${join(this.dir, 'scheduler-certs')}`,
      '--leader-elect=false',
    ]);
    this.spawnLogged('kube-proxy', this.node.kubeProxy, [
      `--kubeconfig=${this.cp.kubeconfigFor('system:kube-proxy')}`,
      `--hostname-override=${NODE_NAME}`,
      '--proxy-mode=iptables',
      `--cluster-cidr=${POD_CIDR}`,
      '--conntrack-max-per-core=0',
      '--conntrack-tcp-timeout-established=0',
      '--conntrack-tcp-timeout-close-wait=0',
      `--metrics-bind-address=127.0.0.1:${await freePort()}`,
      `--healthz-bind-address=127.0.0.1:${await freePort()}`,
    ]);
    this.startCoreDns();
    await this.timed('kubelet', () => this.startKubelet());
    await this.timed('default ServiceAccount', () => this.waitForServiceAccount('default', 60_000));
    for (const [role, img] of Object.entries(this.options.images ?? {})) {
      await this.timed(`import ${role}`, () => this.importImage(img.archive, ctr));
      this.images[role] = img.name;
    }
  }

  /**
   * A CA and the API server's client certificate for the kubelet (logs, exec): the kubelet
   * authenticates it by x509 and authorizes it through SubjectAccessReview (group system:masters).
   */
  private kubeletClientCert(): { ca: string; cert: string; key: string } {
    const d = join(this.dir, 'pki');
    mkdirSync(d, { recursive: true });
    const f = (n: string) => join(d, n);
    const ssl = (args: string[]) => {
      const r = spawnSync('openssl', args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl ${args[0]} failed (install the openssl package): ${r.stderr || r.error?.message}`);
    };
    ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=entropo-kubelet-client-ca']);
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('apiserver-kubelet-client.key'), '-out', f('client.csr'), '-subj', '/O=system:masters/CN=kube-apiserver-kubelet-client']);
    ssl(['x509', '-req', '-in', f('client.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('apiserver-kubelet-client.crt'), '-days', '2']);
    return { ca: f('ca.crt'), cert: f('apiserver-kubelet-client.crt'), key: f('apiserver-kubelet-client.key') };
  }

  private setSysctl(key: string, value: string): void {
    const path = `/proc/sys/${key}`;
    const old = readFileSync(path, 'utf8').trim();
    if (old === value) return;
    writeFileSync(path, value);
    this.sysctlsToRestore.push([path, old]);
  }

  private applyCoreDnsRbac(): void {
    const yaml = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: 'system:entropo-coredns'}
rules:
- apiGroups: ['']
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: 'system:entropo-coredns'}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: 'system:entropo-coredns'}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: 'system:entropo-coredns'}
`;
    const r = this.kubectl(['apply', '-f', '-'], yaml);
    if (r.status !== 0) throw new Error(`CoreDNS RBAC: ${r.stderr}`);
  }

  private async startContainerd(bin: string, sandboxImage: string): Promise<void> {
    const d = join(this.dir, 'containerd');
    mkdirSync(join(this.dir, 'cni', 'net.d'), { recursive: true });
    mkdirSync(d, { recursive: true });
    writeFileSync(
      join(this.dir, 'cni', 'net.d', '10-entropo.conflist'),
      JSON.stringify(
        {
          cniVersion: '1.0.0',
          name: 'entropo',
          plugins: [
            {
              type: 'bridge',
              bridge: BRIDGE,
              isGateway: true,
              ipMasq: true,
              hairpinMode: true,
              ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(this.dir, 'cni', 'ipam') },
            },
          ],
        },
        null,
        2,
      ),
    );
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    writeFileSync(
      join(d, 'config.toml'),
      `version = 2
root = "${CONTAINERD_ROOT}"
state = "${join(d, 'state')}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "${this.containerdAddress}"
[ttrpc]
  address = "${join(d, 'containerd.ttrpc.sock')}"
[metrics]
  address = ""
[${cri}]
  sandbox_image = "${sandboxImage}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [${cri}.cni]
    bin_dir = "${CNI_BIN}"
    conf_dir = "${join(this.dir, 'cni', 'net.d')}"
`,
    );
    const child = this.spawnLogged('containerd', bin, ['--config', join(d, 'config.toml')]);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`containerd exited with ${child.exitCode}: ${logTail(join(this.dir, 'containerd.log'))}`);
      if (existsSync(this.containerdAddress) && this.ctr(['version']).status === 0) return;
      await sleep(200);
    }
    throw new Error(`containerd not serving after 60 s: ${logTail(join(this.dir, 'containerd.log'))}`);
  }

  private startCoreDns(): void {
    const kubeconfig = this.cp!.kubeconfigFor('system:entropo-coredns');
    const corefile = join(this.dir, 'Corefile');
    writeFileSync(
      corefile,
      `.:53 {
  bind ${this.hostIP}
  errors
  kubernetes cluster.local in-addr.arpa ip6.arpa {
    kubeconfig ${kubeconfig} envtest
    pods insecure
    fallthrough in-addr.arpa ip6.arpa
  }
  forward . /etc/resolv.conf
  cache 5
}
`,
    );
    this.spawnLogged('coredns', this.node!.coredns, ['-conf', corefile]);
  }

  private async startKubelet(): Promise<void> {
    const root = join(this.dir, 'kubelet');
    mkdirSync(root, { recursive: true });
    const config = join(this.dir, 'kubelet.yaml');
    writeFileSync(
      config,
      `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
address: ${this.hostIP}
port: ${await freePort()}
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${join(this.dir, 'pki', 'ca.crt')}}
authorization:
  mode: Webhook
clusterDomain: cluster.local
clusterDNS: [${this.hostIP}]
containerRuntimeEndpoint: unix://${this.containerdAddress}
podLogsDir: ${join(this.dir, 'pod-logs')}
resolvConf: /etc/resolv.conf
rotateCertificates: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
maxPods: 110
`,
    );
    const child = this.spawnLogged('kubelet', this.node!.kubelet, [
      `--config=${config}`,
      `--kubeconfig=${this.cp!.kubeconfigFor(`system:node:${NODE_NAME}`)}`,
      `--root-dir=${root}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${this.hostIP}`,
    ]);
    const deadline = Date.now() + 120_000;
    let last = '';
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`kubelet exited with ${child.exitCode}: ${logTail(join(this.dir, 'kubelet.log'))}`);
      const r = this.kubectl(['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
      last = r.stdout || r.stderr;
      if (r.status === 0 && r.stdout === 'True') return;
      await sleep(500);
    }
    throw new Error(`node ${NODE_NAME} not Ready after 120 s (${last}): ${logTail(join(this.dir, 'kubelet.log'))}`);
  }

  private spawnLogged(name: string, bin: string, args: string[]): ChildProcess {
    const log = createWriteStream(join(this.dir, `${name}.log`), { flags: 'a' });
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    child.on('error', (e) => log.write(`spawn error: ${e.message}\n`));
    this.started.push({ name, child });
    return child;
  }

  /** Runs the real kubectl as admin. */
  kubectl(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
    return runTool(this.assets!.kubectl, ['--kubeconfig', this.kubeconfigPath, ...args], input);
  }

  /** Runs ctr against this cluster's containerd (namespace k8s.io). */
  ctr(args: string[], bin = 'ctr'): { status: number; stdout: string; stderr: string } {
    return runTool(bin, ['--address', this.containerdAddress, '--namespace', 'k8s.io', ...args]);
  }

  /** A kubeconfig for `user` in `groups` (a fresh static token is not possible after start, so
   * this impersonates: admin credentials with `as`/`as-groups`). */
  kubeconfigFor(user: string, groups: string[] = []): string {
    const path = join(this.dir, `kubeconfig-as-${randomBytes(4).toString('hex')}`);
    const base = readFileSync(this.kubeconfigPath, 'utf8');
    const asLines = [`    as: ${JSON.stringify(user)}`, ...(groups.length ? ['    as-groups:', ...groups.map((g) => `    - ${JSON.stringify(g)}`)] : [])];
    writeFileSync(path, base.replace(/( {4}token: .*\n)/, `$1${asLines.join('\n')}\n`));
    return path;
  }

  /** Imports a docker-archive tarball into containerd's k8s.io namespace (unpacked for overlayfs). */
  async importImage(archive: string, ctr = 'ctr'): Promise<void> {
    const name = imageNameOf(archive);
    if (name && this.ctr(['images', 'list', '--quiet'], ctr).stdout.split('\n').includes(name)) return; // names carry content keys
    const r = this.ctr(['images', 'import', '--snapshotter', 'overlayfs', archive], ctr);
    if (r.status !== 0) throw new Error(`ctr images import ${archive} failed: ${r.stderr || r.stdout}`);
  }

  /** Creates a namespace and waits until its default ServiceAccount exists (Pods need it). */
  async namespace(prefix = 'e2e'): Promise<string> {
    const name = `${prefix}-${randomBytes(4).toString('hex')}`;
    await this.kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name } } });
    await this.waitForServiceAccount(name, 30_000);
    return name;
  }

  private async waitForServiceAccount(namespace: string, timeoutMs: number): Promise<void> {
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await core.readNamespacedServiceAccount({ namespace, name: 'default' });
        return;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`ServiceAccount ${namespace}/default not created within ${timeoutMs} ms (controller-manager): ${(e as Error).message}`);
      }
      await sleep(200);
    }
  }

  /**
   * Polls Pod `namespace/name` until `done(pod)` holds; returns the Pod. Throws after timeoutMs
   * with the Pod's last status (phase, container states) in the message.
   */
  async waitForPod(namespace: string, name: string, done: (pod: k8s.V1Pod) => boolean, timeoutMs = 60_000): Promise<k8s.V1Pod> {
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const deadline = Date.now() + timeoutMs;
    let last: k8s.V1Pod | undefined;
    let error = '';
    for (;;) {
      try {
        last = await core.readNamespacedPod({ namespace, name });
        if (done(last)) return last;
      } catch (e) {
        error = (e as Error).message;
      }
      if (Date.now() > deadline) {
        throw new Error(`Pod ${namespace}/${name}: condition not met within ${timeoutMs} ms; last status ${JSON.stringify(last?.status ?? error).slice(0, 3000)}`);
      }
      await sleep(250);
    }
  }

  /** Waits until the Pod's phase is one of `phases` (e.g. ['Succeeded', 'Failed']). */
  waitForPodPhase(namespace: string, name: string, phases: string[], timeoutMs = 60_000): Promise<k8s.V1Pod> {
    return this.waitForPod(namespace, name, (p) => phases.includes(p.status?.phase ?? ''), timeoutMs);
  }

  /** Waits until the Pod's Ready condition is True. */
  waitForPodReady(namespace: string, name: string, timeoutMs = 60_000): Promise<k8s.V1Pod> {
    return this.waitForPod(namespace, name, (p) => !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), timeoutMs);
  }

  /** The logs of a Pod's container (through the API server and the kubelet). */
  async podLogs(namespace: string, name: string, container?: string): Promise<string> {
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    return core.readNamespacedPodLog({ namespace, name, container });
  }

  /** The state other processes attach to (written by with-node.ts). */
  state(): NodeClusterState {
    if (this.attachedState) return this.attachedState;
    return {
      dir: this.dir,
      server: this.server,
      kubeconfigPath: this.kubeconfigPath,
      kubectl: this.assets!.kubectl,
      helm: this.assets!.helm,
      ctr: 'ctr',
      containerdAddress: this.containerdAddress,
      hostIP: this.hostIP,
      nodeName: this.nodeName,
      images: { ...this.images },
      kwok: this.node!.kwok,
    };
  }

  /** Stops everything start() started, in dependency order; safe to call twice or after a failed start. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const byName = (n: string) => this.started.filter((s) => s.name === n).map((s) => s.child);
    const stopNamed = async (...names: string[]) => {
      for (const n of names) for (const child of byName(n)) await stopProcess(child);
    };
    // 1. No more Pods created: controllers and scheduler first.
    await stopNamed('kube-controller-manager', 'kube-scheduler');
    // 2. Pods go through the kubelet, so containerd stops their sandboxes and CNI removes their network.
    const kubelet = byName('kubelet')[0];
    if (kubelet && kubelet.exitCode === null && this.cp) {
      this.kubectl(['delete', 'pods', '--all', '--all-namespaces', '--force', '--grace-period=0', '--wait=false']);
      const deadline = Date.now() + 45_000;
      while (Date.now() < deadline && this.runningTasks().length > 0) await sleep(500);
    }
    await stopNamed('kubelet', 'coredns', 'kube-proxy');
    if (this.node && this.cp && existsSync(this.node.kubeProxy)) {
      runTool(this.node.kubeProxy, ['--cleanup', '--proxy-mode=iptables']);
    }
    // 3. Whatever containers remain (a kubelet that died): kill their tasks, remember their netns.
    if (existsSync(this.containerdAddress)) this.removeContainers();
    await stopNamed('containerd');
    // 4. Shims outlive containerd: kill ours, found by the pid files in our state directory.
    for (const pid of this.shimPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    // 5. Mounts under our directory, our sandboxes' network namespaces, the bridge.
    for (const m of mountsUnder(this.dir)) spawnSync('umount', ['-l', m]);
    for (const ns of this.netnsSeen) {
      spawnSync('umount', ['-l', ns]);
      spawnSync('rm', ['-f', ns]);
    }
    if (existsSync(`/sys/class/net/${BRIDGE}`)) spawnSync('ip', ['link', 'delete', BRIDGE]);
    // The kubelet's cgroups (cgroupfs driver), when this start created them: empty by now.
    for (const cg of kubeCgroups()) if (!this.cgroupsBefore.has(cg)) removeCgroupTree(cg);
    // 6. Anything else we spawned, then the control plane.
    for (const s of this.started) await stopProcess(s.child);
    if (this.chainsBefore) deleteChains([...kubeChains()].filter((c) => !this.chainsBefore!.has(c)));
    await this.cp?.stop();
    for (const [path, old] of this.sysctlsToRestore.reverse()) {
      try {
        writeFileSync(path, old);
      } catch {
        /* best effort */
      }
    }
    process.removeListener('exit', this.onExit);
    if (!(this.options.keep || process.env.ENTROPO_E2E_KEEP === '1')) {
      spawnSync('rm', ['-rf', '--one-file-system', this.dir]);
      if (this.cp) spawnSync('rm', ['-rf', '--one-file-system', this.cp.dir]);
    }
    this.releaseLock?.();
  }

  /** Kills and deletes every container of the k8s.io namespace, remembering their network namespaces. */
  private removeContainers(): void {
    for (const id of this.ctr(['containers', 'list', '--quiet']).stdout.split('\n').filter(Boolean)) {
      try {
        const info = JSON.parse(this.ctr(['containers', 'info', id]).stdout) as { Spec?: { linux?: { namespaces?: Array<{ type: string; path?: string }> } } };
        for (const ns of info.Spec?.linux?.namespaces ?? []) if (ns.type === 'network' && ns.path) this.netnsSeen.add(ns.path);
      } catch {
        /* no info: nothing to remember */
      }
      this.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
      this.ctr(['tasks', 'delete', '--force', id]);
      this.ctr(['containers', 'delete', id]);
    }
  }

  /** Ids of containerd tasks still running (containers of Pods). */
  private runningTasks(): string[] {
    const r = this.ctr(['tasks', 'list', '--quiet']);
    return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [];
  }

  /**
   * PIDs of the containerd shims of THIS cluster: containerd 1.6 writes no shim pid file, so they
   * are found by their command line, which names our containerd socket (unique to the work dir).
   */
  private shimPids(): number[] {
    const pids: number[] = [];
    const address = this.containerdAddress;
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
        if (args[0].endsWith('containerd-shim-runc-v2') && args[args.indexOf('-address') + 1] === address) pids.push(Number(e));
      } catch {
        /* exited meanwhile */
      }
    }
    return pids;
  }

  /** Last resort at process exit (no async work possible): SIGKILL every process we started. */
  private killAllSync(): void {
    if (this.stopped) return;
    for (const s of this.started) if (s.child.exitCode === null && s.child.pid) {
      try {
        process.kill(s.child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const pid of this.shimPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /**
   * Resident memory (MiB) of every process this cluster runs: control plane, node components,
   * containerd, and the containerd shims with everything in their containers.
   */
  memory(): Record<string, number> {
    const rss = (pid: number): number => {
      try {
        const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        return m ? Number(m[1]) / 1024 : 0;
      } catch {
        return 0;
      }
    };
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.cp?.pids() ?? {})) out[name] = rss(pid);
    for (const s of this.started) if (s.child.pid && s.child.exitCode === null) out[s.name] = (out[s.name] ?? 0) + rss(s.child.pid);
    // Shims and their descendants (the Pods' processes).
    const children = new Map<number, number[]>();
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${e}/status`, 'utf8'))?.[1]);
        children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
      } catch {
        /* gone */
      }
    }
    const tree = (pid: number): number => rss(pid) + (children.get(pid) ?? []).reduce((a, c) => a + tree(c), 0);
    out['pods (shims + containers)'] = this.shimPids().reduce((a, p) => a + tree(p), 0);
    for (const k of Object.keys(out)) out[k] = Math.round(out[k]);
    return out;
  }

  /** Logs of a component (kubelet, containerd, apiserver, ...), last `bytes`. */
  componentLog(name: string, bytes = 4000): string {
    const dir = name === 'apiserver' || name === 'etcd' ? this.cp!.dir : this.dir;
    return logTail(join(dir, `${name}.log`), bytes);
  }
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(timer);
}

let shared: Promise<ClusterHandle> | undefined;

/** What tests use: a started or attached cluster. */
export type ClusterHandle = Pick<
  NodeCluster,
  | 'kc'
  | 'kubeconfigPath'
  | 'server'
  | 'hostIP'
  | 'nodeName'
  | 'images'
  | 'kubectl'
  | 'ctr'
  | 'kubeconfigFor'
  | 'importImage'
  | 'namespace'
  | 'waitForPod'
  | 'waitForPodPhase'
  | 'waitForPodReady'
  | 'podLogs'
  | 'state'
  | 'stop'
>;

/**
 * The tier's cluster: attaches to the one named by ENTROPO_E2E_CLUSTER (npm run test:e2e), else
 * starts a private one with the images of `options` (default: the operator and task base images,
 * as `images.operator` and `images.taskBase`), stopped when this process exits.
 */
export function nodeCluster(options: NodeClusterOptions = {}): Promise<ClusterHandle> {
  shared ??= (async () => {
    const file = process.env.ENTROPO_E2E_CLUSTER;
    if (file) return NodeCluster.attach(JSON.parse(readFileSync(file, 'utf8')) as NodeClusterState);
    const c = await NodeCluster.start({ ...options, images: options.images ?? { operator: operatorImage(), taskBase: taskBaseImage() } });
    process.once('beforeExit', () => void c.stop());
    return c;
  })();
  return shared;
}
