/**
 * Typed @kubernetes/client-node API clients (CoreV1Api, BatchV1Api, ...) whose HTTP layer is wrapped
 * so their requests are counted in rest_client_requests_total like RestClient's: reconcilers may use
 * either and every request of the operator is still counted.
 */
import {
  createConfiguration,
  IsomorphicFetchHttpLibrary,
  ServerConfiguration,
  wrapHttpLibrary,
  type Configuration,
  type HttpLibrary,
  type KubeConfig,
} from '@kubernetes/client-node';
import type { RuntimeMetrics } from '../../metrics/registry.ts';

export function countingHttpLibrary(metrics: RuntimeMetrics, host: string, inner: HttpLibrary = new IsomorphicFetchHttpLibrary()): HttpLibrary {
  return wrapHttpLibrary({
    async send(request) {
      const method = String(request.getHttpMethod());
      try {
        const response = await inner.send(request).toPromise();
        metrics.restRequests.inc({ code: String(response.httpStatusCode), method, host });
        return response;
      } catch (e) {
        metrics.restRequests.inc({ code: '<error>', method, host });
        throw e;
      }
    },
  });
}

/** kc.makeApiClient(type), with the request counter in the HTTP layer. */
export function makeCountedApiClient<T>(kc: KubeConfig, type: new (config: Configuration) => T, metrics: RuntimeMetrics): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    httpApi: countingHttpLibrary(metrics, new URL(cluster.server).host),
  });
  return new type(config);
}
