// A tiny logic-less templating engine: a Mustache subset plus filters.

export class TemplateError extends Error {
  constructor(message, line) {
    super(`${message} (line ${line})`);
    this.name = 'TemplateError';
    this.line = line;
  }
}

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);

export const BUILTIN_FILTERS = {
  upper: (v) => String(v).toUpperCase(),
  lower: (v) => String(v).toLowerCase(),
  trim: (v) => String(v).trim(),
  json: (v) => JSON.stringify(v),
};

const TAG = /\{\{\{\s*([\s\S]+?)\s*\}\}\}|\{\{\s*([#^/!>&]?)\s*([\s\S]*?)\s*\}\}/g;

/** Template text -> tree of nodes: text, var, section, inverted, partial. */
export function parse(template) {
  const root = { type: 'root', children: [] };
  const stack = [root];
  let last = 0;
  const lineAt = (i) => template.slice(0, i).split('\n').length;
  for (const m of template.matchAll(TAG)) {
    const top = stack[stack.length - 1];
    if (m.index > last) top.children.push({ type: 'text', text: template.slice(last, m.index) });
    last = m.index + m[0].length;
    if (m[1] !== undefined) {
      top.children.push({ type: 'var', expr: m[1], escape: false });
      continue;
    }
    const sigil = m[2];
    const body = m[3];
    switch (sigil) {
      case '!':
        break;
      case '#':
      case '^': {
        const node = { type: sigil === '#' ? 'section' : 'inverted', name: body, children: [], line: lineAt(m.index) };
        top.children.push(node);
        stack.push(node);
        break;
      }
      case '/': {
        if (stack.length === 1 || top.name !== body) {
          throw new TemplateError(`unexpected closing tag {{/${body}}}${stack.length > 1 ? `, expected {{/${top.name}}}` : ''}`, lineAt(m.index));
        }
        stack.pop();
        break;
      }
      case '>':
        top.children.push({ type: 'partial', name: body });
        break;
      default:
        if (body === '') throw new TemplateError('empty tag', lineAt(m.index));
        top.children.push({ type: 'var', expr: body, escape: sigil !== '&' });
    }
  }
  if (stack.length > 1) {
    const open = stack[stack.length - 1];
    throw new TemplateError(`unclosed section {{#${open.name}}}`, open.line);
  }
  if (last < template.length) root.children.push({ type: 'text', text: template.slice(last) });
  return root;
}

/** Resolves a (dotted) name against the context stack, innermost first. */
export function lookup(stack, name) {
  if (name === '.') return stack[stack.length - 1];
  const [first, ...rest] = name.split('.');
  for (let i = stack.length - 1; i >= 0; i--) {
    const ctx = stack[i];
    if (ctx !== null && typeof ctx === 'object' && first in ctx) {
      let v = ctx[first];
      for (const part of rest) v = v == null ? undefined : v[part];
      return typeof v === 'function' ? v.call(ctx) : v;
    }
  }
  return undefined;
}

function evaluate(expr, stack, filters) {
  const [name, ...names] = expr.split('|').map((s) => s.trim());
  return names.reduce((value, f) => {
    const fn = filters[f];
    if (!fn) throw new TemplateError(`unknown filter "${f}"`, 0);
    return fn(value);
  }, lookup(stack, name));
}

function renderNodes(nodes, stack, opts, depth) {
  let out = '';
  for (const node of nodes) {
    switch (node.type) {
      case 'text':
        out += node.text;
        break;
      case 'var': {
        const v = evaluate(node.expr, stack, opts.filters);
        const s = v ?? '';
        out += node.escape ? escapeHtml(s) : String(s);
        break;
      }
      case 'section': {
        const v = lookup(stack, node.name);
        if (Array.isArray(v)) {
          for (const item of v) out += renderNodes(node.children, [...stack, item], opts, depth);
        } else if (v) {
          out += renderNodes(node.children, typeof v === 'object' ? [...stack, v] : stack, opts, depth);
        }
        break;
      }
      case 'inverted': {
        const v = lookup(stack, node.name);
        if (!v || (Array.isArray(v) && v.length === 0)) out += renderNodes(node.children, stack, opts, depth);
        break;
      }
      case 'partial': {
        const text = opts.partials[node.name];
        if (text === undefined) break;
        if (depth > 20) throw new TemplateError(`partial recursion too deep at "${node.name}"`, 0);
        out += renderNodes(parse(text).children, stack, opts, depth + 1);
        break;
      }
    }
  }
  return out;
}

/** Renders a template with data. options: { partials, filters }. */
export function render(template, data = {}, { partials = {}, filters = {} } = {}) {
  const tree = parse(template);
  return renderNodes(tree.children, [data], { partials, filters: { ...BUILTIN_FILTERS, ...filters } }, 0);
}
