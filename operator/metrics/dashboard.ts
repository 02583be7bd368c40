/**
 * The operator's Grafana dashboard (Grafana 10+ JSON model, schemaVersion 39), built from the
 * metric names of this package: rows for the control plane (reconcile rate, errors, latency,
 * queue depth, leader), rollouts (rate by outcome, failures by reason, duration / steps / tokens
 * quantiles), training (loss, entropy, KL, z0, tokens/s per run and iteration), evaluation
 * (pass@1, best@N, oracle gap per run) and the policy servers (tokens/s, latency), with
 * datasource, job, namespace and run variables.
 *
 * `npm run generate` writes it to charts/entropo-operator/dashboards/entropo-operator.json (the
 * chart's ConfigMap for the Grafana sidecar); `dashboardQueries()` lists every PromQL expression
 * for the tests that run them on a real Prometheus and for the renderer (docs/dashboard.svg).
 */

/** One PromQL target of a panel. `legend` is Grafana's legendFormat ({{label}} placeholders). */
export interface DashboardTarget {
  expr: string;
  legend: string;
}

/** A panel: title, unit (Grafana unit id), kind and its targets. */
export interface DashboardPanel {
  title: string;
  description: string;
  unit: string;
  type: 'timeseries' | 'stat';
  targets: DashboardTarget[];
}

export interface DashboardRow {
  title: string;
  panels: DashboardPanel[];
}

/** The variables' selectors, as the expressions use them. */
const OP = 'job=~"$job"';
const RUN = `${OP},kind="TrainingRun",namespace=~"$namespace",name=~"$run"`;
const PS = 'job=~"$policy_job"';
const RI = '$__rate_interval';

const ts = (title: string, description: string, unit: string, targets: DashboardTarget[]): DashboardPanel => ({ title, description, unit, type: 'timeseries', targets });
const q = (expr: string, legend: string): DashboardTarget => ({ expr, legend });

/** The dashboard's rows and panels (the source of the JSON and of the tests' query list). */
export const DASHBOARD_ROWS: DashboardRow[] = [
  {
    title: 'Control plane',
    panels: [
      ts('Reconciles', 'Reconciles per second by controller and result (controller_runtime_reconcile_total).', 'ops', [
        q(`sum by (controller, result) (rate(controller_runtime_reconcile_total{${OP}}[${RI}]))`, '{{controller}} {{result}}'),
      ]),
      ts('Reconcile errors', 'Reconcile errors per second by controller.', 'ops', [q(`sum by (controller) (rate(controller_runtime_reconcile_errors_total{${OP}}[${RI}]))`, '{{controller}}')]),
      ts('Reconcile latency', 'p50 and p95 of the time one reconcile takes, by controller.', 's', [
        q(`histogram_quantile(0.5, sum by (le, controller) (rate(controller_runtime_reconcile_time_seconds_bucket{${OP}}[${RI}])))`, 'p50 {{controller}}'),
        q(`histogram_quantile(0.95, sum by (le, controller) (rate(controller_runtime_reconcile_time_seconds_bucket{${OP}}[${RI}])))`, 'p95 {{controller}}'),
      ]),
      ts('Work queue depth', 'Objects waiting in each controller\'s work queue.', 'short', [q(`sum by (name) (workqueue_depth{${OP}})`, '{{name}}')]),
      ts('Leader', '1 on the replica that holds the leader election Lease.', 'short', [q(`max by (instance) (leader_election_master_status{${OP}})`, '{{instance}}')]),
    ],
  },
  {
    title: 'Rollouts',
    panels: [
      ts('Rollouts by outcome', 'Finished rollouts per minute: resolved, unresolved, failed (no sample), stopped.', 'short', [
        q(`sum by (outcome) (rate(entropo_rollouts_total{${OP}}[${RI}])) * 60`, '{{outcome}}'),
      ]),
      ts('Sandbox failures by reason', 'Failed sandbox attempts per minute by reason (image pulls, evictions, OOM, deadlines, no sample...).', 'short', [
        q(`sum by (reason) (rate(entropo_sandbox_failures_total{${OP}}[${RI}])) * 60`, '{{reason}}'),
      ]),
      ts('Rollout duration', 'p50 and p95 wall time of a rollout that produced a sample.', 's', [
        q(`histogram_quantile(0.5, sum by (le) (rate(entropo_rollout_duration_seconds_bucket{${OP}}[${RI}])))`, 'p50'),
        q(`histogram_quantile(0.95, sum by (le) (rate(entropo_rollout_duration_seconds_bucket{${OP}}[${RI}])))`, 'p95'),
      ]),
      ts('Rollout steps and tokens', 'Mean assistant turns and total tokens per rollout.', 'short', [
        q(`sum(rate(entropo_rollout_steps_sum{${OP}}[${RI}])) / sum(rate(entropo_rollout_steps_count{${OP}}[${RI}]))`, 'steps'),
        q(`sum(rate(entropo_rollout_tokens_sum{${OP}}[${RI}])) / sum(rate(entropo_rollout_tokens_count{${OP}}[${RI}]))`, 'tokens'),
      ]),
      ts('Resolve rate of rollout batches', 'Resolved / completed rollouts of each RolloutBatch.', 'percentunit', [
        q(`entropo_resolve_rate{${OP},kind="RolloutBatch",namespace=~"$namespace"}`, '{{namespace}}/{{name}}'),
      ]),
    ],
  },
  {
    title: 'Training',
    panels: [
      ts('Iteration', 'Current iteration of each TrainingRun.', 'short', [q(`entropo_iteration{${RUN}}`, '{{name}}')]),
      ts('Loss', 'Training loss at the last step of each iteration\'s update.', 'short', [q(`entropo_run_training_loss{${RUN}}`, '{{name}} it{{iteration}}')]),
      ts('Policy entropy', 'Mean policy token entropy over assistant tokens (nats).', 'short', [q(`entropo_run_training_entropy_nats{${RUN}}`, '{{name}} it{{iteration}}')]),
      ts('KL to reference', 'Mean per-token KL(pi || pi_ref) over assistant tokens (nats).', 'short', [q(`entropo_run_training_kl_nats{${RUN}}`, '{{name}} it{{iteration}}')]),
      ts('KTO reference point z0', 'z0 of EntroPO-KTO at the last step of each update.', 'short', [q(`entropo_run_training_reference_point{${RUN}}`, '{{name}} it{{iteration}}')]),
      ts('Trainer tokens/s', 'Trainer throughput of each iteration\'s update.', 'short', [q(`entropo_run_training_tokens_per_second{${RUN}}`, '{{name}} it{{iteration}}')]),
      ts('Run phase', 'The phase of each TrainingRun (1 = current).', 'short', [q(`entropo_phase{${RUN}} == 1`, '{{name}} {{phase}}')]),
    ],
  },
  {
    title: 'Evaluation',
    panels: [
      ts('pass@1', 'Resolve rate over all samples of the latest evaluation of each run.', 'percentunit', [q(`entropo_pass_at_1{${RUN}}`, '{{name}}')]),
      ts('best@N', 'Resolve rate of the selector\'s picks (hybrid best-trajectory selection).', 'percentunit', [q(`entropo_best_at_n{${RUN}}`, '{{name}}')]),
      ts('Oracle gap', 'pass@N - best@N: what a perfect selector would add.', 'percentunit', [q(`entropo_oracle_gap{${RUN}}`, '{{name}}')]),
    ],
  },
  {
    title: 'Policy servers',
    panels: [
      ts('Generated tokens/s', 'Tokens generated per second by each policy server (last 10 s).', 'short', [
        q(`sum by (instance) (entropo_serving_generation_tokens_per_second{${PS}})`, '{{instance}}'),
      ]),
      ts('Request latency', 'p50 and p95 time from request to response of the chat completions.', 's', [
        q(`histogram_quantile(0.5, sum by (le) (rate(entropo_serving_request_duration_seconds_bucket{${PS}}[${RI}])))`, 'p50'),
        q(`histogram_quantile(0.95, sum by (le) (rate(entropo_serving_request_duration_seconds_bucket{${PS}}[${RI}])))`, 'p95'),
      ]),
      ts('Time to first token', 'p95 of queue + prefill time.', 's', [
        q(`histogram_quantile(0.95, sum by (le) (rate(entropo_serving_time_to_first_token_seconds_bucket{${PS}}[${RI}])))`, 'p95'),
      ]),
    ],
  },
];

