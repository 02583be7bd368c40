/**
 * The four tools of the scaffold (docs/method.md section 7) as OpenAI function tools, in the shape
 * SWE-agent / R2E-Gym / OpenHands use: file_editor (view, create, str_replace, insert,
 * undo_edit), execute_bash, search, finish.
 */
import type OpenAI from 'openai';

export type FunctionTool = OpenAI.Chat.Completions.ChatCompletionFunctionTool;

export const TOOL_NAMES = ['file_editor', 'execute_bash', 'search', 'finish'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export const FILE_EDITOR_COMMANDS = ['view', 'create', 'str_replace', 'insert', 'undo_edit'] as const;

export const fileEditorTool: FunctionTool = {
  type: 'function',
  function: {
    name: 'file_editor',
    description: [
      'Custom editing tool for viewing, creating and editing files.',
      '* State is persistent across calls; paths are relative to the repository root or absolute inside it.',
      '* view: a file is shown with line numbers (cat -n), a directory lists its files up to 2 levels deep.',
      '* create: makes a new file with file_text; it cannot overwrite an existing file.',
      '* str_replace: replaces old_str, which must match exactly ONE place of the file (whitespace included), with new_str.',
      '* insert: inserts new_str after line insert_line (0: at the top).',
      '* undo_edit: reverts the last edit made to the file.',
    ].join('\n'),
    parameters: {
      type: 'object',
      properties: {
        command: { type: 'string', enum: [...FILE_EDITOR_COMMANDS], description: 'The command to run.' },
        path: { type: 'string', description: 'File or directory path.' },
        file_text: { type: 'string', description: 'create: content of the new file.' },
        old_str: { type: 'string', description: 'str_replace: the exact text to replace.' },
        new_str: { type: 'string', description: 'str_replace: the replacement; insert: the text to insert.' },
        insert_line: { type: 'integer', description: 'insert: line number after which new_str is inserted.' },
        view_range: {
          type: 'array',
          items: { type: 'integer' },
          description: 'view: [start, end] line numbers, 1-based; end -1 means to the end of the file.',
        },
      },
      required: ['command', 'path'],
    },
  },
};

export const executeBashTool: FunctionTool = {
  type: 'function',
  function: {
    name: 'execute_bash',
    description: [
      'Runs a bash command in the repository root and returns its combined stdout and stderr and exit code.',
      '* Each call starts a fresh shell in the repository root; background processes end with the command.',
      '* There is no network access and no interactive input; long outputs are cut in the middle.',
      '* Commands are killed after the timeout.',
    ].join('\n'),
    parameters: {
      type: 'object',
      properties: {
        command: { type: 'string', description: 'The bash command (or script) to run.' },
        timeout: { type: 'integer', description: 'Seconds before the command is killed (capped by the sandbox limit).' },
      },
      required: ['command'],
    },
  },
};

export const searchTool: FunctionTool = {
  type: 'function',
  function: {
    name: 'search',
    description: [
      'Searches for a literal string in the repository.',
      '* path a directory (default: the repository root): lists the files that contain it with their match counts.',
      '* path a file: lists the matching lines with their line numbers.',
    ].join('\n'),
    parameters: {
      type: 'object',
      properties: {
        search_term: { type: 'string', description: 'The literal text to look for.' },
        path: { type: 'string', description: 'File or directory to search in.' },
      },
      required: ['search_term'],
    },
  },
};

export const finishTool: FunctionTool = {
  type: 'function',
  function: {
    name: 'finish',
    description: 'Call when the task is done: the current state of the repository is submitted as the solution.',
    parameters: {
      type: 'object',
      properties: { message: { type: 'string', description: 'A short summary of the change.' } },
      required: [],
    },
  },
};

export const TOOLS: FunctionTool[] = [fileEditorTool, executeBashTool, searchTool, finishTool];
