/**
 * Runs a command (the integration test suite) with one shared real control plane:
 * provisions the binaries (cached), starts etcd + kube-apiserver, installs the CRDs, exports
 *   ENTROPO_TEST_KUBECONFIG, ENTROPO_TEST_KUBECTL, ENTROPO_TEST_HELM, TEST_ASSET_* (for tests that
 *   start a private control plane, e.g. to restart it),
 * runs the command, stops everything and exits with the command's code.
 *   tsx test/envtest/with-control-plane.ts ava --tap 'test/integration/**\/*.test.ts'
 */
import { spawn } from 'node:child_process';
import { ControlPlane, resolveAssets } from './controlplane.ts';
import { installCrds } from './crds.ts';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: with-control-plane.ts <command> [args...]');
  process.exit(2);
}

const t0 = Date.now();
const assets = resolveAssets();
const t1 = Date.now();
const cp = await new ControlPlane(assets).start();
try {
  installCrds(cp);
} catch (e) {
  await cp.stop(); // a failed CRD install leaves nothing running
  throw e;
}
console.error(`[envtest] control plane at ${cp.server} (provision ${t1 - t0} ms, start + CRDs ${Date.now() - t1} ms)`);

const child = spawn(cmd, args, {
  stdio: 'inherit',
  env: {
    ...process.env,
    ENTROPO_TEST_KUBECONFIG: cp.kubeconfigPath,
    ENTROPO_TEST_KUBECTL: assets.kubectl,
    ...(assets.helm ? { ENTROPO_TEST_HELM: assets.helm, TEST_ASSET_HELM: assets.helm } : {}),
    TEST_ASSET_KUBE_APISERVER: assets.kubeApiserver,
    TEST_ASSET_ETCD: assets.etcd,
    TEST_ASSET_KUBECTL: assets.kubectl,
  },
});
const forward = (sig: NodeJS.Signals) => child.kill(sig);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await cp.stop();
process.exit(code);
