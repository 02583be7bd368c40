/**
 * safetensors (https://github.com/huggingface/safetensors) reader and writer.
 * Format: u64 little-endian header length N, N bytes of JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}, then the raw
 * little-endian tensor bytes. We read F32, F16 and BF16 (converted to f32) and write F32.
 * No maintained npm package reads and writes local files (the "safetensors" package is an
 * unmaintained 0.0.1 stub; @huggingface/hub only parses remote headers), so this is our own.
 */

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
export function readSafetensors(buf: Uint8Array, what = 'safetensors'): { tensors: TensorMap; metadata: Record<string, string> } {
  if (buf.byteLength < 8) throw new Error(`${what}: too short for a safetensors header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > buf.byteLength) throw new Error(`${what}: header length ${n} exceeds the file size ${buf.byteLength}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${what}: header is not JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as HeaderEntry;
    const bytes = BYTES[e.dtype];
    if (!bytes) throw new Error(`${what}: tensor ${name} has dtype ${e.dtype}; supported: F32, F16, BF16`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = e.data_offsets;
    if (end - begin !== count * bytes || base + end > buf.byteLength) {
      throw new Error(`${what}: tensor ${name} offsets [${begin}, ${end}] do not match shape ${JSON.stringify(e.shape)} ${e.dtype}`);
    }
    const data = new Float32Array(count);
    const off = base + begin;
    if (e.dtype === 'F32') {
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(off + 4 * i, true);
    } else if (e.dtype === 'F16') {
      for (let i = 0; i < count; i++) data[i] = halfToFloat(view.getUint16(off + 2 * i, true));
    } else {
      const u32 = new Uint32Array(1);
      const f32 = new Float32Array(u32.buffer);
      for (let i = 0; i < count; i++) {
        u32[0] = view.getUint16(off + 2 * i, true) << 16;
        data[i] = f32[0];
      }
    }
    tensors.set(name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** Serialises tensors as F32 safetensors (names sorted, as the Python library does). */
export function writeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Uint8Array {
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
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let pos = 8 + hbytes.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    for (let i = 0; i < d.length; i++) view.setFloat32(pos + 4 * i, d[i], true);
    pos += 4 * d.length;
  }
  return out;
}
