// GGUF writer: version 3, little-endian, alignment 32 by default, metadata of
// every value type (nested arrays included), tensors of any GGML type whose
// bytes the caller provides (quantize first with fuselm's quantize()).
// llama.cpp checks metadata types strictly (block_count must be a u32,
// rope.freq_base an f32, ...): give model hyperparameters with the typed
// helpers in `gguf`, e.g. `gguf.u32(22)`, not as bare numbers.
import * as fs from 'fs';
import { checkOptionKeys, keysOf } from '../check';
import { DTYPES, DType, isDType } from '../dtype';
import { Tensor } from '../tensor';
import { GGML_TYPES, GGUF_MAGIC, GgufArray, GgufKV, GgufType, GgufValue, GGUF_TYPE_NAMES } from './gguf';

/** Typed metadata values. */
export const gguf = {
  u8: (v: number): GgufKV => ({ type: GgufType.UINT8, value: v }),
  i8: (v: number): GgufKV => ({ type: GgufType.INT8, value: v }),
  u16: (v: number): GgufKV => ({ type: GgufType.UINT16, value: v }),
  i16: (v: number): GgufKV => ({ type: GgufType.INT16, value: v }),
  u32: (v: number): GgufKV => ({ type: GgufType.UINT32, value: v }),
  i32: (v: number): GgufKV => ({ type: GgufType.INT32, value: v }),
  f32: (v: number): GgufKV => ({ type: GgufType.FLOAT32, value: v }),
  f64: (v: number): GgufKV => ({ type: GgufType.FLOAT64, value: v }),
  u64: (v: number | bigint): GgufKV => ({ type: GgufType.UINT64, value: BigInt(v) }),
  i64: (v: number | bigint): GgufKV => ({ type: GgufType.INT64, value: BigInt(v) }),
  bool: (v: boolean): GgufKV => ({ type: GgufType.BOOL, value: v }),
  str: (v: string): GgufKV => ({ type: GgufType.STRING, value: v }),
  /** an array value; items as a typed array, or a plain array converted to `itemType` */
  array: (itemType: GgufType, items: GgufArray['items'] | readonly (number | bigint)[]): GgufKV => ({
    type: GgufType.ARRAY, value: { itemType, items: items as GgufArray['items'] },
  }),
  strs: (v: readonly string[]): GgufKV => ({ type: GgufType.ARRAY, value: { itemType: GgufType.STRING, items: v.slice() } }),
  f32s: (v: ArrayLike<number>): GgufKV => ({ type: GgufType.ARRAY, value: { itemType: GgufType.FLOAT32, items: Float32Array.from(v) } }),
  i32s: (v: ArrayLike<number>): GgufKV => ({ type: GgufType.ARRAY, value: { itemType: GgufType.INT32, items: Int32Array.from(v) } }),
};

/**
 * A metadata value to write: a typed GgufKV (see `gguf`), or a plain value: a string, a boolean, a bigint
 * (i64), an integer (u32; i32 when negative), another number (f32), or a string array.
 */
export type GgufMetaInput = GgufKV | string | boolean | number | bigint | readonly string[];

/** A tensor to write. */
export interface GgufTensorInput {
  name: string;
  /** row-major shape, outermost first (GGUF stores it reversed as ne) */
  shape: readonly number[];
  /** the tensor's type: a fuselm dtype or a GGML type id */
  type: DType | number;
  /** exactly the tensor's bytes (a contiguous Tensor or raw bytes) */
  data: Uint8Array | Tensor;
}

/** What writeGguf / encodeGguf write: metadata (in the given order) and tensors (each aligned). */
export interface GgufWriteOptions {
  metadata?: Map<string, GgufMetaInput> | Record<string, GgufMetaInput>;
  tensors?: readonly GgufTensorInput[];
  /** data alignment, a power of two (default 32); written as general.alignment when not 32 */
  alignment?: number;
  /** GGUF version to write: 3 (default) or 2 */
  version?: 2 | 3;
}
const GGUF_WRITE_KEYS = keysOf<GgufWriteOptions>({ metadata: 1, tensors: 1, alignment: 1, version: 1 });

