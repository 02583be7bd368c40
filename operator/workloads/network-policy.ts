/**
 * The NetworkPolicy of a batch's sandbox Pods (pure), for sandbox.network `PolicyOnly` (egress
 * only to the policy endpoint, the artifact store's S3 endpoint if any, and DNS) or `None` (the
 * same without DNS: endpoints must then be addressed by IP). `Unrestricted` builds none.
 *
 * NetworkPolicy selects peers by address or by Pod / namespace labels, never by host name:
 * - an endpoint whose host is an IP literal -> ipBlock <ip>/32 on its port;
 * - an in-cluster Service name (`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`) -> the Pods of the
 *   operator's policy server when `servedBy` gives their labels, else any Pod of that namespace,
 *   on the port;
 * - any other host name -> its port on any address (the port is the only thing a NetworkPolicy
 *   can pin for a name it cannot resolve).
 * Ingress is denied entirely: nothing needs to reach a sandbox.
 */
import type { V1NetworkPolicy, V1NetworkPolicyEgressRule, V1NetworkPolicyPeer } from '@kubernetes/client-node';
import type { OwnerReference } from '../runtime/kube/types.ts';
import { LABEL_COMPONENT, LABEL_OWNER, LABEL_OWNER_KIND, labelValue, ownerLabels } from './labels.ts';

export interface NetworkPolicyInput {
  name: string;
  namespace: string;
  owner: { kind: string; name: string; ref: OwnerReference };
  network: 'PolicyOnly' | 'None' | 'Unrestricted';
  /** URLs the sandboxes must reach: the policy endpoint, an S3 endpoint. */
  endpoints: string[];
  /** Labels of the policy-server Pods when the operator serves the policy. */
  servedBy?: Record<string, string>;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function port(u: URL): number {
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}

/** The egress rule that lets sandboxes reach one URL (pure; see the module comment). */
export function egressTo(url: string, namespace: string, servedBy?: Record<string, string>): V1NetworkPolicyEgressRule {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const ports = [{ protocol: 'TCP', port: port(u) }];
  if (IPV4.test(host)) return { to: [{ ipBlock: { cidr: `${host}/32` } }], ports };
  if (host.includes(':')) return { to: [{ ipBlock: { cidr: `${host}/128` } }], ports };
  const parts = host.split('.');
  const inCluster = parts.length === 1 || parts.length === 2 || (parts.length >= 3 && parts[2] === 'svc');
  if (inCluster) {
    const ns = parts.length >= 2 ? parts[1] : namespace;
    const peer: V1NetworkPolicyPeer = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } };
    if (servedBy) peer.podSelector = { matchLabels: servedBy };
    return { to: [peer], ports };
  }
  return { ports };
}

/** The batch's NetworkPolicy, or undefined for `Unrestricted`. */
export function sandboxNetworkPolicy(input: NetworkPolicyInput): V1NetworkPolicy | undefined {
  if (input.network === 'Unrestricted') return undefined;
  const egress: V1NetworkPolicyEgressRule[] = input.endpoints.map((e) => egressTo(e, input.namespace, input.servedBy));
  if (input.network === 'PolicyOnly') {
    egress.push({
      to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    });
  }
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels: ownerLabels(input.owner, 'sandbox-network'),
      ownerReferences: [input.owner.ref],
    },
    spec: {
      podSelector: { matchLabels: { [LABEL_OWNER]: labelValue(input.owner.name), [LABEL_OWNER_KIND]: input.owner.kind.toLowerCase(), [LABEL_COMPONENT]: 'sandbox' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress,
    },
  };
}
