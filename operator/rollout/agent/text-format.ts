/**
 * The text tool-call format, for models served without native tool calls. It is the format of
 * Qwen2.5 / Qwen3 and Hermes chat templates:
 *
 * - the tool schemas are listed in the system prompt inside <tools></tools>, one JSON object per
 *   line;
 * - the model writes each call in its message text as
 *       <tool_call>
 *       {"name": "execute_bash", "arguments": {"command": "ls"}}
 *       </tool_call>
 * - each result goes back in a user message as <tool_response>...</tool_response>, in call order.
 *
 * Trajectories of this format keep the text exactly as the model wrote and saw it (no
 * tool_calls field), so that training on them reproduces the model's own format. Pure functions.
 */
import type { FunctionTool } from '../tools/schemas.ts';
import { headChars } from '../../util/text.ts';

export function toolsPrompt(tools: FunctionTool[]): string {
  return [
    '# Tools',
    '',
    'You may call one or more functions to assist with the user query.',
    '',
    'You are provided with function signatures within <tools></tools> XML tags:',
    '<tools>',
    ...tools.map((t) => JSON.stringify(t)),
    '</tools>',
    '',
    'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:',
    '<tool_call>',
    '{"name": <function-name>, "arguments": <args-json-object>}',
    '</tool_call>',
  ].join('\n');
}

export type TextToolCall =
  | { ok: true; name: string; arguments: string }
  | { ok: false; error: string; raw: string };

/** A <tool_call> block of a message: where it is ([start, end) in code units) and what it holds. */
export interface ToolCallBlock {
  start: number;
  end: number;
  call: TextToolCall;
}

const OPEN = '<tool_call>';
const CLOSE = '</tool_call>';

/**
 * End (exclusive) of the JSON object or array starting at text[from], found by scanning its
 * brackets outside strings; -1 when it does not close. A `</tool_call>` inside a JSON string is
 * text, not the end of the block.
 */
function jsonEnd(text: string, from: number): number {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let p = from; p < text.length; p++) {
    const c = text[p];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return p + 1;
    }
  }
  return -1;
}

/** The call of a parsed block: {"name": string, "arguments": JSON object (or a string holding one)}. */
function toCall(v: unknown, raw: string): TextToolCall {
  const call = v as { name?: unknown; arguments?: unknown; parameters?: unknown } | null;
  if (!call || typeof call !== 'object' || Array.isArray(call) || typeof call.name !== 'string') {
    return { ok: false, error: 'the tool call must be a JSON object {"name": ..., "arguments": {...}}', raw };
  }
  // Missing arguments are {} (a call without parameters); present ones must be an object.
  let args = 'arguments' in call ? call.arguments : 'parameters' in call ? call.parameters : {};
  if (typeof args === 'string') {
    try {
      args = args.trim() === '' ? {} : JSON.parse(args);
    } catch (e) {
      return { ok: false, error: `the arguments of ${call.name} are not valid JSON (${(e as Error).message}); send a JSON object`, raw };
    }
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    return { ok: false, error: `the arguments of ${call.name} must be a JSON object, e.g. {"command": "ls"} (got ${headChars(JSON.stringify(args) ?? '', 60)})`, raw };
  }
  return { ok: true, name: call.name, arguments: JSON.stringify(args) };
}

/**
 * The <tool_call> blocks of a message, in order. Each block's JSON is parsed as JSON: its end is
 * where the JSON value closes (so arguments may contain the text "</tool_call>"), then an
 * optional code fence and the closing tag. An unterminated last block (the turn ran out of
 * tokens) is still read. A block that is not {"name": string, "arguments": object} is an error,
 * for an error observation.
 */
export function toolCallBlocks(text: string): ToolCallBlock[] {
  const out: ToolCallBlock[] = [];
  let pos = 0;
  for (let start = text.indexOf(OPEN, pos); start >= 0; start = text.indexOf(OPEN, pos)) {
    let p = start + OPEN.length;
    while (p < text.length && /\s/.test(text[p])) p++;
    const fence = /^```(?:json)?\s*/.exec(text.slice(p, p + 16));
    if (fence) p += fence[0].length;
    const end = text[p] === '{' || text[p] === '[' ? jsonEnd(text, p) : -1;
    if (end > 0) {
      let q = end;
      while (q < text.length && /\s/.test(text[q])) q++;
      if (fence && text.startsWith('```', q)) {
        q += 3;
        while (q < text.length && /\s/.test(text[q])) q++;
      }
      if (text.startsWith(CLOSE, q) || q === text.length) {
        const json = text.slice(p, end);
        let call: TextToolCall;
        try {
          call = toCall(JSON.parse(json), json);
        } catch (e) {
          call = { ok: false, error: `the tool call is not valid JSON (${(e as Error).message})`, raw: json };
        }
        const blockEnd = text.startsWith(CLOSE, q) ? q + CLOSE.length : q;
        out.push({ start, end: blockEnd, call });
        pos = blockEnd;
        continue;
      }
    }
    // Not one JSON value followed by the closing tag: the block runs to the next closing tag.
    const close = text.indexOf(CLOSE, start + OPEN.length);
    const blockEnd = close < 0 ? text.length : close + CLOSE.length;
    const raw = text.slice(start + OPEN.length, close < 0 ? text.length : close).trim();
    let call: TextToolCall;
    try {
      call = toCall(JSON.parse(stripFence(raw)), raw);
      if (call.ok) call = { ok: false, error: 'the tool call has text after its JSON object', raw };
    } catch (e) {
      call = { ok: false, error: `the tool call is not valid JSON (${(e as Error).message})`, raw };
    }
    out.push({ start, end: blockEnd, call });
    pos = blockEnd;
  }
  return out;
}

/** The tool calls written in a message, in order (see toolCallBlocks). */
export function parseTextToolCalls(text: string): TextToolCall[] {
  return toolCallBlocks(text).map((b) => b.call);
}

function stripFence(s: string): string {
  const m = /^```(?:json)?\s*([\s\S]*?)\s*```$/.exec(s);
  return m ? m[1] : s;
}

/** The user message carrying tool results back, in call order. */
export function toolResponses(contents: string[]): string {
  return contents.map((c) => `<tool_response>\n${c}\n</tool_response>`).join('\n');
}
