/**
 * Dispatches tool calls to the sandbox. A bad call (unknown tool, arguments that are not JSON,
 * a missing parameter, a path outside the work tree) is an error observation for the agent; only
 * a failure of the sandbox itself (it cannot start a process) is thrown, as a SandboxError.
 */
import { stat } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import type { ExecResult } from '../sandbox/exec.ts';
import { SandboxError } from '../sandbox/sandbox.ts';
import { truncateMiddle } from '../../util/output.ts';
import { FileEditor, ToolError, type FileEditorArgs } from './file-editor.ts';
import { formatSearch, searchCommand } from './search.ts';
import { TOOL_NAMES, TOOLS, type FunctionTool } from './schemas.ts';

/** What the tools need from a sandbox. */
export interface ToolHost {
  readonly workDir: string;
  /** Where commands see the work tree (bwrap can show it at a fixed path); default workDir. */
  readonly shownDir?: string;
  exec(command: string, timeoutSeconds: number): Promise<ExecResult>;
  own(p: string): Promise<void>;
}

export interface ToolResult {
  /** The observation shown to the agent. */
  content: string;
  /** The call was an error (bad arguments, failed edit, ...). */
  error: boolean;
  /** The agent called finish. */
  finished: boolean;
  seconds: number;
}

export interface ToolboxOptions {
  /** Wall time per call; execute_bash may ask for less, never more. */
  toolTimeoutSeconds: number;
  /** Longest observation, in characters (cut in the middle). */
  maxObservationChars?: number;
}

