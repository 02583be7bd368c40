// URL query strings: parse into nested objects/arrays, stringify back.

function decode(s) {
  const text = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // malformed escape: keep it as it is
  }
}

/** 'a[b][]' -> ['a', 'b', ''] (at most depth bracket segments; the rest stays in the last one). */
export function splitKey(key, depth = 5) {
  const first = /^[^[]*/.exec(key)[0];
  const parts = first === '' && key.startsWith('[') ? [] : [first];
  let rest = key.slice(first.length);
  let n = 0;
  while (rest.startsWith('[') && n < depth) {
    const close = rest.indexOf(']');
    if (close < 0) break;
    parts.push(rest.slice(1, close));
    rest = rest.slice(close + 1);
    n++;
  }
  if (rest) parts.push(rest); // past depth (or unbalanced): the rest stays one literal key
  return parts.length ? parts : [key];
}

const isIndex = (s) => /^(0|[1-9]\d{0,3})$/.test(s);

function assign(target, parts, value) {
  const [head, ...tail] = parts;
  if (tail.length === 0) {
    if (Array.isArray(target)) {
      if (head === '') target.push(value);
      else target.__indexed.push([Number(head), value]);
      return;
    }
    if (head in target) {
      target[head] = Array.isArray(target[head]) ? [...target[head], value] : [target[head], value];
    } else {
      target[head] = value;
    }
    return;
  }
  const wantsArray = tail[0] === '' || isIndex(tail[0]);
  let child = Array.isArray(target) ? undefined : target[head];
  if (child === undefined || typeof child !== 'object') {
    child = wantsArray ? Object.defineProperty([], '__indexed', { value: [], writable: true }) : {};
    if (Array.isArray(target)) target.push(child);
    else target[head] = child;
  }
  if (Array.isArray(child) && !child.__indexed) Object.defineProperty(child, '__indexed', { value: [], writable: true });
  if (Array.isArray(child) && !wantsArray) {
    // a[0]=x&a[b]=y: the array becomes an object keyed by index.
    const obj = Object.fromEntries(child.map((v, i) => [String(i), v]));
    for (const [i, v] of child.__indexed) obj[String(i)] = v;
    target[head] = obj;
    assign(obj, tail, value);
    return;
  }
  assign(child, tail, value);
}

function finish(node) {
  if (Array.isArray(node)) {
    const indexed = [...(node.__indexed ?? [])].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    const out = [...indexed, ...node].map(finish);
    return out;
  }
  if (node && typeof node === 'object') {
    for (const k of Object.keys(node)) node[k] = finish(node[k]);
  }
  return node;
}

/** Parses a query string (with or without the leading '?'). */
export function parse(query, { depth = 5 } = {}) {
  const out = {};
  const text = String(query ?? '').replace(/^\?/, '');
  if (!text) return out;
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    const key = decode(rawKey);
    if (!key) continue;
    assign(out, splitKey(key, depth), decode(rawValue));
  }
  return finish(out);
}

function encode(s, space) {
  const e = encodeURIComponent(String(s));
  return space === '+' ? e.replace(/%20/g, '+') : e;
}

/** Serialises an object into a query string (without the leading '?'). */
export function stringify(obj, { arrayFormat = 'repeat', space = '%20', sort = false } = {}) {
  const pairs = [];
  const emit = (key, value) => {
    if (value === undefined) return;
    if (value === null) {
      pairs.push(encode(key, space));
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => {
        const k = arrayFormat === 'brackets' ? `${key}[]` : arrayFormat === 'indices' ? `${key}[${i}]` : key;
        emit(k, v);
      });
    } else if (typeof value === 'object') {
      const keys = Object.keys(value);
      for (const k of sort ? keys.sort() : keys) emit(`${key}[${k}]`, value[k]);
    } else {
      pairs.push(`${encode(key, space)}=${encode(value, space)}`);
    }
  };
  const keys = Object.keys(obj ?? {});
  for (const k of sort ? keys.sort() : keys) emit(k, obj[k]);
  return pairs.join('&');
}