function toKV(key: string, v: GgufMetaInput): GgufKV {
  if (typeof v === 'string') return gguf.str(v);
  if (typeof v === 'boolean') return gguf.bool(v);
  if (typeof v === 'bigint') return gguf.i64(v);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) return gguf.u32(v);
    if (Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return gguf.i32(v);
    return gguf.f32(v);
  }
  if (Array.isArray(v)) return gguf.strs(v as string[]);
  if (v && typeof v === 'object' && 'type' in v && 'value' in v) return v as GgufKV;
  throw new TypeError(`writeGguf: Expected a GGUF value (use the gguf.* helpers) for metadata '${key}' but received ${typeof v}`);
}

class ByteSink {
  buf = new Uint8Array(1 << 16);
  dv = new DataView(this.buf.buffer);
  len = 0;
  private te = new TextEncoder();
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
    this.dv = new DataView(nb.buffer);
  }
  u8(v: number): void { this.reserve(1); this.dv.setUint8(this.len, v); this.len += 1; }
  u32(v: number): void { this.reserve(4); this.dv.setUint32(this.len, v, true); this.len += 4; }
  u64(v: number | bigint): void { this.reserve(8); this.dv.setBigUint64(this.len, BigInt(v), true); this.len += 8; }
  bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.len); this.len += b.length; }
  string(s: string): void { const b = this.te.encode(s); this.u64(b.length); this.bytes(b); }
  pad(alignment: number): void { const n = (alignment - (this.len % alignment)) % alignment; this.reserve(n); this.buf.fill(0, this.len, this.len + n); this.len += n; }
}

function checkIntRange(key: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new RangeError(`writeGguf: Expected integer in [${lo}, ${hi}] for metadata '${key}' but received ${String(v)}`);
  }
  return v;
}

function writeScalar(s: ByteSink, key: string, type: GgufType, v: unknown): void {
  const dv = () => { s.reserve(8); return s.dv; };
  switch (type) {
    case GgufType.UINT8: dv().setUint8(s.len, checkIntRange(key, v, 0, 255)); s.len += 1; return;
    case GgufType.INT8: dv().setInt8(s.len, checkIntRange(key, v, -128, 127)); s.len += 1; return;
    case GgufType.UINT16: dv().setUint16(s.len, checkIntRange(key, v, 0, 65535), true); s.len += 2; return;
    case GgufType.INT16: dv().setInt16(s.len, checkIntRange(key, v, -32768, 32767), true); s.len += 2; return;
    case GgufType.UINT32: dv().setUint32(s.len, checkIntRange(key, v, 0, 2 ** 32 - 1), true); s.len += 4; return;
    case GgufType.INT32: dv().setInt32(s.len, checkIntRange(key, v, -(2 ** 31), 2 ** 31 - 1), true); s.len += 4; return;
    case GgufType.FLOAT32: dv().setFloat32(s.len, Number(v), true); s.len += 4; return;
    case GgufType.FLOAT64: dv().setFloat64(s.len, Number(v), true); s.len += 8; return;
    case GgufType.BOOL: s.u8(v ? 1 : 0); return;
    case GgufType.UINT64: dv().setBigUint64(s.len, BigInt(v as number), true); s.len += 8; return;
    case GgufType.INT64: dv().setBigInt64(s.len, BigInt(v as number), true); s.len += 8; return;
    case GgufType.STRING:
      if (typeof v !== 'string') throw new TypeError(`writeGguf: Expected a string for metadata '${key}' but received ${typeof v}`);
      s.string(v); return;
    default: throw new TypeError(`writeGguf: unknown value type ${type} for metadata '${key}'`);
  }
}

function writeValue(s: ByteSink, key: string, type: GgufType, v: GgufValue, depth = 0): void {
  if (type !== GgufType.ARRAY) { writeScalar(s, key, type, v); return; }
  if (depth > 64) throw new RangeError(`writeGguf: metadata '${key}' nests arrays deeper than 64 levels`);
  const a = v as GgufArray;
  if (!a || typeof a !== 'object' || !('itemType' in a)) {
    throw new TypeError(`writeGguf: Expected {itemType, items} for array metadata '${key}' but received ${typeof v}`);
  }
  s.u32(a.itemType);
  const items = a.items as ArrayLike<unknown>;
  s.u64(items.length);
  for (let i = 0; i < items.length; i++) writeValue(s, `${key}[${i}]`, a.itemType, items[i] as GgufValue, depth + 1);
}

