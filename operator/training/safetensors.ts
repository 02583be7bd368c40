/**
 * safetensors (https://github.com/huggingface/safetensors) reader and writer.
 * Format: u64 little-endian header length N, N bytes of JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}, then the raw
 * little-endian tensor bytes. We read F32, F16 and BF16 (converted to f32) and write F32.
 * Files are read through a file handle (the header, then each tensor's byte range) and written the
 * same way, so checkpoints above 2 GiB (a 1.5B-parameter bf16 model is ~3 GB) need no whole-file
 * buffer; readSafetensors / writeSafetensors keep the in-memory forms for small data.
 * No maintained npm package reads and writes local files (the "safetensors" package is an
 * unmaintained 0.0.1 stub; @huggingface/hub only parses remote headers), so this is our own.
 */

import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export type TensorMap = Map<string, NamedTensor>;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

/** IEEE 754 half -> float. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Parses a safetensors buffer. Throws on a malformed file or an unsupported dtype, naming the tensor. */
/** Decodes `count` values of `dtype` from little-endian bytes into out (at out offset `at`). */
function decode(bytes: Uint8Array, dtype: string, out: Float32Array, at: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.byteLength / BYTES[dtype];
  if (dtype === 'F32') {
    for (let i = 0; i < count; i++) out[at + i] = view.getFloat32(4 * i, true);
  } else if (dtype === 'F16') {
    for (let i = 0; i < count; i++) out[at + i] = halfToFloat(view.getUint16(2 * i, true));
  } else {
    const u32 = new Uint32Array(1);
    const f32 = new Float32Array(u32.buffer);
    for (let i = 0; i < count; i++) {
      u32[0] = view.getUint16(2 * i, true) << 16;
      out[at + i] = f32[0];
    }
  }
}

function parseHeader(json: Uint8Array, what: string): Record<string, unknown> {
  try {
    return JSON.parse(new TextDecoder().decode(json)) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${what}: header is not JSON (${(e as Error).message})`);
  }
}

function checkEntry(what: string, name: string, e: HeaderEntry, dataBytes: number): number {
  const bytes = BYTES[e.dtype];
  if (!bytes) throw new Error(`${what}: tensor ${name} has dtype ${e.dtype}; supported: F32, F16, BF16`);
  const count = e.shape.reduce((a, b) => a * b, 1);
  const [begin, end] = e.data_offsets;
  if (end - begin !== count * bytes || end > dataBytes || begin < 0) {
    throw new Error(`${what}: tensor ${name} offsets [${begin}, ${end}] do not match shape ${JSON.stringify(e.shape)} ${e.dtype}`);
  }
  return count;
}

/** Bytes read per readSync call (a tensor larger than this is read in pieces). */
const READ_PIECE = 256 * 1024 * 1024;

/**
 * Reads a safetensors FILE through a file handle: the header, then each tensor's byte range (no
 * whole-file buffer; files and offsets beyond 2 GiB work). `only` selects tensors by name.
 * Errors name the file and the tensor.
 */
export function readSafetensorsFile(file: string, opts: { only?: (name: string) => boolean } = {}): { tensors: TensorMap; metadata: Record<string, string> } {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(8);
    if (size < 8 || readSync(fd, head, 0, 8, 0) !== 8) throw new Error(`${file}: too short for a safetensors header`);
    const n = Number(head.readBigUInt64LE(0));
    if (n <= 0 || 8 + n > size) throw new Error(`${file}: header length ${n} exceeds the file size ${size}`);
    const hbuf = Buffer.alloc(n);
    readSync(fd, hbuf, 0, n, 8);
    const header = parseHeader(hbuf, file);
    const base = 8 + n;
    const tensors: TensorMap = new Map();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = raw as Record<string, string>;
        continue;
      }
      if (opts.only && !opts.only(name)) continue;
      const e = raw as HeaderEntry;
      const count = checkEntry(file, name, e, size - base);
      const width = BYTES[e.dtype];
      const data = new Float32Array(count);
      const perPiece = Math.floor(READ_PIECE / width);
      for (let i = 0; i < count; i += perPiece) {
        const k = Math.min(perPiece, count - i);
        const buf = Buffer.alloc(k * width);
        const got = readSync(fd, buf, 0, k * width, base + e.data_offsets[0] + i * width);
        if (got !== k * width) throw new Error(`${file}: tensor ${name}: short read (${got} of ${k * width} bytes)`);
        decode(buf, e.dtype, data, i);
      }
      tensors.set(name, { shape: e.shape, data });
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/** Writes tensors as an F32 safetensors FILE through a file handle (names sorted; no whole-file buffer). */
export function writeSafetensorsFile(file: string, tensors: TensorMap, metadata: Record<string, string> = {}): void {
  const { header, names } = layout(tensors, metadata);
  const fd = openSync(file, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length), 0);
    writeSync(fd, len);
    writeSync(fd, header);
    for (const name of names) {
      const d = tensors.get(name)!.data;
      const le = Buffer.alloc(4 * d.length);
      for (let i = 0; i < d.length; i++) le.writeFloatLE(d[i], 4 * i);
      writeSync(fd, le);
    }
  } finally {
    closeSync(fd);
  }
}

function layout(tensors: TensorMap, metadata: Record<string, string>): { header: Uint8Array; names: string[]; dataBytes: number } {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor ${name}: shape ${JSON.stringify(t.shape)} does not match ${t.data.length} values`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // align the data to 8 bytes
  return { header: new TextEncoder().encode(json), names, dataBytes: offset };
}

/** Parses a safetensors buffer (small data; files: readSafetensorsFile). Throws on a malformed file or an unsupported dtype, naming the tensor. */
export function readSafetensors(buf: Uint8Array, what = 'safetensors'): { tensors: TensorMap; metadata: Record<string, string> } {
  if (buf.byteLength < 8) throw new Error(`${what}: too short for a safetensors header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > buf.byteLength) throw new Error(`${what}: header length ${n} exceeds the file size ${buf.byteLength}`);
  const header = parseHeader(buf.subarray(8, 8 + n), what);
  const base = 8 + n;
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as HeaderEntry;
    const count = checkEntry(what, name, e, buf.byteLength - base);
    const data = new Float32Array(count);
    decode(buf.subarray(base + e.data_offsets[0], base + e.data_offsets[1]), e.dtype, data, 0);
    tensors.set(name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** Serialises tensors as F32 safetensors (names sorted, as the Python library does). */
export function writeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Uint8Array {
  const { header, names, dataBytes } = layout(tensors, metadata);
  const out = new Uint8Array(8 + header.length + dataBytes);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let pos = 8 + header.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    for (let i = 0; i < d.length; i++) view.setFloat32(pos + 4 * i, d[i], true);
    pos += 4 * d.length;
  }
  return out;
}
