import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveAssets } from '../../envtest/controlplane.ts';

function fakeAssetDir(): string {
  // Executables with the right names: provisioning must hand the directory back untouched.
  const dir = mkdtempSync(join(tmpdir(), 'kb-assets-'));
  for (const b of ['kube-apiserver', 'etcd', 'kubectl']) {
    writeFileSync(join(dir, b), '#!/bin/sh\n');
    chmodSync(join(dir, b), 0o755);
  }
  return dir;
}

test('provision.sh uses KUBEBUILDER_ASSETS when it holds kube-apiserver and etcd', (t) => {
  const dir = fakeAssetDir();
  const r = spawnSync('bash', ['test/envtest/provision.sh'], {
    encoding: 'utf8',
    env: { ...process.env, KUBEBUILDER_ASSETS: dir, ENTROPO_ASSETS_CACHE: join(dir, 'no-cache') },
  });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), dir);
  t.regex(r.stderr, /using KUBEBUILDER_ASSETS/);
});

test('TEST_ASSET_* variables take precedence over provisioning', (t) => {
  const saved = { ...process.env };
  try {
    process.env.TEST_ASSET_KUBE_APISERVER = '/opt/k/kube-apiserver';
    process.env.TEST_ASSET_ETCD = '/opt/k/etcd';
    process.env.TEST_ASSET_KUBECTL = '/opt/k/kubectl';
    const a = resolveAssets();
    t.deepEqual([a.kubeApiserver, a.etcd, a.kubectl], ['/opt/k/kube-apiserver', '/opt/k/etcd', '/opt/k/kubectl']);
  } finally {
    process.env = saved;
  }
});
