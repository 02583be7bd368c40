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

/**
 * The tool calls written in a message, in order. An unterminated last <tool_call> (the turn ran
 * out of tokens) is still read. A block that is not {"name": string, "arguments": object} is
 * returned as an error, for an error observation.
 */
export function parseTextToolCalls(text: string): TextToolCall[] {
  const out: TextToolCall[] = [];
  const re = /<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const raw = m[1].trim();
    if (m[0].length === 0) break;
    let v: unknown;
    try {
      v = JSON.parse(stripFence(raw));
    } catch (e) {
      out.push({ ok: false, error: `the tool call is not valid JSON (${(e as Error).message})`, raw });
      continue;
    }
    const call = v as { name?: unknown; arguments?: unknown; parameters?: unknown };
    const args = call.arguments ?? call.parameters ?? {};
    if (!call || typeof call !== 'object' || typeof call.name !== 'string') {
      out.push({ ok: false, error: 'the tool call must be a JSON object {"name": ..., "arguments": {...}}', raw });
    } else if (typeof args === 'string') {
      out.push({ ok: true, name: call.name, arguments: args });
    } else {
      out.push({ ok: true, name: call.name, arguments: JSON.stringify(args) });
    }
  }
  return out;
}

function stripFence(s: string): string {
  const m = /^```(?:json)?\s*([\s\S]*?)\s*```$/.exec(s);
  return m ? m[1] : s;
}

/** The user message carrying tool results back, in call order. */
export function toolResponses(contents: string[]): string {
  return contents.map((c) => `<tool_response>\n${c}\n</tool_response>`).join('\n');
}
