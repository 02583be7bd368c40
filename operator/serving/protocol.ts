/**
 * The policy server's wire formats: the OpenAI chat completions request it accepts (a TypeBox
 * schema, validated by fastify), the response and error shapes it returns (OpenAI's
 * `{error: {message, type, param, code}}`), and the messages between the HTTP thread and the
 * model's worker thread. Source: the OpenAI API reference (chat completions), with vLLM's
 * extra sampling parameters `top_k` and `ignore_eos`.
 */
import { Type, StringEnum, type Static } from '../api/schema.ts';
import { ToolCall } from '../api/records.ts';

/** A content part: only `text` parts are served; request-checks.ts names any other type (image_url, ...). */
const ContentPart = Type.Object({ type: Type.String(), text: Type.Optional(Type.String()) }, { additionalProperties: true });

/** A request message: content may be a string, null, or an array of content parts (text parts only: request-checks.ts). */
export const RequestMessage = Type.Object(
  {
    role: StringEnum(['system', 'developer', 'user', 'assistant', 'tool'] as const),
    content: Type.Optional(Type.Union([Type.String(), Type.Null(), Type.Array(ContentPart)])),
    tool_calls: Type.Optional(Type.Array(ToolCall)),
    tool_call_id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type RequestMessage = Static<typeof RequestMessage>;

export const FunctionToolSchema = Type.Object(
  {
    type: Type.Literal('function'),
    function: Type.Object(
      {
        name: Type.String({ minLength: 1 }),
        description: Type.Optional(Type.String()),
        parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        strict: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

/** Most choices per request (n). */
export const MAX_N = 64;

export const ChatCompletionRequest = Type.Object(
  {
    model: Type.String({ minLength: 1 }),
    messages: Type.Array(RequestMessage, { minItems: 1 }),
    tools: Type.Optional(Type.Union([Type.Array(FunctionToolSchema), Type.Null()])),
    tool_choice: Type.Optional(
      Type.Union([
        StringEnum(['none', 'auto', 'required'] as const),
        Type.Object({ type: Type.Literal('function'), function: Type.Object({ name: Type.String() }) }),
        Type.Null(),
      ]),
    ),
    temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
    top_p: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 1 }), Type.Null()])),
    top_k: Type.Optional(Type.Union([Type.Integer({ minimum: -1 }), Type.Null()])),
    seed: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    stop: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String({ minLength: 1 }), { maxItems: 16 }), Type.Null()])),
    n: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: MAX_N }), Type.Null()])),
    logprobs: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    top_logprobs: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 20 }), Type.Null()])),
    stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    ignore_eos: Type.Optional(Type.Union([Type.Boolean({ description: 'vLLM extra: keep generating past the end-of-turn token (benchmarks).' }), Type.Null()])),
    presence_penalty: Type.Optional(Type.Union([Type.Number({ minimum: -2, maximum: 2 }), Type.Null()])),
    frequency_penalty: Type.Optional(Type.Union([Type.Number({ minimum: -2, maximum: 2 }), Type.Null()])),
    /** Only `{type: "text"}` (request-checks.ts). */
    response_format: Type.Optional(Type.Union([Type.Object({ type: Type.String() }, { additionalProperties: true }), Type.Null()])),
  },
  { additionalProperties: true },
);
export type ChatCompletionRequest = Static<typeof ChatCompletionRequest>;

/** OpenAI's error types by HTTP status: every 4xx, 404 included (an unknown model is 404 invalid_request_error, code model_not_found), is invalid_request_error. */
export type ErrorType = 'invalid_request_error' | 'server_error' | 'service_unavailable';

/** An error the API reports to the client: HTTP status + OpenAI's error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: ErrorType = status === 503 ? 'service_unavailable' : status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
  }

  /** The response body. */
  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  /** Plain data for a worker message. */
  toJSON(): SerializedApiError {
    return { status: this.status, message: this.message, param: this.param, code: this.code, type: this.type };
  }

  static from(e: SerializedApiError): ApiError {
    return new ApiError(e.status, e.message, e.param, e.code, e.type);
  }
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface SerializedApiError {
  status: number;
  message: string;
  param: string | null;
  code: string | null;
  type: ErrorType;
}

/** One sampled token's log-probability (OpenAI's logprobs.content[i]). */
export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface CompletionChoice {
  index: number;
  message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] };
  logprobs: { content: TokenLogprob[] } | null;
  finish_reason: FinishReason;
}

/** What the worker returns for a request: the choices and the usage; the HTTP side adds the envelope. */
export interface CompletionResult {
  choices: CompletionChoice[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  /** Seconds queued before the prefill, and from arrival to the first token. */
  queueSeconds: number;
  firstTokenSeconds: number;
}

/** Facts about the loaded model, sent once by the worker. */
export interface ModelInfo {
  backend: string;
  contextLength: number;
  vocabSize: number;
  parameters: number;
  adapter: boolean;
}

/** Worker inputs. */
export interface WorkerInit {
  modelDir: string;
  adapterDir?: string;
  backend: string;
  maxBatch: number;
  /** Cap on the context (prompt + completion); default the model's max_position_embeddings. */
  maxModelLen?: number;
  /** MiB of KV cache kept for prefix reuse; 0 turns prefix caching off. Default 256. */
  prefixCacheMiB?: number;
}

export type ToWorker =
  | { type: 'complete'; id: number; request: ChatCompletionRequest }
  | { type: 'cancel'; id: number }
  | { type: 'shutdown' };

/** Scheduler counters, sent after changes (at most every 250 ms). */
export interface EngineStats {
  running: number;
  waiting: number;
  /** Totals since start. */
  steps: number;
  generatedTokens: number;
  promptTokens: number;
  /** Sum of batch sizes over steps (mean batch = batchRows / steps). */
  batchRows: number;
  /** Seconds spent in decode steps and prefills. */
  decodeSeconds: number;
  prefillSeconds: number;
  /** Prefill forward passes run (several prompts admitted together share one: prefill.ts). */
  prefillPasses: number;
  /**
   * Prefills that reused a cached prefix (or the prefill of an identical prompt admitted with
   * them), and the prompt tokens they did not run.
   */
  prefixHits: number;
  prefixTokens: number;
}

export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; result: CompletionResult }
  | { type: 'error'; id: number; error: SerializedApiError }
  | { type: 'stats'; stats: EngineStats };
