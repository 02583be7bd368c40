/**
 * Cutting text without cutting characters. Every place that shortens text for a log, a status
 * message, an observation or a termination message goes through these, so no cut leaves half a
 * UTF-8 sequence (a replacement character once decoded) or a lone UTF-16 surrogate (invalid
 * JSON for strict readers). Units: *Utf8* functions count bytes; the others count UTF-16 code
 * units (JavaScript string length). Pure.
 */

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** The first at most `max` code units of s, one fewer when the cut would split a surrogate pair. */
export function headChars(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = Math.max(0, max);
  if (end > 0 && isHigh(s.charCodeAt(end - 1)) && isLow(s.charCodeAt(end))) end--;
  return s.slice(0, end);
}

/** The last at most `max` code units of s, one fewer when the cut would split a surrogate pair. */
export function tailChars(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max <= 0) return '';
  let start = s.length - max;
  if (isLow(s.charCodeAt(start)) && isHigh(s.charCodeAt(start - 1))) start++;
  return s.slice(start);
}

/**
 * s shortened to at most `max` code units (marker included when it fits), keeping its head and
 * tail and saying how many characters were left out: "head\n[... N characters omitted ...]\ntail".
 */
export function headTailChars(s: string, max: number, marker = (n: number) => `\n[... ${n} characters omitted ...]\n`): string {
  if (s.length <= max) return s;
  const room = Math.max(0, max - marker(s.length).length);
  const head = headChars(s, Math.ceil(room / 2));
  const tail = tailChars(s, room - Math.ceil(room / 2));
  return `${head}${marker(s.length - head.length - tail.length)}${tail}`;
}

/**
 * End (exclusive) of the longest prefix of bytes[0, n) made of whole characters: a last
 * character whose sequence is not complete within n bytes is left out. Works on a prefix of a
 * longer stream too (the bytes after n need not be there).
 */
export function utf8HeadEnd(bytes: Uint8Array, n: number): number {
  const end = Math.min(Math.max(0, n), bytes.length);
  let i = end - 1;
  for (let k = 0; i >= 0 && k < 3 && (bytes[i] & 0xc0) === 0x80; k++) i--;
  if (i < 0) return 0;
  const b = bytes[i];
  const need = b < 0x80 ? 1 : (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 1;
  return end - i >= need ? end : i;
}

/** Start of the longest suffix of bytes[start, len) that starts on a character boundary. */
export function utf8TailStart(bytes: Uint8Array, start: number): number {
  let s = Math.min(Math.max(0, start), bytes.length);
  while (s < bytes.length && (bytes[s] & 0xc0) === 0x80) s++;
  return s;
}

/** The first at most `maxBytes` bytes of UTF-8 text, as whole characters. */
export function headUtf8(text: string | Uint8Array, maxBytes: number): string {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  return bytes.subarray(0, utf8HeadEnd(bytes, maxBytes)).toString('utf8');
}

/** The last at most `maxBytes` bytes of UTF-8 text, as whole characters. */
export function tailUtf8(text: string | Uint8Array, maxBytes: number): string {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  return bytes.subarray(utf8TailStart(bytes, bytes.length - Math.max(0, maxBytes))).toString('utf8');
}
