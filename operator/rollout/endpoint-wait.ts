/**
 * Waiting for a policy server that is starting: when a model request finds the server not up,
 * GET /v1/models until it answers, then the request is sent again. A server that listens while its model still loads answers
 * 503 (`entropo serve`, vLLM while it loads), one not listening yet refuses the connection; both
 * are a server on its way up (a local-mode run resumed with its server, a Deployment rolling to a
 * new checkpoint), not a failed rollout. Any other answer ends the wait at once: the rollout's
 * own request then fails or succeeds as it would have.
 */
import OpenAI from 'openai';
import type { Logger } from '../logging/logger.ts';

/** Options of waitUntilServing. */
export interface WaitOptions {
  /** Give up at this time (epoch ms); the caller's request then reports the server's state. */
  until: number;
  log?: Logger;
  /** First pause between polls in ms (default 500), doubled up to maxPauseMs. */
  pauseMs?: number;
  /** Longest pause between polls in ms (default 5,000). */
  maxPauseMs?: number;
}

/** Whether an error from the openai client is a server still starting: refused connection, timeout, 502/503/504. */
export function isStarting(e: unknown): boolean {
  if (e instanceof OpenAI.APIConnectionError) return true; // includes APIConnectionTimeoutError
  return e instanceof OpenAI.APIError && (e.status === 502 || e.status === 503 || e.status === 504);
}

/**
 * Longest wait in seconds for a policy server that refuses connections or answers 503 (a resumed
 * local run's server loading its model, a Deployment rolling); an endpoint that is simply wrong
 * fails after it.
 */
export const SERVER_START_WAIT_SECONDS = 120;

/**
 * Polls `client.models.list()` (no client retries, 10 s per poll) until it answers anything but a
 * starting server, or `until` passes. Resolves to whether the server answered (a 200 or any
 * answer that is not "starting") and the seconds waited. Never throws.
 */
export async function waitUntilServing(client: OpenAI, o: WaitOptions): Promise<{ answered: boolean; seconds: number }> {
  const t0 = Date.now();
  let pause = o.pauseMs ?? 500;
  let logged = false;
  let answered = false;
  for (;;) {
    try {
      await client.models.list({ maxRetries: 0, timeout: 10_000 });
      answered = true;
      break;
    } catch (e) {
      if (!isStarting(e)) answered = true;
      if (answered || Date.now() + pause >= o.until) break;
      if (!logged) o.log?.info('waiting for the policy server to start', { baseURL: client.baseURL, error: (e as Error).message });
      logged = true;
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, o.maxPauseMs ?? 5_000);
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  if (logged) o.log?.info(answered ? 'policy server answering' : 'policy server still not answering', { baseURL: client.baseURL, waitedSeconds: Math.round(seconds * 10) / 10 });
  return { answered, seconds };
}
