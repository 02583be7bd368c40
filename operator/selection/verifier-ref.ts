/**
 * The verifier named by an EvalSuite's spec.verifier.model (a ModelRef), opened for scoring:
 * an external OpenAI-compatible endpoint, or a checkpoint directory scored in-process with tfjs.
 * Sources other than file:// (store://, builtin:) are resolved to a local directory by the
 * caller (it owns the artifact store and the image's model directory).
 */
import { fileURLToPath } from 'node:url';
import type { ModelRef } from '../api/common.ts';
import type { BackendPreference } from '../training/backend.ts';
import { scoreAll, type ScoreAllOptions, type VerifierInput } from './verifier-prompt.ts';

export interface OpenVerifierOptions {
  /** The endpoint's API key (read from apiKeySecretRef by the caller). */
  apiKey?: string;
  /** Maps a store:// or builtin: source to a local model directory. file:// needs none. */
  resolveSource?: (source: string) => Promise<string>;
  backend?: BackendPreference;
  /** Endpoint requests in flight (default 8). */
  concurrency?: number;
}

export interface OpenedVerifier {
  /** Where the scores come from, for logs and status. */
  readonly description: string;
  /** Scores keyed by trajectory id. */
  scoreAll<T extends VerifierInput & { id: string }>(records: readonly T[], opts?: ScoreAllOptions): Promise<Map<string, number>>;
  dispose(): void;
}

export async function openVerifier(ref: ModelRef, opts: OpenVerifierOptions = {}): Promise<OpenedVerifier> {
  if (ref.endpoint) {
    const { endpointScorer } = await import('./verifier-endpoint.ts');
    const score = endpointScorer({ baseURL: ref.endpoint.url, model: ref.name, apiKey: opts.apiKey });
    return {
      description: `${ref.name} at ${ref.endpoint.url}`,
      scoreAll: (records, o = {}) => scoreAll(records, score, { concurrency: opts.concurrency ?? 8, ...o }),
      dispose: () => undefined,
    };
  }
  if (!ref.source) throw new Error('verifier.model: needs a source or an endpoint');
  let dir: string;
  if (ref.source.startsWith('file:///')) dir = fileURLToPath(ref.source);
  else if (ref.source.startsWith('file://')) dir = ref.source.slice('file://'.length); // relative path
  else if (opts.resolveSource) dir = await opts.resolveSource(ref.source);
  else throw new Error(`verifier.model.source ${ref.source}: no resolver for this kind of source here (file:// works everywhere)`);
  const { Verifier } = await import('./verifier.ts');
  const v = await Verifier.load(dir, { backend: opts.backend });
  return {
    description: `${ref.name} from ${dir}`,
    scoreAll: (records, o) => v.scoreAll(records, o),
    dispose: () => v.dispose(),
  };
}