function ggmlTypeOf(t: DType | number, name: string): { id: number; blockElems: number; blockBytes: number; label: string } {
  if (typeof t === 'number') {
    const g = GGML_TYPES[t];
    if (!g) throw new RangeError(`writeGguf: Expected a GGML type id for tensor '${name}' type but received ${t}`);
    return { id: t, blockElems: g[1], blockBytes: g[2], label: g[0] };
  }
  if (!isDType(t) || DTYPES[t].id >= 100) {
    throw new TypeError(`writeGguf: Expected a dtype GGUF can store for tensor '${name}' type but received ${String(t)}`);
  }
  const d = DTYPES[t];
  return { id: d.id, blockElems: d.blockElems, blockBytes: d.blockBytes, label: t };
}

/** A tensor for encodeGgufHeader: its data may be left out (only its size is written). */
export type GgufTensorSpec = Omit<GgufTensorInput, 'data'> & { data?: GgufTensorInput['data'] };

/**
 * Encodes only the header, metadata and tensor infos (padded to the alignment): the tensor data
 * then goes at `header.length + offsets[i]`. For writing a file piecewise, e.g. a sparse one in tests.
 */
export function encodeGgufHeader(opts: Omit<GgufWriteOptions, 'tensors'> & { tensors?: readonly GgufTensorSpec[] }): { header: Uint8Array; offsets: number[]; sizes: number[] } {
  checkOptionKeys(opts, GGUF_WRITE_KEYS, 'opts', 'encodeGgufHeader');
  const { head, offsets, sizes } = encodeHeader(opts, true);
  return { header: head, offsets, sizes };
}

/** Encodes the header, metadata and tensor infos; returns them with each tensor's data offset. */
function encodeHeader(opts: Omit<GgufWriteOptions, 'tensors'> & { tensors?: readonly GgufTensorSpec[] }, headerOnly = false): { head: Uint8Array; offsets: number[]; sizes: number[]; alignment: number } {
  const given = opts.metadata instanceof Map ? opts.metadata.get('general.alignment') : opts.metadata?.['general.alignment'];
  const gv = given && typeof given === 'object' && 'value' in given ? (given as GgufKV).value : undefined;
  const alignment = opts.alignment ?? (typeof gv === 'number' && gv > 0 && (gv & (gv - 1)) === 0 ? gv : 32);
  if (!Number.isInteger(alignment) || alignment < 1 || alignment > 2 ** 30 || (alignment & (alignment - 1)) !== 0) {
    throw new RangeError(`writeGguf: Expected a power of two for alignment but received ${alignment}`);
  }
  const version = opts.version ?? 3;
  if (version !== 2 && version !== 3) throw new RangeError(`writeGguf: Expected 2 or 3 for version but received ${String(version)}`);
  const meta = new Map<string, GgufKV>();
  const src = opts.metadata instanceof Map ? [...opts.metadata] : Object.entries(opts.metadata ?? {});
  for (const [k, v] of src) meta.set(k, toKV(k, v));
  // general.alignment given as metadata is written as given (tests write invalid ones on purpose)
  if (opts.alignment !== undefined || !meta.has('general.alignment')) {
    if (alignment !== 32) meta.set('general.alignment', gguf.u32(alignment));
    else meta.delete('general.alignment');
  }
  const tensors = opts.tensors ?? [];
  const s = new ByteSink();
  s.u32(GGUF_MAGIC);
  s.u32(version);
  s.u64(tensors.length);
  s.u64(meta.size);
  for (const [k, kv] of meta) {
    s.string(k);
    if (!Number.isInteger(kv.type) || kv.type < 0 || kv.type > 12) throw new TypeError(`writeGguf: unknown value type ${kv.type} for metadata '${k}'`);
    s.u32(kv.type);
    writeValue(s, k, kv.type, kv.value);
  }
  const offsets: number[] = [];
  const sizes: number[] = [];
  const names = new Set<string>();
  let off = 0;
  for (const t of tensors) {
    if (typeof t.name !== 'string' || t.name.length === 0) throw new TypeError('writeGguf: Expected a non-empty string for tensor name');
    if (names.has(t.name)) throw new RangeError(`writeGguf: duplicate tensor name '${t.name}'`);
    names.add(t.name);
    const g = ggmlTypeOf(t.type, t.name);
    const shape = t.shape;
    if (!Array.isArray(shape) || shape.length < 1 || shape.length > 4 || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new RangeError(`writeGguf: Expected 1 to 4 non-negative integer dimensions for tensor '${t.name}' shape but received [${String(shape)}]`);
    }
    const ne = shape.slice().reverse();
    if (ne[0] % g.blockElems !== 0) {
      throw new RangeError(`writeGguf: tensor '${t.name}' of type ${g.label}: the last dimension ${ne[0]} is not a multiple of the block size ${g.blockElems}`);
    }
    const size = (ne.reduce((a, b) => a * b, 1) / g.blockElems) * g.blockBytes;
    const dataLen = t.data instanceof Tensor ? t.data.byteLength : t.data?.byteLength;
    if (dataLen !== size && !(headerOnly && t.data === undefined)) {
      throw new RangeError(`writeGguf: Expected ${size} bytes (${g.label} [${shape.join(', ')}]) for tensor '${t.name}' data but received ${String(dataLen)}`);
    }
    s.string(t.name);
    s.u32(ne.length);
    for (const d of ne) s.u64(d);
    s.u32(g.id);
    s.u64(off);
    offsets.push(off);
    sizes.push(size);
    off += Math.ceil(size / alignment) * alignment;
  }
  s.pad(alignment);
  return { head: s.buf.subarray(0, s.len), offsets, sizes, alignment };
}

