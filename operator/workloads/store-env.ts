/**
 * The artifact store's settings for the containers of operator-made Pods that open the store
 * (sandbox prepare / prepare-grading / grade, trainer, policy server, verifier), as environment
 * variables that operator/store/open.ts reads (S3_ENV):
 *
 *   AWS_ENDPOINT_URL_S3, AWS_REGION, ENTROPO_S3_FORCE_PATH_STYLE   from spec.storage.s3 (values)
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN      from the Secret
 *                                                                    spec.storage.s3.credentialsSecretRef,
 *                                                                    by reference (valueFrom.secretKeyRef;
 *                                                                    the session token optional)
 *
 * The secret's text never appears in a Pod spec. Without a credentialsSecretRef no credential
 * variables are set and the SDK's default chain applies (IRSA / workload identity, instance role).
 * pvc:// and file:// stores need no variables (a pvc:// store is a volume: sandbox-pod.ts).
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import { S3_ENV, type StorageS3Spec } from '../store/open.ts';

/** spec.storage (api/common.ts Storage). */
export interface StorageSettings {
  uri: string;
  s3?: StorageS3Spec;
}

/** The env vars a container needs to open the store of `storage` (pure; [] for non-s3 stores). */
export function storeEnv(storage: StorageSettings | undefined): V1EnvVar[] {
  if (!storage?.uri.startsWith('s3://')) return [];
  const s3 = storage.s3 ?? {};
  const out: V1EnvVar[] = [];
  if (s3.endpoint) out.push({ name: S3_ENV.endpoint, value: s3.endpoint });
  if (s3.region) out.push({ name: S3_ENV.region, value: s3.region });
  if (s3.forcePathStyle !== undefined) out.push({ name: S3_ENV.forcePathStyle, value: String(s3.forcePathStyle) });
  const secret = s3.credentialsSecretRef?.name;
  if (secret) {
    const ref = (key: string, optional = false): V1EnvVar => ({ name: key, valueFrom: { secretKeyRef: { name: secret, key, ...(optional ? { optional: true } : {}) } } });
    out.push(ref(S3_ENV.accessKeyId), ref(S3_ENV.secretAccessKey), ref(S3_ENV.sessionToken, true));
  }
  return out;
}

/** The URL of the S3 endpoint sandboxes must reach (for their NetworkPolicy); undefined for non-s3 stores. */
export function storeEndpoint(storage: StorageSettings | undefined): string | undefined {
  if (!storage?.uri.startsWith('s3://')) return undefined;
  return storage.s3?.endpoint ?? `https://s3.${storage.s3?.region ?? 'us-east-1'}.amazonaws.com`;
}
