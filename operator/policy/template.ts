/**
 * The built-in policy's compact chat template (ChatML turns, tool calls in the Hermes / Qwen
 * text form) and its tokenizer_config.json. Compact: the tool schemas are NOT rendered (a
 * demonstration-sized model learns the four tools from its demonstrations, and a ~1k-token
 * context cannot hold them), and a tool call is one line:
 *
 *     <|im_start|>assistant\n<tool_call>{"name":"file_editor","arguments":{...}}</tool_call><|im_end|>\n
 *
 * Tool results are `<|im_start|>tool\n...<|im_end|>\n`. The template is prefix-consistent, as
 * operator/training/render.ts needs for assistant masks. A server parses the generated
 * <tool_call> blocks back into OpenAI tool_calls (operator/rollout/agent/text-format.ts).
 */

export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
/** Added tokens that are not special: kept by decode(skipSpecial) so a server can parse them. */
export const TOOL_CALL_TOKENS = ['<tool_call>', '</tool_call>'];

export const CHAT_TEMPLATE = [
  '{% for message in messages %}',
  "{% if message.role == 'assistant' %}",
  '<|im_start|>assistant\n',
  '{% if message.content %}{{ message.content }}{% endif %}',
  '{% if message.tool_calls %}{% for tc in message.tool_calls %}',
  '<tool_call>{"name":"{{ tc.function.name }}","arguments":',
  '{% if tc.function.arguments is string %}{{ tc.function.arguments }}{% else %}{{ tc.function.arguments | tojson }}{% endif %}',
  '}</tool_call>',
  '{% endfor %}{% endif %}',
  '<|im_end|>\n',
  '{% else %}',
  '<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n',
  '{% endif %}',
  '{% endfor %}',
  '{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}',
].join('');

/** tokenizer_config.json of the built-in policy (clean-up of tokenization spaces off: code keeps its spaces). */
export function tokenizerConfig(modelMaxLength: number): Record<string, unknown> {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: null,
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    model_max_length: modelMaxLength,
    clean_up_tokenization_spaces: false,
    chat_template: CHAT_TEMPLATE,
  };
}