function tensorBytes(t: GgufTensorInput): Uint8Array {
  if (t.data instanceof Tensor) {
    if (!t.data.isContiguous()) throw new TypeError(`writeGguf: tensor '${t.name}' data must be contiguous`);
    return t.data.bytes();
  }
  return t.data;
}

/** Encodes a whole GGUF file in memory (for small files and tests). */
export function encodeGguf(opts: GgufWriteOptions): Uint8Array {
  checkOptionKeys(opts, GGUF_WRITE_KEYS, 'opts', 'encodeGguf');
  const { head, offsets, sizes, alignment } = encodeHeader(opts);
  const tensors = opts.tensors ?? [];
  const dataLen = tensors.length ? offsets[offsets.length - 1] + Math.ceil(sizes[sizes.length - 1] / alignment) * alignment : 0;
  const out = new Uint8Array(head.length + dataLen);
  out.set(head, 0);
  tensors.forEach((t, i) => out.set(tensorBytes(t), head.length + offsets[i]));
  return out;
}

/** Writes a GGUF file, streaming tensor data (no whole-file buffer). */
export function writeGguf(path: string, opts: GgufWriteOptions): void {
  checkOptionKeys(opts, GGUF_WRITE_KEYS, 'opts', 'writeGguf');
  const { head, offsets, sizes, alignment } = encodeHeader(opts);
  const tensors = opts.tensors ?? [];
  const fd = fs.openSync(path, 'w');
  try {
    fs.writeSync(fd, head);
    let pos = 0;
    const zeros = new Uint8Array(alignment);
    tensors.forEach((t, i) => {
      if (offsets[i] !== pos) throw new Error('writeGguf: internal offset mismatch');
      const b = tensorBytes(t);
      for (let o = 0; o < b.length; o += 1 << 26) fs.writeSync(fd, b, o, Math.min(1 << 26, b.length - o));
      const padded = Math.ceil(sizes[i] / alignment) * alignment;
      if (padded > sizes[i]) fs.writeSync(fd, zeros, 0, padded - sizes[i]);
      pos += padded;
    });
  } finally {
    fs.closeSync(fd);
  }
}

export { GGUF_TYPE_NAMES };
