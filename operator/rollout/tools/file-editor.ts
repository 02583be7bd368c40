/**
 * The file_editor tool on a work tree. Every path must resolve inside the work tree (symbolic
 * links included): a path outside it is an error observation, never a write.
 */
import { mkdir, readFile, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { insertAfter, numbered, snippet, strReplace } from './edit.ts';

export class ToolError extends Error {
  override name = 'ToolError';
}

export interface FileEditorArgs {
  command?: unknown;
  path?: unknown;
  file_text?: unknown;
  old_str?: unknown;
  new_str?: unknown;
  insert_line?: unknown;
  view_range?: unknown;
}

/** Largest file the editor shows or edits. */
const MAX_FILE_BYTES = 2 * 1024 * 1024;

export class FileEditor {
  /** Previous contents per file, newest last; null: the file did not exist. */
  private history = new Map<string, (string | null)[]>();

  constructor(
    readonly root: string,
    /** Called on every file or directory the editor creates (to give it to the sandbox user). */
    private readonly own: (p: string) => Promise<void> = async () => {},
  ) {}

  /** Absolute path inside the work tree, or a ToolError. */
  async resolve(p: unknown): Promise<string> {
    if (typeof p !== 'string' || p.trim() === '') throw new ToolError('Parameter `path` is required and must be a non-empty string.');
    const root = await realpath(this.root);
    const abs = path.resolve(root, p.trim());
    const inside = (q: string) => q === root || q.startsWith(root + path.sep);
    if (!inside(abs)) throw new ToolError(`Path ${p} is outside the repository (${root}); only files inside it can be viewed or edited.`);
    // Follow symbolic links of the part that exists: a link must not lead outside either.
    let existing = abs;
    for (;;) {
      try {
        const real = await realpath(existing);
        if (!inside(real)) throw new ToolError(`Path ${p} leads outside the repository through a symbolic link.`);
        break;
      } catch (e) {
        if (e instanceof ToolError) throw e;
        const up = path.dirname(existing);
        if (up === existing) break;
        existing = up;
      }
    }
    const rel = path.relative(root, abs);
    if (rel.split(path.sep)[0] === '.git') throw new ToolError('The .git directory cannot be viewed or edited with file_editor.');
    return abs;
  }

  async run(args: FileEditorArgs): Promise<string> {
    switch (args.command) {
      case 'view':
        return this.view(await this.resolve(args.path), args.view_range);
      case 'create':
        return this.create(await this.resolve(args.path), args.file_text);
      case 'str_replace':
        return this.replace(await this.resolve(args.path), args.old_str, args.new_str);
      case 'insert':
        return this.insert(await this.resolve(args.path), args.insert_line, args.new_str);
      case 'undo_edit':
        return this.undo(await this.resolve(args.path));
      default:
        throw new ToolError(`Unknown file_editor command ${JSON.stringify(args.command)}; use one of view, create, str_replace, insert, undo_edit.`);
    }
  }

  private rel(abs: string): string {
    return path.relative(this.root, abs) || '.';
  }

  private async readText(abs: string): Promise<string> {
    let st;
    try {
      st = await stat(abs);
    } catch {
      throw new ToolError(`The path ${this.rel(abs)} does not exist.`);
    }
    if (st.isDirectory()) throw new ToolError(`The path ${this.rel(abs)} is a directory.`);
    if (st.size > MAX_FILE_BYTES) throw new ToolError(`The file ${this.rel(abs)} is too large (${st.size} bytes) for the editor; use execute_bash (sed -n, grep).`);
    return readFile(abs, 'utf8');
  }

  private async write(abs: string, content: string, previous: string | null): Promise<void> {
    const created = await mkdirMissing(path.dirname(abs));
    await writeFile(abs, content);
    if (previous === null) await this.own(abs);
    for (const d of created) await this.own(d);
    const h = this.history.get(abs) ?? [];
    h.push(previous);
    this.history.set(abs, h);
  }

  private async view(abs: string, range: unknown): Promise<string> {
    const st = await stat(abs).catch(() => null);
    if (!st) throw new ToolError(`The path ${this.rel(abs)} does not exist.`);
    if (st.isDirectory()) {
      if (range !== undefined) throw new ToolError('view_range is not allowed when path is a directory.');
      const out: string[] = [];
      const walk = async (dir: string, depth: number) => {
        const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.') && e.name !== 'node_modules' && e.name !== '__pycache__');
        entries.sort((a, b) => a.name.localeCompare(b.name));
        for (const e of entries) {
          const p = path.join(dir, e.name);
          out.push(this.rel(p) + (e.isDirectory() ? '/' : ''));
          if (e.isDirectory() && depth < 2) await walk(p, depth + 1);
        }
      };
      await walk(abs, 1);
      return `Files and directories up to 2 levels deep in ${this.rel(abs)}, excluding hidden items:\n${out.join('\n')}`;
    }
    let r: [number, number] | undefined;
    if (range !== undefined) {
      if (!Array.isArray(range) || range.length !== 2 || !range.every((n) => Number.isInteger(n))) {
        throw new ToolError('view_range must be a list of two integers [start, end].');
      }
      r = [range[0] as number, range[1] as number];
    }
    const text = await this.readText(abs);
    const shown = numbered(text, r);
    if (!shown.ok) throw new ToolError(shown.error);
    const crlf = text.includes('\r\n') ? ' (the file has CRLF line endings, not shown; edits keep them)' : '';
    return `Here is the result of running \`cat -n\` on ${this.rel(abs)}${crlf}:\n${shown.text}`;
  }

  private async create(abs: string, text: unknown): Promise<string> {
    if (typeof text !== 'string') throw new ToolError('Parameter `file_text` is required for command create.');
    if (await stat(abs).catch(() => null)) throw new ToolError(`File already exists at ${this.rel(abs)}; create cannot overwrite it, use str_replace.`);
    await this.write(abs, text, null);
    return `File created successfully at ${this.rel(abs)}.`;
  }

  private async replace(abs: string, oldStr: unknown, newStr: unknown): Promise<string> {
    if (typeof oldStr !== 'string') throw new ToolError('Parameter `old_str` is required for command str_replace.');
    if (newStr !== undefined && typeof newStr !== 'string') throw new ToolError('Parameter `new_str` must be a string.');
    const content = await this.readText(abs);
    const r = strReplace(content, oldStr, (newStr as string | undefined) ?? '');
    if (!r.ok) throw new ToolError(r.error);
    await this.write(abs, r.content, content);
    const added = ((newStr as string | undefined) ?? '').split('\n').length - 1;
    return `The file ${this.rel(abs)} has been edited. Here is a snippet of the result:\n${snippet(r.content, r.line, added)}\nReview the changes and make sure they are as expected.`;
  }

  private async insert(abs: string, line: unknown, text: unknown): Promise<string> {
    if (typeof text !== 'string') throw new ToolError('Parameter `new_str` is required for command insert.');
    if (typeof line !== 'number') throw new ToolError('Parameter `insert_line` (an integer) is required for command insert.');
    const content = await this.readText(abs);
    const r = insertAfter(content, line, text);
    if (!r.ok) throw new ToolError(r.error);
    await this.write(abs, r.content, content);
    return `The file ${this.rel(abs)} has been edited. Here is a snippet of the result:\n${snippet(r.content, r.line, text.split('\n').length - 1)}\nReview the changes and make sure they are as expected.`;
  }

  private async undo(abs: string): Promise<string> {
    const h = this.history.get(abs);
    if (!h || h.length === 0) throw new ToolError(`No edit history found for ${this.rel(abs)}.`);
    const previous = h.pop()!;
    if (previous === null) {
      await rm(abs, { force: true });
      return `Last edit to ${this.rel(abs)} undone: the file it created was removed.`;
    }
    await writeFile(abs, previous);
    return `Last edit to ${this.rel(abs)} undone successfully.`;
  }
}

/** mkdir -p that reports the directories it created (so they can be given to the sandbox user). */
async function mkdirMissing(dir: string): Promise<string[]> {
  const created: string[] = [];
  let d = dir;
  while (!(await stat(d).catch(() => null))) {
    created.unshift(d);
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  if (created.length) await mkdir(dir, { recursive: true });
  return created;
}
