/**
 * The Helm chart charts/entropo-operator with the real helm binary (test/envtest/provision.sh):
 * lint and template with the default and the full values, the schema rejecting wrong values with
 * the field named, the optional Prometheus Operator objects only when enabled, and the generated
 * files (chart CRDs, dashboard, chart README, manifests/install) in sync with their sources.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CHART, ROOT, helmBinary, renderChartFiles } from '../../../charts/generate.ts';
import { renderCrds } from '../../../operator/api/generate.ts';
import { grafanaDashboard } from '../../../operator/metrics/dashboard.ts';

const HELM = helmBinary();
const FULL = join(ROOT, 'test', 'fixtures', 'chart', 'full-values.yaml');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

function helm(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(HELM, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function template(args: string[] = []): K8sObject[] {
  const r = helm(['template', 'entropo-operator', CHART, '--namespace', 'entropo-system', ...args]);
  if (r.status !== 0) throw new Error(`helm template ${args.join(' ')}: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJSON() as K8sObject | null)
    .filter((d): d is K8sObject => !!d);
}

const byKind = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
type Deployment = K8sObject & {
  spec: {
    replicas: number;
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: {
        containers: Array<{ image: string; imagePullPolicy: string; args: string[]; env?: Array<{ name: string }>; readinessProbe: { periodSeconds: number }; resources: unknown }>;
        imagePullSecrets?: unknown;
        nodeSelector?: unknown;
        tolerations?: unknown;
        affinity?: unknown;
        priorityClassName?: string;
        serviceAccountName: string;
      };
    };
  };
};

test('helm lint passes with the default and with the full values', (t) => {
  for (const args of [[], ['-f', FULL]]) {
    const r = helm(['lint', CHART, '--strict', ...args]);
    t.is(r.status, 0, `helm lint ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    t.regex(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

test('the default values: operator objects, cluster-wide RBAC, the dashboard ConfigMap, no Prometheus Operator objects', (t) => {
  const objs = template();
  t.deepEqual([...new Set(objs.map((o) => o.kind))].sort(), ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
  t.false(objs.some((o) => o.apiVersion.startsWith('monitoring.coreos.com/')), 'a cluster without the Prometheus Operator CRDs installs the defaults');
  const [d] = byKind(objs, 'Deployment') as Deployment[];
  t.is(d.metadata.name, 'entropo-operator');
  t.is(d.spec.replicas, 2);
  const c = d.spec.template.spec.containers[0];
  t.is(c.image, 'entropo-operator:0.1.0');
  t.is(c.imagePullPolicy, 'IfNotPresent');
  t.deepEqual(c.args, [
    'operator',
    '--leader-elect=true',
    '--leader-election-namespace=entropo-system',
    '--leader-election-id=entropo-operator.entropo.dev',
    '--metrics-bind-address=:8080',
    '--health-probe-bind-address=:8081',
    '--readiness-requires-leadership=false',
    '--workers=4',
  ]);
  t.is(d.spec.template.spec.serviceAccountName, 'entropo-operator');
  const [cr] = byKind(objs, 'ClusterRole') as Array<K8sObject & { rules: Array<{ resources: string[]; verbs: string[] }> }>;
  const secrets = cr.rules.find((r) => r.resources.includes('secrets'))!;
  t.deepEqual(secrets.verbs, ['get'], 'Secrets: get by name only, never list or watch');
  t.false(cr.rules.some((r) => r.resources.includes('*') || r.verbs.includes('*')), 'no wildcards');
  const [svc] = byKind(objs, 'Service');
  t.is(svc.metadata.name, 'entropo-operator-metrics');
  const [cm] = byKind(objs, 'ConfigMap') as Array<K8sObject & { data: Record<string, string> }>;
  t.is(cm.metadata.labels?.grafana_dashboard, '1');
  t.deepEqual(JSON.parse(cm.data['entropo-operator.json']), grafanaDashboard());
});

test('the full values: every option lands in the objects; namespaced RBAC with nothing cluster-wide', (t) => {
  const objs = template(['-f', FULL]);
  t.deepEqual(byKind(objs, 'ClusterRole'), [], 'no ClusterRole when watchNamespaces is set');
  t.deepEqual(byKind(objs, 'ClusterRoleBinding'), []);
  const roles = byKind(objs, 'Role').map((r) => `${r.metadata.namespace}/${r.metadata.name}`).sort();
  t.deepEqual(roles, ['entropo-system/entropo-leader-election', 'ml-team-a/entropo', 'ml-team-b/entropo']);
  const bindings = byKind(objs, 'RoleBinding') as Array<K8sObject & { subjects: Array<{ name: string; namespace: string }> }>;
  t.true(bindings.every((b) => b.subjects[0].name === 'entropo-sa' && b.subjects[0].namespace === 'entropo-system'));
  const [d] = byKind(objs, 'Deployment') as Deployment[];
  const spec = d.spec.template.spec;
  const c = spec.containers[0];
  t.is(d.spec.replicas, 3);
  t.is(c.image, 'registry.example.com/ml/entropo-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'the digest wins over the tag');
  t.is(c.imagePullPolicy, 'Always');
  for (const a of ['--leader-election-id=entropo-lease', '--metrics-bind-address=:9090', '--health-probe-bind-address=:9091', '--readiness-requires-leadership=true', '--workers=8', '--watch-namespace=ml-team-a,ml-team-b', '--sandbox-base-image=registry.example.com/ml/task-base:1', '--sync-period=30m']) {
    t.true(c.args.includes(a), `${a} in ${c.args.join(' ')}`);
  }
  t.deepEqual(c.env, [{ name: 'ENTROPO_LOG_LEVEL', value: 'debug' }]);
  t.is(c.readinessProbe.periodSeconds, 3);
  t.deepEqual(c.resources, { requests: { cpu: '200m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } });
  t.deepEqual(spec.imagePullSecrets, [{ name: 'regcred' }]);
  t.deepEqual(spec.nodeSelector, { 'kubernetes.io/os': 'linux' });
  t.is((spec.tolerations as unknown[]).length, 1);
  t.truthy(spec.affinity);
  t.is(spec.priorityClassName, 'system-cluster-critical');
  t.is(d.spec.template.metadata.labels.team, 'ml');
  t.is(d.spec.template.metadata.annotations?.['example.com/owner'], 'ml-platform');
  t.is(byKind(objs, 'ServiceAccount')[0].metadata.annotations?.['iam.example.com/role'], 'trainer');
  // the pvc:// artifact store's claim, where --store-mount expects it
  t.deepEqual((c as unknown as { volumeMounts: unknown[] }).volumeMounts, [{ name: 'artifacts', mountPath: '/artifacts' }]);
  t.deepEqual((spec as unknown as { volumes: unknown[] }).volumes, [{ name: 'artifacts', persistentVolumeClaim: { claimName: 'entropo-artifacts' } }]);

  const [sm] = byKind(objs, 'ServiceMonitor') as Array<K8sObject & { spec: { endpoints: Array<{ port: string; interval: string }> } }>;
  t.is(sm.metadata.labels?.release, 'kube-prometheus-stack');
  t.deepEqual(sm.spec.endpoints.map((e) => [e.port, e.interval]), [['metrics', '15s']]);
  const [pm] = byKind(objs, 'PodMonitor') as Array<K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] } } }>;
  t.is(pm.spec.selector.matchLabels['entropo.dev/role'], 'PolicyServer');
  t.deepEqual(pm.spec.namespaceSelector.matchNames, ['ml-team-a', 'ml-team-b']);
  const [pr] = byKind(objs, 'PrometheusRule') as Array<K8sObject & { spec: { groups: Array<{ rules: Array<{ alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }> }> } }>;
  const rules = pr.spec.groups[0].rules;
  t.deepEqual(rules.map((r) => r.alert), [
    'EntroPOOperatorDown',
    'EntroPOOperatorNoLeader',
    'EntroPOReconcileErrorsHigh',
    'EntroPOSandboxFailuresHigh',
    'EntroPOImagePullFailures',
    'EntroPORunStalled',
    'EntroPOPolicyServerDown',
  ]);
  for (const r of rules) {
    t.is(r.labels.team, 'ml-platform');
    t.true(r.annotations.runbook_url.startsWith('https://runbooks.example.com/entropo#'), r.annotations.runbook_url);
    t.truthy(r.annotations.summary && r.annotations.description);
  }
  t.regex(rules[0].expr, /job="entropo-operator"/);
  t.is(rules[0].for, '10m');
  t.regex(rules[5].expr, /> 3600/);
  t.regex(rules[6].expr, /up\{job="policy-servers"\} == 0/);
  const [cm] = byKind(objs, 'ConfigMap');
  t.is(cm.metadata.namespace, 'monitoring');
  t.is(cm.metadata.labels?.my_dashboards, 'yes');
  t.is(cm.metadata.annotations?.grafana_folder, 'EntroPO');
});

test('a wrong value fails with the field named', (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--set', 'replicaCount=two'], /at '\/replicaCount': got string, want integer/],
    [['--set', 'image.pullPolicy=Sometimes'], /at '\/image\/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'/],
    [['--set', 'replicas=3'], /additional properties 'replicas' not allowed/],
    [['--set', 'watchNamespaces={Team_A}'], /at '\/watchNamespaces\/0': 'Team_A' does not match pattern/],
    [['--set', 'prometheusRule.reconcileErrorRatio=2'], /at '\/prometheusRule\/reconcileErrorRatio'/],
    [['--set', 'serviceMonitor.interval=often'], /at '\/serviceMonitor\/interval'/],
    [['--set', 'image.digest=latest'], /at '\/image\/digest'/],
  ];
  for (const [args, re] of cases) {
    const r = helm(['template', 'entropo-operator', CHART, ...args]);
    t.not(r.status, 0, `${args.join(' ')} was accepted`);
    t.regex(r.stderr, re, args.join(' '));
  }
});

test('generated files are in sync: chart CRDs = crds/, dashboard, chart README, manifests/install = helm template', (t) => {
  for (const [name, text] of renderChartFiles({ helm: HELM })) {
    t.is(readFileSync(join(ROOT, name), 'utf8'), text, `${name} differs from its sources: run npm run generate`);
  }
  t.is(renderCrds().size, 3);
  for (const name of renderCrds().keys()) t.is(readFileSync(join(CHART, 'crds', name), 'utf8'), readFileSync(join(ROOT, 'crds', name), 'utf8'), name);
  const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
  for (const key of ['replicaCount', 'image.digest', 'watchNamespaces', 'prometheusRule.noProgressSeconds', 'dashboard.label']) t.regex(readme, new RegExp(`^\\| ${key.replace('.', '\\.')} \\|`, 'm'));
});
