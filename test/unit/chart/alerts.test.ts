/**
 * The chart's alerts (templates/prometheusrule.yaml) with the real promtool (Debian package
 * prometheus, .ci/apt-packages.txt): the rendered rules pass `promtool check rules`, and the unit
 * tests of test/fixtures/alerts/alerts.test.yaml fire and then resolve every alert on synthetic
 * series (`promtool test rules`). Every alert has a runbook section in docs/alerts.md.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT, helmTemplate } from '../../../charts/generate.ts';

const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

interface Rule {
  alert: string;
  expr: string;
  annotations: Record<string, string>;
}

function renderRules(): { groups: Array<{ name: string; rules: Rule[] }> } {
  const pr = parse(helmTemplate(['--set', 'prometheusRule.enabled=true', '--show-only', 'templates/prometheusrule.yaml'])) as { spec: { groups: Array<{ name: string; rules: Rule[] }> } };
  return { groups: pr.spec.groups };
}

function promtool(args: string[]): { status: number; out: string } {
  const r = spawnSync(PROMTOOL, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${PROMTOOL}: ${r.error.message} (install the Debian package prometheus: .ci/apt-packages.txt)`);
  return { status: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

test('the rendered alert rules pass promtool check rules, and each alert fires and resolves in promtool test rules', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'entropo-alerts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rules = renderRules();
  writeFileSync(join(dir, 'rules.yaml'), stringify(rules));
  copyFileSync(join(ROOT, 'test', 'fixtures', 'alerts', 'alerts.test.yaml'), join(dir, 'alerts.test.yaml'));
  const check = promtool(['check', 'rules', join(dir, 'rules.yaml')]);
  t.is(check.status, 0, check.out);
  t.regex(check.out, /SUCCESS: 7 rules found/);
  const unit = promtool(['test', 'rules', join(dir, 'alerts.test.yaml')]);
  t.is(unit.status, 0, unit.out);
  t.regex(unit.out, /SUCCESS/);

  // every alert is tested firing (exp_alerts non-empty) and resolved (empty at a later time)
  const tests = parse(readFileSync(join(dir, 'alerts.test.yaml'), 'utf8')) as { tests: Array<{ alert_rule_test: Array<{ eval_time: string; alertname: string; exp_alerts: unknown[] }> }> };
  const minutes = (s: string) => Number(/^(\d+)m$/.exec(s)![1]);
  for (const { alert } of rules.groups[0].rules) {
    const cases = tests.tests.flatMap((x) => x.alert_rule_test).filter((c) => c.alertname === alert);
    const fired = cases.filter((c) => c.exp_alerts.length > 0).map((c) => minutes(c.eval_time));
    const quiet = cases.filter((c) => c.exp_alerts.length === 0).map((c) => minutes(c.eval_time));
    t.true(fired.length > 0, `${alert} is tested firing`);
    t.true(quiet.some((q) => q > Math.min(...fired)), `${alert} is tested resolving`);
  }
});

test('every alert has a runbook in docs/alerts.md at the anchor of its runbook_url', (t) => {
  const doc = readFileSync(join(ROOT, 'docs', 'alerts.md'), 'utf8');
  for (const { alert, annotations } of renderRules().groups[0].rules) {
    t.true(annotations.runbook_url.endsWith(`#${alert.toLowerCase()}`), annotations.runbook_url);
    const section = new RegExp(`^## ${alert}\\n([\\s\\S]*?)(?=^## |$(?![\\s\\S]))`, 'm').exec(doc);
    t.truthy(section, `docs/alerts.md has "## ${alert}"`);
    for (const part of ['Meaning', 'Check', 'Fix']) t.regex(section![1], new RegExp(`\\*\\*${part}\\*\\*`), `${alert}: ${part}`);
  }
});
