/**
 * The real node itself: Pods in real containers (runc), ServiceAccount tokens, cluster DNS and
 * Services, image failures, and the images built from the repository.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { nodeCluster } from './cluster.ts';
import { REPO, operatorImage, parseDockerfile } from './images.ts';

/** Pod manifest with one container; `spec` is merged into the Pod spec. */
export function pod(name: string, image: string, command: string[], spec: Record<string, unknown> = {}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image, command }], ...spec },
  });
}

test('a Pod runs in a real container: its ServiceAccount token, python3, pytest and git of the task image', async (t) => {
  const c = await nodeCluster();
  const ns = await c.namespace('run');
  const t0 = Date.now();
  const r = c.kubectl(
    ['-n', ns, 'apply', '-f', '-'],
    pod('probe', c.images.taskBase, [
      'sh',
      '-c',
      'cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; python3 -c "import pytest, sys; print(sys.version_info[0], pytest.__version__ > \'7\')"; git --version | cut -d" " -f1-2; id -u',
    ]),
  );
  t.is(r.status, 0, r.stderr);
  const p = await c.waitForPodPhase(ns, 'probe', ['Succeeded', 'Failed'], 120_000);
  t.log(`create -> ${p.status?.phase} in ${Date.now() - t0} ms`);
  t.is(p.status?.phase, 'Succeeded');
  t.is(p.status?.containerStatuses?.[0].state?.terminated?.exitCode, 0);
  t.is(await c.podLogs(ns, 'probe'), `${ns}\n3 True\ngit version\n0\n`);
});

test('Service names resolve inside Pods (CoreDNS) and Services route to Pods and to the API server (kube-proxy)', async (t) => {
  const c = await nodeCluster();
  const ns = await c.namespace('dns');
  const server = `require('http').createServer((q, s) => s.end('hello from ' + process.env.HOSTNAME)).listen(8080)`;
  let r = c.kubectl(['-n', ns, 'apply', '-f', '-'], pod('echo', c.images.operator, ['/opt/entropo/bin/node', '-e', server], { restartPolicy: 'Always' }));
  t.is(r.status, 0, r.stderr);
  r = c.kubectl(['-n', ns, 'expose', 'pod', 'echo', '--port=80', '--target-port=8080']);
  t.is(r.status, 0, r.stderr);
  await c.waitForPodPhase(ns, 'echo', ['Running'], 120_000);
  // One client: the Service by its short and full DNS names, and the API server through the
  // `kubernetes` Service with the Pod's own token and CA (TokenRequest + kube-root-ca.crt).
  const client = `
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount/';
    const fs = require('fs'), https = require('https');
    const get = (u) => fetch(u).then((x) => x.text());
    (async () => {
      for (let i = 0; ; i++) {
        try { console.log(await get('http://echo/')); break; } catch (e) { if (i > 20) throw e; await new Promise((r) => setTimeout(r, 500)); }
      }
      console.log(await get('http://echo.${ns}.svc.cluster.local/'));
      const body = await new Promise((ok, no) => https.get('https://kubernetes.default.svc/api/v1/namespaces/${ns}/pods', {
        ca: fs.readFileSync(sa + 'ca.crt'), headers: { authorization: 'Bearer ' + fs.readFileSync(sa + 'token', 'utf8') } },
        (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => ok(res.statusCode + ' ' + (JSON.parse(b).reason || 'ok'))); }).on('error', no));
      console.log(body);
    })().catch((e) => { console.error(e); process.exit(1); });`;
  r = c.kubectl(['-n', ns, 'apply', '-f', '-'], pod('client', c.images.operator, ['/opt/entropo/bin/node', '-e', client]));
  t.is(r.status, 0, r.stderr);
  const p = await c.waitForPodPhase(ns, 'client', ['Succeeded', 'Failed'], 120_000);
  const logs = await c.podLogs(ns, 'client');
  t.is(p.status?.phase, 'Succeeded', logs);
  // The default ServiceAccount is authenticated (TLS verified against the cluster CA) but may not list Pods.
  t.is(logs, 'hello from echo\nhello from echo\n403 Forbidden\n');
});

