/**
 * Runs a command (the end-to-end test files) with one real single-node cluster
 * (test/e2e/cluster.ts): builds the images (operator, task base; cached), starts the cluster
 * with them imported, writes its state to <dir>/state.json and exports
 *   ENTROPO_E2E_CLUSTER   that file (nodeCluster() attaches to it)
 *   ENTROPO_TEST_KUBECONFIG, ENTROPO_TEST_KUBECTL, ENTROPO_TEST_HELM  (as the integration tier)
 * runs the command, stops the cluster and exits with the command's code. Prints the time of each
 * step on stderr.
 *   tsx test/e2e/with-node.ts ava --tap 'test/e2e/**\/*.test.ts'
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeCluster } from './cluster.ts';
import { operatorImage, taskBaseImage } from './images.ts';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: with-node.ts <command> [args...]');
  process.exit(2);
}
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
let t = Date.now();
const operator = operatorImage();
console.error(`[e2e] operator image ${operator.name} (${secs(Date.now() - t)})`);
t = Date.now();
const taskBase = taskBaseImage();
console.error(`[e2e] task base image ${taskBase.name} (${secs(Date.now() - t)})`);
t = Date.now();
const cluster = await NodeCluster.start({ images: { operator, taskBase } });
console.error(
  `[e2e] node cluster at ${cluster.server} in ${secs(Date.now() - t)}: ` +
    Object.entries(cluster.timings)
      .map(([k, v]) => `${k} ${secs(v)}`)
      .join(', '),
);
const mem = (label: string) => {
  const m = cluster.memory();
  const total = Object.values(m).reduce((a, b) => a + b, 0);
  console.error(`[e2e] memory ${label}: ${total} MiB RSS (${Object.entries(m).map(([k, v]) => `${k} ${v}`).join(', ')})`);
};
mem('after start');
let peak = 0;
const sampler = setInterval(() => {
  const total = Object.values(cluster.memory()).reduce((a, b) => a + b, 0);
  peak = Math.max(peak, total);
}, 2000);
const stateFile = join(cluster.dir, 'state.json');
writeFileSync(stateFile, JSON.stringify(cluster.state(), null, 2));
const st = cluster.state();
const child = spawn(cmd, args, {
  stdio: 'inherit',
  env: {
    ...process.env,
    ENTROPO_E2E_CLUSTER: stateFile,
    ENTROPO_TEST_KUBECONFIG: st.kubeconfigPath,
    ENTROPO_TEST_KUBECTL: st.kubectl,
    ...(st.helm ? { ENTROPO_TEST_HELM: st.helm } : {}),
  },
});
let stopping = false;
const forward = (sig: NodeJS.Signals) => {
  if (!stopping) child.kill(sig);
};
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
stopping = true;
clearInterval(sampler);
mem('at the end');
console.error(`[e2e] peak memory of the cluster during the tests: ${peak} MiB RSS (sampled every 2 s)`);
t = Date.now();
await cluster.stop();
console.error(`[e2e] cluster stopped in ${secs(Date.now() - t)}`);
process.exit(code);
