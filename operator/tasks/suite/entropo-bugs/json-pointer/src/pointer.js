// JSON Pointer (RFC 6901).

export class PointerError extends Error {
  constructor(message, pointer) {
    super(`${message}: ${JSON.stringify(pointer)}`);
    this.name = 'PointerError';
    this.pointer = pointer;
  }
}

const unescapeToken = (t, pointer) => {
  if (/~[^01]|~$/.test(t)) throw new PointerError('invalid escape', pointer);
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
};

const escapeToken = (t) => String(t).replace(/~/g, '~0').replace(/\//g, '~1');

/** '/a/b~1c' -> ['a', 'b/c']; '' -> [] (the whole document). */
export function parse(pointer) {
  if (Array.isArray(pointer)) return pointer.map(String);
  if (pointer === '') return [];
  if (typeof pointer !== 'string' || !pointer.startsWith('/')) throw new PointerError('pointer must be empty or start with "/"', pointer);
  return pointer.slice(1).split('/').map((t) => unescapeToken(t, pointer));
}

/** ['a', 'b/c'] -> '/a/b~1c'. */
export function compile(tokens) {
  return tokens.map((t) => `/${escapeToken(t)}`).join('');
}

export function fromFragment(fragment) {
  if (!fragment.startsWith('#')) throw new PointerError('fragment must start with "#"', fragment);
  return parse(decodeURIComponent(fragment.slice(1)));
}

export function toFragment(pointerOrTokens) {
  const tokens = parse(pointerOrTokens);
  return `#${tokens.map((t) => `/${encodeURIComponent(escapeToken(t)).replace(/%7E/gi, '~')}`).join('')}`;
}

const isIndex = (t) => /^(0|[1-9]\d*)$/.test(t);
const own = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);

function child(node, token, pointer) {
  if (Array.isArray(node)) {
    if (!isIndex(token)) throw new PointerError(`invalid array index ${JSON.stringify(token)}`, pointer);
    const i = Number(token);
    if (i >= node.length) throw new PointerError('index out of range', pointer);
    return node[i];
  }
  if (node !== null && typeof node === 'object' && own(node, token)) return node[token];
  throw new PointerError('no such path', pointer);
}

/** The value at pointer; throws PointerError when the path does not exist. */
export function get(doc, pointer) {
  let node = doc;
  for (const t of parse(pointer)) node = child(node, t, pointer);
  return node;
}

/** The value at pointer, or undefined. */
export function find(doc, pointer) {
  try {
    return get(doc, pointer);
  } catch (e) {
    if (e instanceof PointerError) return undefined;
    throw e;
  }
}

export function has(doc, pointer) {
  try {
    get(doc, pointer);
    return true;
  } catch (e) {
    if (e instanceof PointerError) return false;
    throw e;
  }
}

/**
 * Sets the value at pointer (mutating doc) and returns doc. Missing intermediate objects are
 * created when `create` is true. '-' appends to an array. The empty pointer cannot be set.
 */
export function set(doc, pointer, value, { create = false } = {}) {
  const tokens = parse(pointer);
  if (tokens.length === 0) throw new PointerError('cannot set the whole document', pointer);
  let node = doc;
  for (const t of tokens.slice(0, -1)) {
    if (create && node !== null && typeof node === 'object' && !Array.isArray(node) && !own(node, t)) node[t] = {};
    node = child(node, t, pointer);
  }
  const last = tokens[tokens.length - 1];
  if (Array.isArray(node)) {
    if (last === '-') node.push(value);
    else if (isIndex(last) && Number(last) <= node.length) node[Number(last)] = value;
    else throw new PointerError(`invalid array index ${JSON.stringify(last)}`, pointer);
  } else if (node !== null && typeof node === 'object') {
    node[last] = value;
  } else {
    throw new PointerError('cannot set a property of a scalar', pointer);
  }
  return doc;
}

/** Removes the value at pointer (mutating doc) and returns it. */
export function remove(doc, pointer) {
  const tokens = parse(pointer);
  if (tokens.length === 0) throw new PointerError('cannot remove the whole document', pointer);
  const parent = get(doc, compile(tokens.slice(0, -1)));
  const last = tokens[tokens.length - 1];
  const value = child(parent, last, pointer);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete parent[last];
  return value;
}

/** Every leaf (non-container value or empty container) by pointer. */
export function flatten(doc) {
  const out = {};
  const walk = (node, tokens) => {
    const entries = Array.isArray(node) ? node.map((v, i) => [String(i), v]) : node && typeof node === 'object' ? Object.entries(node) : null;
    if (!entries || entries.length === 0) {
      out[compile(tokens)] = node;
      return;
    }
    for (const [k, v] of entries) walk(v, [...tokens, k]);
  };
  walk(doc, []);
  return out;
}