test('a Pod with a missing image reports ErrImagePull within seconds (nothing is pulled from .local)', async (t) => {
  const c = await nodeCluster();
  const ns = await c.namespace('pull');
  const t0 = Date.now();
  const r = c.kubectl(['-n', ns, 'apply', '-f', '-'], pod('missing', 'entropo.local/does-not-exist:0', ['true']));
  t.is(r.status, 0, r.stderr);
  const p = await c.waitForPod(ns, 'missing', (x) => ['ErrImagePull', 'ImagePullBackOff'].includes(x.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? ''), 30_000);
  const ms = Date.now() - t0;
  t.log(`ErrImagePull after ${ms} ms: ${p.status?.containerStatuses?.[0].state?.waiting?.message?.slice(0, 160)}`);
  t.true(ms < 30_000);
  t.is(p.status?.phase, 'Pending');
});

test('the operator image agrees with the Dockerfile: layout, user, entrypoint; its entrypoint runs as user 65532', async (t) => {
  const c = await nodeCluster();
  const img = operatorImage();
  const stage = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
  t.deepEqual(img.missing, [], 'the Dockerfile COPYs paths that are not in the repository');
  t.deepEqual(img.notMirrored, ['native:/out/node_modules/@tensorflow'], 'only the native backend (0.5 GB) is left out of the e2e image');
  // The archive as containerd sees it: manifest, config, layer listings.
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', img.archive, 'manifest.json'], { encoding: 'utf8' }))[0];
  t.deepEqual(manifest.RepoTags, [img.name]);
  const config = JSON.parse(execFileSync('tar', ['-xOf', img.archive, manifest.Config], { encoding: 'utf8', maxBuffer: 1 << 20 })).config;
  t.deepEqual(config.Entrypoint, stage.entrypoint);
  t.deepEqual(config.Cmd, stage.cmd);
  t.is(config.User, stage.user);
  t.is(config.WorkingDir, stage.workdir);
  for (const [k, v] of Object.entries(stage.env)) t.true(config.Env.includes(`${k}=${v}`), `ENV ${k}`);
  const files = new Set<string>();
  for (const layer of img.layers) {
    for (const f of execFileSync('tar', ['-tf', layer], { encoding: 'utf8', maxBuffer: 256 << 20 }).split('\n')) if (f) files.add('/' + f.replace(/\/$/, ''));
  }
  const expected = [...stage.copies.map((x) => x.dest), ...stage.runPaths, stage.entrypoint![0], '/opt/entropo/app/bin/entropo.js', '/opt/entropo/app/dist/operator/cli/main.js', '/opt/entropo/sandbox/entropo-sandbox.mjs', '/opt/entropo/sandbox/runners/python_runner.py'];
  for (const p of expected) if (!img.missing?.some((m) => p.endsWith(m))) t.true(files.has(p), `${p} (from the Dockerfile) is missing in the image`);
  t.true([...files].some((f) => f.startsWith('/opt/entropo/app/node_modules/@kubernetes/client-node/')));
  t.false([...files].some((f) => f.startsWith('/opt/entropo/app/node_modules/ava/')), 'dev dependencies are not shipped');

  // Run it: the entrypoint (tini -> node entropo.js) and the user.
  const ns = await c.namespace('img');
  let r = c.kubectl(['-n', ns, 'apply', '-f', '-'], stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'help' },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: img.name, args: ['--help'] }] },
  }));
  t.is(r.status, 0, r.stderr);
  r = c.kubectl(['-n', ns, 'apply', '-f', '-'], pod('uid', img.name, ['/opt/entropo/bin/node', '-e', 'console.log(process.getuid(), process.version.split(".")[0])']));
  t.is(r.status, 0, r.stderr);
  const help = await c.waitForPodPhase(ns, 'help', ['Succeeded', 'Failed'], 120_000);
  const helpLogs = await c.podLogs(ns, 'help');
  t.is(help.status?.phase, 'Succeeded', helpLogs);
  t.regex(helpLogs, /Usage: entropo/);
  t.regex(helpLogs, /sandbox/);
  await c.waitForPodPhase(ns, 'uid', ['Succeeded'], 60_000);
  t.is(await c.podLogs(ns, 'uid'), '65532 v24\n');
});
