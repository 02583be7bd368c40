// Semantic versioning 2.0.0: parsing, precedence, increments and ranges.

const NUM = '0|[1-9]\\d*';
const IDENT = '[0-9A-Za-z-]+';
const SEMVER = new RegExp(
  `^v?(${NUM})\\.(${NUM})\\.(${NUM})` +
    `(?:-(${IDENT}(?:\\.${IDENT})*))?` +
    `(?:\\+(${IDENT}(?:\\.${IDENT})*))?$`,
);

export class SemVer {
  constructor(major, minor, patch, prerelease = [], build = []) {
    this.major = major;
    this.minor = minor;
    this.patch = patch;
    this.prerelease = prerelease;
    this.build = build;
  }

  get version() {
    let v = `${this.major}.${this.minor}.${this.patch}`;
    if (this.prerelease.length) v += `-${this.prerelease.join('.')}`;
    return v;
  }

  toString() {
    return this.build.length ? `${this.version}+${this.build.join('.')}` : this.version;
  }
}

const toIdent = (s) => (/^\d+$/.test(s) ? Number(s) : s);

/** Parses a version string; returns null when it is not a valid semantic version. */
export function parse(input) {
  if (input instanceof SemVer) return input;
  if (typeof input !== 'string') return null;
  const m = SEMVER.exec(input.trim());
  if (!m) return null;
  const pre = m[4] ? m[4].split('.') : [];
  if (pre.some((p) => /^0\d+$/.test(p))) return null; // numeric identifiers: no leading zeros
  return new SemVer(Number(m[1]), Number(m[2]), Number(m[3]), pre.map(toIdent), m[5] ? m[5].split('.') : []);
}

export const valid = (input) => {
  const v = parse(input);
  return v ? v.version : null;
};

function compareIdentifiers(a, b) {
  const an = typeof a === 'number';
  const bn = typeof b === 'number';
  if (an && bn) return a === b ? 0 : a < b ? -1 : 1;
  if (an) return -1; // numeric identifiers have lower precedence
  if (bn) return 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

function comparePrerelease(a, b) {
  if (!a.length && !b.length) return 0;
  if (!a.length) return 1; // a release sorts after its prereleases
  if (!b.length) return -1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === undefined) return -1; // fewer identifiers: lower precedence
    if (b[i] === undefined) return 1;
    const c = compareIdentifiers(a[i], b[i]);
    if (c !== 0) return c;
  }
  return 0;
}

/** -1, 0 or 1. Build metadata does not take part in precedence. */
export function compare(a, b) {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) throw new TypeError(`Invalid version: ${!x ? a : b}`);
  for (const k of ['major', 'minor', 'patch']) {
    if (x[k] !== y[k]) return x[k] < y[k] ? -1 : 1;
  }
  return comparePrerelease(x.prerelease, y.prerelease);
}

export const gt = (a, b) => compare(a, b) > 0;
export const lt = (a, b) => compare(a, b) < 0;
export const eq = (a, b) => compare(a, b) === 0;
export const gte = (a, b) => compare(a, b) >= 0;
export const lte = (a, b) => compare(a, b) <= 0;

export const sort = (list) => [...list].sort(compare);
export const rsort = (list) => [...list].sort((a, b) => compare(b, a));

/** Increments a version: 'major', 'minor', 'patch' or 'prerelease'. Returns a string or null. */
export function inc(input, release, identifier) {
  const v = parse(input);
  if (!v) return null;
  const pre = v.prerelease;
  switch (release) {
    case 'major':
      // 1.0.0-rc.1 -> 1.0.0; 1.2.3 -> 2.0.0
      if (!(v.minor === 0 && v.patch === 0 && pre.length)) v.major++;
      v.minor = 0;
      v.patch = 0;
      v.prerelease = [];
      break;
    case 'minor':
      if (!(v.patch === 0 && pre.length)) v.minor++;
      v.patch = 0;
      v.prerelease = [];
      break;
    case 'patch':
      if (!pre.length) v.patch++;
      v.prerelease = [];
      break;
    case 'prerelease':
      if (!pre.length) {
        v.patch++;
        v.prerelease = identifier ? [identifier, 0] : [0];
      } else if (typeof pre[pre.length - 1] === 'number') {
        v.prerelease = [...pre.slice(0, -1), pre[pre.length - 1] + 1];
      } else {
        v.prerelease = [...pre, 0];
      }
      break;
    default:
      return null;
  }
  v.build = [];
  return v.version;
}

// ---- ranges ---------------------------------------------------------------------------------

const isX = (s) => s === undefined || s === '' || s === 'x' || s === 'X' || s === '*';