/** Parses a tool call's arguments: a JSON object (or an object already). Pure. */
export function parseArguments(raw: unknown): { ok: true; args: Record<string, unknown> } | { ok: false; error: string } {
  let v = raw;
  if (typeof raw === 'string') {
    if (raw.trim() === '') return { ok: true, args: {} };
    try {
      v = JSON.parse(raw);
    } catch (e) {
      return { ok: false, error: `the arguments are not valid JSON (${(e as Error).message}); send a JSON object, e.g. {"command": "ls"}` };
    }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { ok: false, error: 'the arguments must be a JSON object' };
  return { ok: true, args: v as Record<string, unknown> };
}

const LIMIT_SIGNALS: Record<string, string> = { SIGXCPU: ' (CPU time limit)', SIGXFSZ: ' (file size limit)' };

/** Name of the signal behind a shell exit status above 128 (128 + signal number). */
function signalOfStatus(code: number): string | undefined {
  if (code <= 128 || code > 128 + 64) return undefined;
  return Object.entries(osConstants.signals).find(([, n]) => n === code - 128)?.[0];
}

/** The observation for a finished command. Pure. */
export function bashObservation(r: ExecResult, timeoutSeconds: number): string {
  const parts = [r.output.replace(/\n$/, '')];
  if (r.timedOut) parts.push(`[The command timed out after ${timeoutSeconds} s and was killed, with every process it started.]`);
  else if (r.signal) parts.push(`[The command was killed by ${r.signal}${LIMIT_SIGNALS[r.signal] ?? ''}.]`);
  else {
    // The isolation wrapper reports a command killed by a signal as 128 + its number.
    const sig = r.exitCode === null ? undefined : signalOfStatus(r.exitCode);
    parts.push(sig ? `[exit code: ${r.exitCode}: killed by ${sig}${LIMIT_SIGNALS[sig] ?? ''}]` : `[exit code: ${r.exitCode}]`);
  }
  if (r.truncated) parts.push(`[The output was ${r.outputBytes} bytes; only its beginning and end are shown.]`);
  return parts.filter((p) => p !== '').join('\n');
}

export class Toolbox {
  readonly editor: FileEditor;
  readonly tools: FunctionTool[] = TOOLS;

  constructor(
    private readonly host: ToolHost,
    private readonly opts: ToolboxOptions,
  ) {
    this.editor = new FileEditor(host.workDir, (p) => host.own(p));
  }

  /** The agent's path (the shown work tree) as the runner's (the real one). */
  private toReal(p: unknown): unknown {
    const shown = this.host.shownDir;
    if (!shown || shown === this.host.workDir || typeof p !== 'string') return p;
    const t = p.trim();
    return t === shown || t.startsWith(`${shown}/`) ? this.host.workDir + t.slice(shown.length) : p;
  }

  /** The runner's paths in a text as the agent sees them. */
  private toShown(text: string): string {
    const shown = this.host.shownDir;
    return shown && shown !== this.host.workDir ? text.split(this.host.workDir).join(shown) : text;
  }

  /** Runs one tool call. Never throws for the agent's mistakes; throws SandboxError for ours. */
  async call(name: string, rawArgs: unknown, timeoutSeconds = this.opts.toolTimeoutSeconds): Promise<ToolResult> {
    const started = process.hrtime.bigint();
    const done = (content: string, error: boolean, finished = false): ToolResult => ({
      content: truncateMiddle(content, this.opts.maxObservationChars ?? 20_000),
      error,
      finished,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    });
    if (!(TOOL_NAMES as readonly string[]).includes(name)) {
      return done(`Error: unknown tool ${JSON.stringify(name)}. The tools are: ${TOOL_NAMES.join(', ')}.`, true);
    }
    const parsed = parseArguments(rawArgs);
    if (!parsed.ok) return done(`Error: cannot run ${name}: ${parsed.error}.`, true);
    const args = parsed.args;
    try {
      switch (name) {
        case 'finish':
          return done('Submitted.', false, true);
        case 'file_editor':
          return done(this.toShown(await this.editor.run({ ...args, path: this.toReal(args.path) } as FileEditorArgs)), false);
        case 'execute_bash':
          return done(this.toShown(await this.bash(args, timeoutSeconds)), false);
        case 'search':
          return done(this.toShown(await this.search({ ...args, ...(args.path !== undefined ? { path: this.toReal(args.path) } : {}) }, timeoutSeconds)), false);
      }
    } catch (e) {
      if (e instanceof ToolError) return done(`Error: ${this.toShown(e.message)}`, true);
      if (e instanceof SandboxError) throw e;
      const err = e as NodeJS.ErrnoException;
      // File-system errors of an edit (permissions, a directory in the way) are the agent's to see.
      if (typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code)) return done(`Error: ${err.message}`, true);
      throw new SandboxError(`tool ${name} failed: ${err.message}`);
    }
    return done(`Error: unknown tool ${name}.`, true);
  }

  private async run(command: string, timeoutSeconds: number): Promise<ExecResult> {
    const r = await this.host.exec(command, timeoutSeconds);
    if (r.spawnError) throw new SandboxError(`cannot run a command in the sandbox: ${r.spawnError}`);
    return r;
  }

  private async bash(args: Record<string, unknown>, limit: number): Promise<string> {
    const command = args.command ?? args.cmd;
    if (typeof command !== 'string' || command.trim() === '') throw new ToolError('Parameter `command` is required and must be a non-empty string.');
    let timeout = limit;
    if (args.timeout !== undefined) {
      if (typeof args.timeout !== 'number' || !(args.timeout > 0)) throw new ToolError('Parameter `timeout` must be a positive number of seconds.');
      timeout = Math.min(limit, args.timeout);
    }
    return bashObservation(await this.run(command, timeout), timeout);
  }

  private async search(args: Record<string, unknown>, limit: number): Promise<string> {
    const term = args.search_term;
    if (typeof term !== 'string' || term === '') throw new ToolError('Parameter `search_term` is required and must be a non-empty string.');
    const target = await this.editor.resolve(args.path ?? '.');
    const st = await stat(target).catch(() => null);
    if (!st) throw new ToolError(`The path ${String(args.path)} does not exist.`);
    // The command runs in the sandbox, where the work tree may be shown at another path.
    const r = await this.run(searchCommand(term, this.toShown(target)), limit);
    if (r.timedOut) throw new ToolError(`search timed out after ${limit} s; search in a smaller directory.`);
    const shown = (args.path as string | undefined) ?? '.';
    return formatSearch(term, shown, st.isFile(), r.output, this.host.workDir);
  }
}
