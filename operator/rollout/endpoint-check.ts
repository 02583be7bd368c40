/**
 * One check of the policy endpoint before a batch of rollouts starts (issue 18): GET /v1/models
 * through the official openai client, so that a wrong URL, a missing key or a model name the
 * server does not serve is one clear error, not one model_error per rollout.
 */
import OpenAI from 'openai';
import type { Endpoint } from './rollout.ts';

/** Why the endpoint cannot be used; `reason` is machine-readable, the message names the URL and the fix. */
export class EndpointCheckError extends Error {
  override name = 'EndpointCheckError';
  constructor(
    readonly reason: 'Unreachable' | 'Unauthorized' | 'NoModelList' | 'ModelNotServed' | 'BadResponse',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Lists the endpoint's models and checks that `model` is one of them. Resolves to the served
 * model ids; throws EndpointCheckError otherwise. `timeoutSeconds` bounds the request (default 30).
 * `modelField` is where the user set `model`, for the hint of a model the server does not serve:
 * a manifest field (`spec.policy.name`: "set spec.policy.name to one of them"); default the
 * `--model` flag of `entropo rollout`.
 */
export async function checkEndpoint(endpoint: Endpoint, model: string, opts: { timeoutSeconds?: number; modelField?: string } = {}): Promise<string[]> {
  const client = new OpenAI({ baseURL: endpoint.baseURL, apiKey: endpoint.apiKey || 'EMPTY', maxRetries: 1, timeout: (opts.timeoutSeconds ?? 30) * 1000 });
  const where = `${endpoint.baseURL.replace(/\/+$/, '')}/models`;
  let ids: string[];
  try {
    ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
  } catch (e) {
    if (e instanceof OpenAI.APIConnectionError) {
      throw new EndpointCheckError('Unreachable', `the endpoint ${endpoint.baseURL} cannot be reached (GET ${where}: ${e.cause instanceof Error ? e.cause.message : e.message}); is the server running, and is the URL its API base (ending in /v1)?`);
    }
    if (e instanceof OpenAI.AuthenticationError || e instanceof OpenAI.PermissionDeniedError) {
      throw new EndpointCheckError('Unauthorized', `the endpoint ${endpoint.baseURL} refused the API key (GET ${where}: HTTP ${e.status}); set OPENAI_API_KEY`);
    }
    if (e instanceof OpenAI.NotFoundError) {
      throw new EndpointCheckError('NoModelList', `GET ${where} answered 404: is ${endpoint.baseURL} the API's base URL (vLLM and SGLang: http://host:port/v1)? (--skip-endpoint-check skips this check)`);
    }
    if (e instanceof OpenAI.APIError) throw new EndpointCheckError('BadResponse', `GET ${where} failed: HTTP ${e.status ?? '?'}: ${e.message}`);
    throw new EndpointCheckError('BadResponse', `GET ${where} failed: ${(e as Error).message}`);
  }
  if (!ids.includes(model)) {
    throw new EndpointCheckError(
      'ModelNotServed',
      `the endpoint ${endpoint.baseURL} does not serve model ${JSON.stringify(model)}; it serves: ${ids.length ? ids.map((i) => JSON.stringify(i)).join(', ') : '(none)'} (${opts.modelField ? `set ${opts.modelField} to one of them` : 'pass one of them as --model'})`,
    );
  }
  return ids;
}
