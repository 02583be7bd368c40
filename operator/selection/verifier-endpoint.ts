/**
 * Verifier scoring through an OpenAI-compatible endpoint (vLLM, SGLang, our policy server): one
 * chat completion per trajectory with max_tokens 1 and the top log-probs of the first answer
 * token; p(YES) / (p(YES) + p(NO)) from those. Requests run concurrently and finish in any order;
 * scoreAll keys each score by the trajectory it was computed for.
 */
import OpenAI from 'openai';
import { VERIFIER_ANSWERS, verifierMessages, yesProbability, type RenderOptions, type ScoreFn, type VerifierInput } from './verifier-prompt.ts';

export interface EndpointScorerOptions {
  /** Base URL of the API, e.g. http://vllm:8000/v1. */
  baseURL: string;
  model: string;
  apiKey?: string;
  render?: RenderOptions;
  /** Top log-probs asked for (default 20, the OpenAI maximum). */
  topLogprobs?: number;
  /** Per-request timeout in ms (default 120 s) and retries of the SDK (default 2). */
  timeoutMs?: number;
  maxRetries?: number;
}

export interface TopLogprob {
  token: string;
  logprob: number;
}

const logSumExp = (xs: number[]) => {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
};

/**
 * p(YES) from the first answer token's top log-probs. Tokens count for an answer when they equal
 * it after trimming blanks, any case ("YES", " yes", "Yes"); their probabilities add up. An answer
 * missing from the list gets the smallest listed log-prob (an upper bound on its own); neither
 * present is an error.
 */
export function scoreFromTopLogprobs(top: readonly TopLogprob[], answers = VERIFIER_ANSWERS): number {
  const match = (a: string) => top.filter((t) => t.token.trim().toLowerCase() === a.toLowerCase()).map((t) => t.logprob);
  const yes = match(answers.yes);
  const no = match(answers.no);
  if (yes.length === 0 && no.length === 0) {
    throw new Error(`neither ${answers.yes} nor ${answers.no} among the top ${top.length} tokens (${top.slice(0, 5).map((t) => JSON.stringify(t.token)).join(', ')}, ...)`);
  }
  const floor = Math.min(...top.map((t) => t.logprob));
  return yesProbability(yes.length ? logSumExp(yes) : floor, no.length ? logSumExp(no) : floor);
}

export function endpointScorer(opts: EndpointScorerOptions): ScoreFn<VerifierInput & { id: string }> {
  const client = new OpenAI({
    baseURL: opts.baseURL,
    apiKey: opts.apiKey ?? 'none',
    timeout: opts.timeoutMs ?? 120_000,
    maxRetries: opts.maxRetries ?? 2,
  });
  return async (record) => {
    const res = await client.chat.completions.create({
      model: opts.model,
      messages: verifierMessages(record, undefined, opts.render).map((m) => ({ role: m.role as 'system' | 'user', content: m.content ?? '' })),
      max_tokens: 1,
      temperature: 0,
      logprobs: true,
      top_logprobs: opts.topLogprobs ?? 20,
    });
    const top = res.choices[0]?.logprobs?.content?.[0]?.top_logprobs;
    if (!top || top.length === 0) throw new Error('the endpoint returned no log-probs (does it support logprobs / top_logprobs?)');
    return scoreFromTopLogprobs(top);
  };
}