/** "1.2" -> {parts: [1, 2, undefined], pre: []}; x/X/* are wildcards. */
function partial(text) {
  const m = /^v?(\d+|[xX*])?(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(text);
  if (!m) throw new TypeError(`Invalid comparator: ${text}`);
  const parts = [m[1], m[2], m[3]].map((p) => (isX(p) ? undefined : Number(p)));
  for (let i = 1; i < 3; i++) if (parts[i - 1] === undefined) parts[i] = undefined;
  return { parts, pre: m[4] ? m[4].split('.').map(toIdent) : [] };
}

const ver = (M, m, p, pre = []) => new SemVer(M, m, p, pre);
const cmp = (op, v) => ({ op, v });
/** An upper bound like <2.0.0-0 that the range syntax implies (not written by the user). */
const below = (v) => ({ op: '<', v, implied: true });

/** Expands one range token (with its operator) into primitive comparators {op, v}. */
function desugar(op, text) {
  const { parts, pre } = partial(text);
  const [M, m, p] = parts;
  if (op === '^') {
    if (M === undefined) return [];
    const lo = ver(M, m ?? 0, p ?? 0, pre);
    let hi;
    if (M > 0 || m === undefined) hi = ver(M + 1, 0, 0, [0]);
    else if (m > 0 || p === undefined) hi = ver(0, m + 1, 0, [0]);
    else hi = ver(0, 0, p + 1, [0]);
    return [cmp('>=', lo), below(hi)];
  }
  if (op === '~') {
    if (M === undefined) return [];
    const lo = ver(M, m ?? 0, p ?? 0, pre);
    const hi = m === undefined ? ver(M + 1, 0, 0, [0]) : ver(M, m + 1, 0, [0]);
    return [cmp('>=', lo), below(hi)];
  }
  if (M === undefined) return op === '<' || op === '>' ? [below(ver(0, 0, 0, [0]))] : [];
  if (m === undefined || p === undefined) {
    // x-range: 1.x, 1.2.x
    const lo = ver(M, m ?? 0, 0);
    const hi = m === undefined ? ver(M + 1, 0, 0, [0]) : ver(M, m + 1, 0, [0]);
    switch (op) {
      case '':
      case '=':
        return [cmp('>=', lo), below(hi)];
      case '>':
        return [cmp('>=', hi)];
      case '>=':
        return [cmp('>=', lo)];
      case '<':
        return [below(ver(lo.major, lo.minor, 0, [0]))];
      case '<=':
        return [below(hi)];
    }
  }
  return [cmp(op || '=', ver(M, m, p, pre))];
}

/** Parses a range into a list of comparator sets (the || alternatives). */
export function parseRange(range) {
  return String(range)
    .split('||')
    .map((alt) => {
      const text = alt.trim().replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1');
      const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(text);
      if (hyphen) {
        const from = partial(hyphen[1]);
        const to = partial(hyphen[2]);
        const lo = ver(from.parts[0] ?? 0, from.parts[1] ?? 0, from.parts[2] ?? 0, from.pre);
        let hi;
        if (to.parts[0] === undefined) hi = [];
        else if (to.parts[1] === undefined) hi = [below(ver(to.parts[0] + 1, 0, 0, [0]))];
        else if (to.parts[2] === undefined) hi = [below(ver(to.parts[0], to.parts[1] + 1, 0, [0]))];
        else hi = [cmp('<=', ver(to.parts[0], to.parts[1], to.parts[2], to.pre))];
        return [cmp('>=', lo), ...hi];
      }
      if (text === '') return [];
      return text.split(/\s+/).flatMap((tok) => {
        const m = /^(>=|<=|>|<|=|\^|~)?(.*)$/.exec(tok);
        return desugar(m[1] ?? '', m[2]);
      });
    });
}

function test(set, v) {
  for (const { op, v: c } of set) {
    const r = compare(v, c);
    const ok = op === '=' ? r === 0 : op === '>' ? r > 0 : op === '>=' ? r >= 0 : op === '<' ? r < 0 : r <= 0;
    if (!ok) return false;
  }
  if (v.prerelease.length) {
    // A prerelease only matches when a comparator names the same tuple with a prerelease.
    return set.some(
      ({ v: c, implied }) =>
        !implied && c.prerelease.length > 0 && c.major === v.major && c.minor === v.minor && c.patch === v.patch,
    );
  }
  return true;
}

/** Whether a version satisfies a range. */
export function satisfies(version, range) {
  const v = parse(version);
  if (!v) return false;
  return parseRange(range).some((set) => test(set, v));
}

/** The highest version in the list that satisfies the range, or null. */
export function maxSatisfying(versions, range) {
  const ok = versions.filter((v) => satisfies(v, range));
  return ok.length ? rsort(ok)[0] : null;
}

/** The lowest version in the list that satisfies the range, or null. */
export function minSatisfying(versions, range) {
  const ok = versions.filter((v) => satisfies(v, range));
  return ok.length ? sort(ok)[0] : null;
}
