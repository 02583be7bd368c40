/**
 * `entropo operator`: runs the controllers against a cluster (kubeconfig from --kubeconfig, KUBECONFIG,
 * ~/.kube/config or the in-cluster service account), with leader election, /metrics, /healthz and
 * /readyz. SIGTERM / SIGINT: graceful shutdown, exit 0 (1 if in-flight reconciles outlived the bound);
 * a lost lease exits 1 so the Pod restarts as a follower.
 */
import { existsSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { logger } from '../../logging/logger.ts';
import { Manager } from '../../runtime/manager.ts';
import { registerControllers } from '../../controllers/index.ts';
import { PVC_MOUNT } from '../../store/fs-store.ts';
import { openStore } from '../../store/open.ts';

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

import { secondsOrZero } from '../args.ts';

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('want a positive integer');
  return n;
};
const bool = (v: string) => {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new InvalidArgumentError('want true or false');
};

interface Flags {
  kubeconfig?: string;
  watchNamespace: string[];
  workers: number;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  readinessRequiresLeadership: boolean;
  syncPeriod: number;
  gracefulShutdownTimeout: number;
  operatorImage?: string;
  sandboxBaseImage?: string;
  storeMount: string;
}

/**
 * The namespaces the controllers watch: --watch-namespace values, else WATCH_NAMESPACE (the
 * operator-sdk convention: comma-separated). Empty or "all" means every namespace ([]).
 */
export function watchNamespaces(flag: string[], env: string | undefined): string[] {
  const list = (flag.length ? flag : (env ?? '').split(',')).map((n) => n.trim()).filter(Boolean);
  return list.includes('all') ? [] : [...new Set(list)];
}

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault(); // KUBECONFIG, ~/.kube/config, else in-cluster
  return kc;
}

function defaultLeaseNamespace(kc: KubeConfig): string {
  if (existsSync(SA_NAMESPACE)) return readFileSync(SA_NAMESPACE, 'utf8').trim();
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return ctx?.namespace || 'default';
}

/**
 * The image this operator Pod runs (its `operator` container, else its first one), read from its
 * own Pod (POD_NAME or HOSTNAME, in the service account's namespace): sandbox set-up containers,
 * trainers and policy servers use the same image unless --operator-image says otherwise.
 * undefined outside a cluster.
 */
async function ownImage(mgr: Manager): Promise<string | undefined> {
  const name = process.env.POD_NAME ?? process.env.HOSTNAME;
  if (!existsSync(SA_NAMESPACE) || !name) return undefined;
  try {
    const ns = readFileSync(SA_NAMESPACE, 'utf8').trim();
    const pod = await mgr.client.request<{ spec: { containers: { name: string; image: string }[] } }>('GET', `/api/v1/namespaces/${ns}/pods/${name}`);
    return (pod.spec.containers.find((c) => c.name === 'operator') ?? pod.spec.containers[0])?.image;
  } catch (e) {
    logger.warn('cannot read the operator image from its own Pod; pass --operator-image', { component: 'operator', error: (e as Error).message });
    return undefined;
  }
}

export function registerOperator(program: Command): void {
  program
    .command('operator')
    .description('Run the EntroPO controllers against a Kubernetes cluster')
    .option('--kubeconfig <path>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option(
      '--watch-namespace <ns>',
      'namespaces to watch, comma-separated or repeated (default: WATCH_NAMESPACE; empty or "all" = every namespace)',
      (v: string, acc: string[]) => [...acc, ...v.split(',')],
      [],
    )
    .option('--workers <n>', 'concurrent reconciles per controller', positiveInt, 4)
    .option('--metrics-bind-address <addr>', 'address of /metrics; "0" disables', ':8080')
    .option('--health-probe-bind-address <addr>', 'address of /healthz and /readyz; "0" disables', ':8081')
    .option('--leader-elect [bool]', 'leader election with a Lease (true|false)', bool, true)
    .option('--no-leader-elect', 'disable leader election')
    .option('--leader-election-namespace <ns>', 'namespace of the Lease (default: own namespace or the kubeconfig context\'s)')
    .option('--leader-election-id <name>', 'name of the Lease', 'entropo-operator.entropo.dev')
    .option('--readiness-requires-leadership [bool]', '/readyz is 200 only on the leader (false: also on a synced standby)', bool, true)
    .option('--sync-period <duration>', 'periodic resync of every object, e.g. 10h or 30m (0 = off)', secondsOrZero, 36_000)
    .option('--graceful-shutdown-timeout <duration>', 'bound on finishing in-flight reconciles at shutdown, e.g. 30s', secondsOrZero, 30)
    .option('--operator-image <image>', 'image of sandbox set-up containers and policy servers (default: ENTROPO_OPERATOR_IMAGE)')
    .option('--store-mount <dir>', 'where the pvc:// artifact store is mounted in the operator Pod', PVC_MOUNT)
    .option('--sandbox-base-image <image>', 'task image of self-contained tasks (default: ENTROPO_SANDBOX_BASE_IMAGE, else the operator image)')
    .action(async (flags: Flags) => {
      const kc = loadKubeConfig(flags.kubeconfig);
      const namespaces = watchNamespaces(flags.watchNamespace, process.env.WATCH_NAMESPACE);
      const mgr = await Manager.create({
        kubeConfig: kc,
        namespaces,
        leaderElection: flags.leaderElect
          ? { namespace: flags.leaderElectionNamespace ?? defaultLeaseNamespace(kc), id: flags.leaderElectionId }
          : false,
        metricsBindAddress: flags.metricsBindAddress,
        healthProbeBindAddress: flags.healthProbeBindAddress,
        readinessRequiresLeadership: flags.readinessRequiresLeadership,
        syncPeriodMs: flags.syncPeriod * 1000,
        gracefulShutdownMs: flags.gracefulShutdownTimeout * 1000,
        log: logger.child({ component: 'operator' }),
      });
      registerControllers(mgr, {
        workers: flags.workers,
        operatorImage: flags.operatorImage ?? process.env.ENTROPO_OPERATOR_IMAGE ?? (await ownImage(mgr)),
        sandboxBaseImage: flags.sandboxBaseImage,
        openStore: (uri, o) => openStore(uri, { ...o, pvcMount: flags.storeMount }),
      });
      const onSignal = (sig: NodeJS.Signals) => {
        logger.info('signal received, shutting down', { component: 'operator', signal: sig });
        void mgr.stop();
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      await mgr.start();
      const reason = await mgr.done;
      const drained = await mgr.stop();
      const code = reason === 'leadership-lost' || !drained ? 1 : 0;
      logger.info('operator exiting', { component: 'operator', reason, drained, code });
      // Leave nothing behind (keep-alive sockets, timers of third-party code): exit explicitly.
      process.exit(code);
    });
}
