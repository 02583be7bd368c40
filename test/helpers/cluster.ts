/**
 * A real Kubernetes API server for integration tests. Under `npm run test:integration` all test
 * files share one control plane (test/envtest/with-control-plane.ts); a file run on its own
 * (`npx ava test/integration/x.test.ts`) starts a private one. Each test gets its own namespace.
 */
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { ControlPlane, resolveAssets, runTool } from '../envtest/controlplane.ts';
import { installCrds } from '../envtest/crds.ts';

export interface TestCluster {
  kubeconfigPath: string;
  kc: k8s.KubeConfig;
  kubectlBin: string;
  helmBin?: string;
  /** Runs the real kubectl against the cluster. */
  kubectl(args: string[], input?: string): { status: number; stdout: string; stderr: string };
  /** Creates a fresh namespace and returns its name. */
  namespace(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

let shared: Promise<TestCluster> | undefined;

export function testCluster(): Promise<TestCluster> {
  shared ??= connect();
  return shared;
}

async function connect(): Promise<TestCluster> {
  let kubeconfigPath = process.env.ENTROPO_TEST_KUBECONFIG;
  let kubectlBin = process.env.ENTROPO_TEST_KUBECTL;
  let helmBin = process.env.ENTROPO_TEST_HELM;
  let own: ControlPlane | undefined;
  if (!kubeconfigPath || !kubectlBin) {
    const assets = resolveAssets();
    own = await new ControlPlane(assets).start();
    try {
      installCrds(own);
    } catch (e) {
      await own.stop(); // a failed CRD install leaves nothing running
      throw e;
    }
    kubeconfigPath = own.kubeconfigPath;
    kubectlBin = assets.kubectl;
    helmBin = assets.helm;
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const kubectl = (args: string[], input?: string) => runTool(kubectlBin!, ['--kubeconfig', kubeconfigPath!, ...args], input);
  return {
    kubeconfigPath,
    kc,
    kubectlBin,
    helmBin,
    kubectl,
    async namespace(prefix = 't') {
      const name = `${prefix}-${randomBytes(4).toString('hex')}`;
      await core.createNamespace({ body: { metadata: { name } } });
      return name;
    },
    async stop() {
      await own?.stop();
    },
  };
}