/** The template variables: name, label and the label_values() query (Grafana's Prometheus syntax). */
export const DASHBOARD_VARIABLES = [
  { name: 'job', label: 'Operator job', query: 'label_values(controller_runtime_reconcile_total, job)', multi: true },
  { name: 'namespace', label: 'Namespace', query: 'label_values(entropo_phase{job=~"$job"}, namespace)', multi: true },
  { name: 'run', label: 'TrainingRun', query: 'label_values(entropo_phase{job=~"$job",kind="TrainingRun",namespace=~"$namespace"}, name)', multi: true },
  { name: 'policy_job', label: 'Policy server job', query: 'label_values(entropo_serving_model_info, job)', multi: true },
] as const;

/** Every panel target with its row and panel title. */
export function dashboardQueries(): Array<{ row: string; panel: string } & DashboardTarget> {
  return DASHBOARD_ROWS.flatMap((r) => r.panels.flatMap((p) => p.targets.map((t) => ({ row: r.title, panel: p.title, ...t }))));
}

const DS = { type: 'prometheus', uid: '${datasource}' };

/** The Grafana dashboard JSON model (uid entropo-operator). */
export function grafanaDashboard(): Record<string, unknown> {
  const panels: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const row of DASHBOARD_ROWS) {
    panels.push({ type: 'row', title: row.title, id: id++, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    row.panels.forEach((p, i) => {
      const x = (i % 3) * 8;
      if (i > 0 && i % 3 === 0) y += 8;
      panels.push({
        type: p.type,
        title: p.title,
        description: p.description,
        id: id++,
        datasource: DS,
        gridPos: { h: 8, w: 8, x, y },
        fieldConfig: { defaults: { unit: p.unit, custom: { lineWidth: 1, fillOpacity: 10, showPoints: 'never', spanNulls: true } }, overrides: [] },
        options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
        targets: p.targets.map((t, k) => ({ refId: String.fromCharCode(65 + k), datasource: DS, expr: t.expr, legendFormat: t.legend, range: true })),
      });
    });
    y += 8;
  }
  return {
    uid: 'entropo-operator',
    title: 'EntroPO operator',
    description: 'Control plane, rollouts, training, evaluation and policy servers of the EntroPO operator.',
    tags: ['entropo', 'kubernetes-operator'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    timezone: 'browser',
    annotations: { list: [] },
    links: [],
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1 },
        ...DASHBOARD_VARIABLES.map((v) => ({
          name: v.name,
          label: v.label,
          type: 'query',
          datasource: DS,
          query: { query: v.query, refId: `${v.name}-query` },
          definition: v.query,
          refresh: 2,
          multi: v.multi,
          includeAll: true,
          allValue: '.+',
          current: { selected: true, text: ['All'], value: ['$__all'] },
          sort: 1,
          hide: 0,
        })),
      ],
    },
    panels,
  };
}
