// Glob pattern matching for '/'-separated paths.

/** Splits a brace body at its top-level commas. */
function splitTopLevel(body) {
  const parts = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === '\\') {
      cur += ch + (body[i + 1] ?? '');
      i++;
      continue;
    }
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return parts;
}

/** Expands {a,b} alternatives and {1..3} ranges; a pattern without braces gives itself. */
export function expandBraces(pattern) {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        const pre = pattern.slice(0, start);
        const body = pattern.slice(start + 1, i);
        const post = pattern.slice(i + 1);
        const range = /^(-?\d+)\.\.(-?\d+)$/.exec(body);
        let alternatives;
        if (range) {
          const [a, b] = [Number(range[1]), Number(range[2])];
          const step = a <= b ? 1 : -1;
          alternatives = [];
          for (let n = a; n !== b + step; n += step) alternatives.push(String(n));
        } else {
          alternatives = splitTopLevel(body);
          if (alternatives.length < 2) {
            // "{x}" is not an alternative: keep the braces, expand what follows.
            return expandBraces(post).map((p) => `${pre}{${body}}${p}`);
          }
        }
        return alternatives.flatMap((alt) => expandBraces(pre + alt + post));
      }
    }
  }
  return [pattern];
}

const SPECIAL = /[.+^$()|{}[\]\\]/;

function classToRegExp(pattern, i) {
  // pattern[i] === '['; returns [regexSource, nextIndex] or null when unterminated.
  let j = i + 1;
  let negate = false;
  if (pattern[j] === '!' || pattern[j] === '^') {
    negate = true;
    j++;
  }
  let body = '';
  if (pattern[j] === ']') {
    body += '\\]';
    j++;
  }
  for (; j < pattern.length && pattern[j] !== ']'; j++) {
    const ch = pattern[j];
    if (ch === '\\' && j + 1 < pattern.length) {
      body += `\\${pattern[++j]}`;
    } else if (ch === '\\' || ch === '^' || ch === '[') {
      body += `\\${ch}`;
    } else {
      body += ch;
    }
  }
  if (j >= pattern.length) return null;
  return [negate ? `(?!/)[^${body}]` : `(?!/)[${body}]`, j + 1];
}

/** Regular-expression source for one brace-free pattern. */
function toSource(pattern, { dot }) {
  let src = '';
  const segStart = (k) => k === 0 || pattern[k - 1] === '/';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*' && segStart(i) && (i + 2 === pattern.length || pattern[i + 2] === '/')) {
      // globstar segment: zero or more directories
      const any = dot ? '[^/]*' : '(?!\\.)[^/]*';
      if (i + 2 === pattern.length) {
        src += `(?:${any}(?:/${any})*)?`;
        i += 1;
      } else {
        src += `(?:${any}/)*`;
        i += 2;
      }
      continue;
    }
    if (ch === '*') {
      while (pattern[i + 1] === '*') i++;
      src += segStart(i) && !dot ? '(?!\\.)[^/]*' : '[^/]*';
    } else if (ch === '?') {
      src += segStart(i) && !dot ? '(?!\\.)[^/]' : '[^/]';
    } else if (ch === '[') {
      const cls = classToRegExp(pattern, i);
      if (cls) {
        src += cls[0];
        i = cls[1] - 1;
      } else {
        src += '\\[';
      }
    } else if (ch === '\\' && i + 1 < pattern.length) {
      const next = pattern[++i];
      src += SPECIAL.test(next) || next === '*' || next === '?' ? `\\${next}` : next;
    } else if (SPECIAL.test(ch)) {
      src += `\\${ch}`;
    } else {
      src += ch;
    }
  }
  return src;
}

/** A RegExp matching whole paths; a leading "!" is not handled here (see isMatch). */
export function toRegExp(pattern, { dot = false, nocase = false } = {}) {
  const sources = expandBraces(pattern).map((p) => toSource(p, { dot }));
  return new RegExp(`^(?:${sources.join('|')})$`, nocase ? 'i' : '');
}

function compile(pattern, opts) {
  const negated = pattern.startsWith('!');
  const re = toRegExp(negated ? pattern.slice(1) : pattern, opts);
  return { negated, re };
}

/** Whether path matches pattern (a leading "!" inverts the result). */
export function isMatch(path, pattern, opts = {}) {
  const { negated, re } = compile(pattern, opts);
  return re.test(path) !== negated;
}

/** The paths whose last matching pattern is not negated (gitignore-style). */
export function filter(paths, patterns, opts = {}) {
  const compiled = patterns.map((p) => compile(p, opts));
  return paths.filter((p) => {
    let keep = false;
    for (const { negated, re } of compiled) {
      if (re.test(p)) keep = !negated;
    }
    return keep;
  });
}
