/**
 * The operator's Prometheus registry and the controller-runtime / client-go metric families, with
 * the same names and labels so existing dashboards work (docs/architecture.md).
 *
 * One registry per Manager (tests run several in one process); `runtimeMetrics(registry)` returns
 * the families registered on it, creating them on first use. Domain metrics (entropo_*) register
 * on the same registry.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A work queue as seen by the scrape-time gauges. */
export interface QueueGauges {
  depth(): number;
  /** Seconds of work done by in-flight processors, summed (client-go unfinished_work_seconds). */
  unfinishedWorkSeconds(now: number): number;
  /** Seconds the longest in-flight processor has been running. */
  longestRunningProcessorSeconds(now: number): number;
}

export interface RuntimeMetrics {
  registry: Registry;
  reconcileTotal: Counter<'controller' | 'result'>;
  reconcileErrors: Counter<'controller'>;
  terminalReconcileErrors: Counter<'controller'>;
  reconcileTime: Histogram<'controller'>;
  maxConcurrentReconciles: Gauge<'controller'>;
  activeWorkers: Gauge<'controller'>;
  queueAdds: Counter<'name'>;
  queueDuration: Histogram<'name'>;
  workDuration: Histogram<'name'>;
  queueRetries: Counter<'name'>;
  restRequests: Counter<'code' | 'method' | 'host'>;
  leaderStatus: Gauge<'name'>;
  /** Registers a queue for the depth / unfinished / longest-running gauges (read at scrape time). */
  trackQueue(name: string, queue: QueueGauges): void;
  untrackQueue(name: string): void;
}

// controller-runtime's reconcile_time_seconds buckets.
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5,
  4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
// client-go workqueue buckets: 1e-8 .. 1e3 seconds, x10.
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

const cache = new WeakMap<Registry, RuntimeMetrics>();

/** A new registry with the process and Node.js default metrics. */
export function createRegistry(opts: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaults ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

export function runtimeMetrics(registry: Registry): RuntimeMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const queues = new Map<string, QueueGauges>();
  const perQueue = (name: string, help: string, read: (q: QueueGauges, now: number) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['name'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const [n, q] of queues) this.set({ name: n }, read(q, now));
      },
    });
  perQueue('workqueue_depth', 'Current depth of workqueue', (q) => q.depth());
  perQueue(
    'workqueue_unfinished_work_seconds',
    'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration.',
    (q, now) => q.unfinishedWorkSeconds(now),
  );
  perQueue(
    'workqueue_longest_running_processor_seconds',
    'How many seconds has the longest running processor for workqueue been running.',
    (q, now) => q.longestRunningProcessorSeconds(now),
  );
  const m: RuntimeMetrics = {
    registry,
    reconcileTotal: new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    }),
    terminalReconcileErrors: new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    }),
    reconcileTime: new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: RECONCILE_BUCKETS,
      registers,
    }),
    maxConcurrentReconciles: new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers,
    }),
    activeWorkers: new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers,
    }),
    queueAdds: new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'], registers }),
    queueDuration: new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name'],
      buckets: QUEUE_BUCKETS,
      registers,
    }),
    workDuration: new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes.',
      labelNames: ['name'],
      buckets: QUEUE_BUCKETS,
      registers,
    }),
    queueRetries: new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'], registers }),
    restRequests: new Counter({
      name: 'rest_client_requests_total',
      help: 'Number of HTTP requests, partitioned by status code, method, and host.',
      labelNames: ['code', 'method', 'host'],
      registers,
    }),
    leaderStatus: new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. \'name\' is the string used to identify the lease.',
      labelNames: ['name'],
      registers,
    }),
    trackQueue(name, queue) {
      queues.set(name, queue);
    },
    untrackQueue(name) {
      queues.delete(name);
    },
  };
  cache.set(registry, m);
  return m;
}

/** Sums a counter family's samples whose labels match `where` (tests and the benchmark read their own counters). */
export async function sumCounter(registry: Registry, name: string, where: (labels: Record<string, string | number>) => boolean = () => true): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => where(v.labels as Record<string, string | number>)).reduce((s, v) => s + v.value, 0);
}
