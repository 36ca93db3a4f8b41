// GGUF reader: header, metadata (every value type, nested arrays), tensor
// infos, alignment and the data section, for versions 2 and 3 (little-endian).
//
// Layout (all integers little-endian):
//   magic "GGUF" | version u32 | tensor_count u64 | kv_count u64
//   kv_count x  { key: string, type: u32, value }
//   tensor_count x { name: string, n_dims: u32, ne[n_dims]: u64, type: u32, offset: u64 }
//   padding to `general.alignment` (default 32) | data section
//   string = len u64 + UTF-8 bytes; array = item type u32 + count u64 + items
//
// Everything read from the file is untrusted: every count, length, offset and
// size is checked against the bytes that remain before it is used, so a
// truncated, corrupt or hostile file ends in a GgufError that names what is
// wrong and at which byte offset, never in a crash, a hang or a huge allocation.
//
// Files over 4 GiB are held as windows of at most 4 GiB, each tensor whole in one
// (lib/formats/window.ts); a single tensor over 4 GiB gets a RangeError from
// ggufTensor / ggufTensorBytes.
import * as fs from 'fs';
import { checkOptionKeys, keysOf } from '../check';
import { DType, DTYPES } from '../dtype';
import { Tensor } from '../tensor';
import { FileWindow, MAX_WINDOW_BYTES, WindowSource, locate, mappedSource, planWindows, readSource } from './window';

export { MAX_WINDOW_BYTES };

/** The GGUF metadata value types (the type field of a key/value pair). */
export enum GgufType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
}
export const GGUF_TYPE_NAMES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'];
const SCALAR_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];

export type GgufNumberArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | Float32Array | Float64Array | BigUint64Array | BigInt64Array;
/** An array value: numbers as a typed array of the item type, strings, booleans, or nested arrays. */
export interface GgufArray {
  itemType: GgufType;
  items: GgufNumberArray | string[] | boolean[] | GgufArray[];
}
/** u64/i64 read as bigint (lossless); every other number as a JS number. */
export type GgufValue = number | bigint | boolean | string | GgufArray;
/** A metadata value with its GGUF type. */
export interface GgufKV { type: GgufType; value: GgufValue }

/** GGML tensor types: [name, elements per block, bytes per block]. */
export const GGML_TYPES: Readonly<Record<number, readonly [string, number, number]>> = {
  0: ['F32', 1, 4], 1: ['F16', 1, 2], 2: ['Q4_0', 32, 18], 3: ['Q4_1', 32, 20], 6: ['Q5_0', 32, 22],
  7: ['Q5_1', 32, 24], 8: ['Q8_0', 32, 34], 9: ['Q8_1', 32, 36], 10: ['Q2_K', 256, 84], 11: ['Q3_K', 256, 110],
  12: ['Q4_K', 256, 144], 13: ['Q5_K', 256, 176], 14: ['Q6_K', 256, 210], 15: ['Q8_K', 256, 292],
  16: ['IQ2_XXS', 256, 66], 17: ['IQ2_XS', 256, 74], 18: ['IQ3_XXS', 256, 98], 19: ['IQ1_S', 256, 50],
  20: ['IQ4_NL', 32, 18], 21: ['IQ3_S', 256, 110], 22: ['IQ2_S', 256, 82], 23: ['IQ4_XS', 256, 136],
  24: ['I8', 1, 1], 25: ['I16', 1, 2], 26: ['I32', 1, 4], 27: ['I64', 1, 8], 28: ['F64', 1, 8],
  29: ['IQ1_M', 256, 56], 30: ['BF16', 1, 2], 34: ['TQ1_0', 256, 54], 35: ['TQ2_0', 256, 66], 39: ['MXFP4', 32, 17],
};

/** The fuselm dtype for a GGML type id, when fuselm has kernels for it. */
export function dtypeForGgmlType(id: number): DType | undefined {
  for (const d of Object.values(DTYPES)) if (d.id === id && d.id < 100) return d.name;
  return undefined;
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as u32 LE
export const GGUF_DEFAULT_ALIGNMENT = 32;
const GGML_MAX_DIMS = 4;
const MAX_NESTING = 16;

/** A malformed GGUF file: the message names the problem, the file and the byte offset where it was found. */
export class GgufError extends Error {
  /** byte offset in the file where the problem was found (-1 when not tied to one) */
  readonly offset: number;
  constructor(message: string, offset: number, source?: string) {
    super(`GGUF${source ? ` ${source}` : ''}: ${message}${offset >= 0 ? ` (at byte ${offset})` : ''}`);
    this.name = 'GgufError';
    this.offset = offset;
  }
}

/** One tensor of a GGUF file as its header describes it (readGguf checks every field against the file). */
export interface GgufTensorInfo {
  name: string;
  /** GGML dims, innermost first (ne[0] is the contiguous one) */
  ne: number[];
  /** row-major shape, outermost first: ne reversed */
  shape: number[];
  /** GGML type id */
  ggmlType: number;
  /** GGML type name, e.g. 'Q4_K' */
  typeName: string;
  /** the fuselm dtype, or undefined when fuselm has no kernels for this type */
  dtype: DType | undefined;
  /** offset within the data section */
  offset: number;
  /** absolute offset in the file */
  fileOffset: number;
  byteSize: number;
  numel: number;
  /** index in GgufFile.windows of the window holding the data; -1 for a tensor over MAX_WINDOW_BYTES */
  window: number;
}

/** One buffer holding the file bytes [fileOffset, fileOffset + byteLength). */
export type GgufWindow = FileWindow;

/** An opened GGUF file (readGguf, parseGguf): its metadata and tensor infos, and the buffers holding its bytes. */
export interface GgufFile {
  /** GGUF version: 2 or 3 */
  version: number;
  /** data alignment in bytes (general.alignment, default 32) */
  alignment: number;
  /** every key/value pair, in file order */
  metadata: Map<string, GgufKV>;
  /** every tensor, in file order */
  tensors: GgufTensorInfo[];
  /** absolute offset of the data section */
  dataOffset: number;
  /** the file's size in bytes */
  size: number;
  /**
   * The buffers holding the file, each at most MAX_WINDOW_BYTES: windows[0] starts at byte 0;
   * every tensor lies whole in windows[info.window] (use ggufTensor / ggufTensorBytes).
   */
  windows: GgufWindow[];
  /**
   * windows[0].buffer: the whole file when it is at most 4 GiB, else its first window
   * (the header and the tensors that fit): read tensors with ggufTensor / ggufTensorBytes.
   */
  buffer: ArrayBufferLike;
  /** where the file starts in `buffer` (0 unless parsed from a view) */
  byteOffset: number;
  /** true when the windows are mmap'd views of the file */
  mapped: boolean;
  source?: string;
}

/** Options of readGguf. */
export interface GgufReadOptions {
  /** map the file (default true); false reads it into memory */
  mmap?: boolean;
  /** when mmap fails, read the file into memory instead of throwing (default false: a failed mmap throws) */
  readFallback?: boolean;
}
const GGUF_READ_KEYS = keysOf<GgufReadOptions>({ mmap: 1, readFallback: 1 });

/** Thrown (only) while parsing a header from a first window shorter than the file: it needs `bytes` from byte 0. */
class NeedMore {
  constructor(readonly bytes: number, readonly at: number) {}
}

class Reader {
  pos: number;
  readonly dv: DataView;
  readonly u8: Uint8Array;
  /** the bytes held: u8 is the file's first `end` bytes */
  readonly end: number;
  private readonly td = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** `u8` holds the first bytes of a file of `fileSize` bytes (all of it unless the header is read in a window) */
  constructor(u8: Uint8Array, readonly fileSize: number, readonly source?: string) {
    this.u8 = u8;
    this.dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
    this.pos = 0;
    this.end = u8.byteLength;
  }
  fail(msg: string, at = this.pos): never { throw new GgufError(msg, at, this.source); }
  /** the bytes of the file after pos: every count and length is capped by them */
  get remaining(): number { return this.fileSize - this.pos; }
  need(n: number, what: string): void {
    if (n > this.remaining) this.fail(`file truncated: ${what} needs ${n} bytes but only ${this.remaining} remain`);
    if (this.pos + n > this.end) throw new NeedMore(this.pos + n, this.pos);
  }
  u32(what: string): number { this.need(4, what); const v = this.dv.getUint32(this.pos, true); this.pos += 4; return v; }
  u64big(what: string): bigint { this.need(8, what); const v = this.dv.getBigUint64(this.pos, true); this.pos += 8; return v; }
  /** a u64 that must be a count/size/offset below `max` */
  u64(what: string, max: number): number {
    const at = this.pos;
    const v = this.u64big(what);
    if (v > BigInt(max)) this.fail(`${what} is ${v}, more than ${max} (the bytes that remain can hold)`, at);
    return Number(v);
  }
  string(what: string): string {
    const at = this.pos;
    const len = this.u64(`length of ${what}`, this.remaining - 8 < 0 ? 0 : this.remaining - 8);
    this.need(len, what);
    let s: string;
    try {
      s = this.td.decode(this.u8.subarray(this.pos, this.pos + len));
    } catch {
      this.fail(`${what} is not valid UTF-8`, at);
    }
    this.pos += len;
    return s;
  }
  scalar(type: GgufType, what: string): number | bigint | boolean {
    const n = SCALAR_BYTES[type];
    this.need(n, what);
    const p = this.pos, dv = this.dv;
    this.pos += n;
    switch (type) {
      case GgufType.UINT8: return dv.getUint8(p);
      case GgufType.INT8: return dv.getInt8(p);
      case GgufType.UINT16: return dv.getUint16(p, true);
      case GgufType.INT16: return dv.getInt16(p, true);
      case GgufType.UINT32: return dv.getUint32(p, true);
      case GgufType.INT32: return dv.getInt32(p, true);
      case GgufType.FLOAT32: return dv.getFloat32(p, true);
      case GgufType.BOOL: {
        const b = dv.getUint8(p);
        if (b > 1) this.fail(`${what}: a bool must be 0 or 1, got ${b}`, p);
        return b === 1;
      }
      case GgufType.UINT64: return dv.getBigUint64(p, true);
      case GgufType.INT64: return dv.getBigInt64(p, true);
      case GgufType.FLOAT64: return dv.getFloat64(p, true);
      default: return this.fail(`${what}: not a scalar type ${type}`, p);
    }
  }
  valueType(what: string): GgufType {
    const at = this.pos;
    const t = this.u32(`type of ${what}`);
    if (t > 12) this.fail(`${what} has unknown value type ${t} (expected 0..12)`, at);
    return t;
  }
  value(type: GgufType, what: string, depth: number): GgufValue {
    if (type === GgufType.STRING) return this.string(what);
    if (type !== GgufType.ARRAY) return this.scalar(type, what);
    if (depth >= MAX_NESTING) this.fail(`${what}: arrays nested deeper than ${MAX_NESTING} levels`);
    const itemType = this.valueType(`items of ${what}`);
    // each item takes at least this many bytes, which caps the count before anything is allocated
    const minItem = itemType === GgufType.STRING ? 8 : itemType === GgufType.ARRAY ? 12 : SCALAR_BYTES[itemType];
    const count = this.u64(`item count of ${what}`, Math.floor(Math.max(0, this.remaining - 8) / minItem));
    if (itemType === GgufType.STRING) {
      const items: string[] = new Array(count);
      for (let i = 0; i < count; i++) items[i] = this.string(`${what}[${i}]`);
      return { itemType, items };
    }
    if (itemType === GgufType.ARRAY) {
      const items: GgufArray[] = new Array(count);
      for (let i = 0; i < count; i++) items[i] = this.value(GgufType.ARRAY, `${what}[${i}]`, depth + 1) as GgufArray;
      return { itemType, items };
    }
    if (itemType === GgufType.BOOL) {
      const items: boolean[] = new Array(count);
      for (let i = 0; i < count; i++) items[i] = this.scalar(GgufType.BOOL, `${what}[${i}]`) as boolean;
      return { itemType, items };
    }
    const bytes = count * minItem;
    this.need(bytes, what);
    // copy into an aligned typed array (the file gives no alignment guarantee)
    const raw = this.u8.slice(this.pos, this.pos + bytes);
    this.pos += bytes;
    const Ctor = [Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, undefined,
      undefined, undefined, BigUint64Array, BigInt64Array, Float64Array][itemType]!;
    return { itemType, items: new Ctor(raw.buffer, 0, count) as GgufNumberArray };
  }
}

/**
 * Parses a GGUF file held in memory. `bytes` is the whole file; tensors are
 * views into it (see ggufTensor). Throws GgufError for anything malformed.
 */
export function parseGguf(bytes: Uint8Array, source?: string): GgufFile {
  const h = parseHeader(bytes, bytes.byteLength, source);
  for (const t of h.tensors) t.window = 0;
  const w: GgufWindow = { fileOffset: 0, byteLength: bytes.byteLength, buffer: bytes.buffer, byteOffset: bytes.byteOffset };
  return { ...h, size: bytes.byteLength, windows: [w], buffer: bytes.buffer, byteOffset: bytes.byteOffset, mapped: false, source };
}

type GgufHeader = Pick<GgufFile, 'version' | 'alignment' | 'metadata' | 'tensors' | 'dataOffset'>;

/**
 * Parses the header of a file of `fileSize` bytes from its first bytes, `bytes`. Every check is
 * against the file's size; when `bytes` is shorter than the file and the header needs more of
 * it, throws NeedMore (never when `bytes` is the whole file).
 */
function parseHeader(bytes: Uint8Array, fileSize: number, source?: string): GgufHeader {
  const r = new Reader(bytes, fileSize, source);
  if (r.remaining < 4) r.fail(`file truncated: ${r.remaining} bytes is too short for the magic "GGUF"`);
  const magic = r.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const s = Array.from(bytes.subarray(0, 4)).map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    r.fail(`not a GGUF file: magic is "${s}" (0x${magic.toString(16).padStart(8, '0')}), expected "GGUF"`, 0);
  }
  const version = r.u32('version');
  if (version === 1) r.fail('GGUF version 1 is not supported (32-bit counts); convert the file to version 3', 4);
  if (version !== 2 && version !== 3) {
    r.fail(`unsupported GGUF version ${version} (expected 2 or 3${version > 0xffff ? '; a big-endian file?' : ''})`, 4);
  }
  // every tensor info takes >= 8+4+4+8 = 24 bytes, every kv >= 8+4+1 = 13 bytes
  const tensorCount = r.u64('tensor count', Math.floor(Math.max(0, r.remaining - 16) / 24));
  const kvCount = r.u64('metadata kv count', Math.floor(Math.max(0, r.remaining - 8) / 13));

  const metadata = new Map<string, GgufKV>();
  for (let i = 0; i < kvCount; i++) {
    const at = r.pos;
    const key = r.string(`metadata key #${i}`);
    if (key.length === 0) r.fail(`metadata key #${i} is empty`, at);
    if (metadata.has(key)) r.fail(`duplicate metadata key '${key}'`, at);
    const type = r.valueType(`metadata '${key}'`);
    const value = r.value(type, `metadata '${key}'`, 0);
    metadata.set(key, { type, value });
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const al = metadata.get('general.alignment');
  if (al) {
    const v = al.value;
    if (al.type !== GgufType.UINT32 || typeof v !== 'number' || v === 0 || (v & (v - 1)) !== 0) {
      r.fail(`general.alignment must be a u32 power of two, got ${GGUF_TYPE_NAMES[al.type]} ${String(typeof v === 'object' ? 'array' : v)}`, -1);
    }
    alignment = v as number;
  }

  const infos: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const at = r.pos;
    const name = r.string(`name of tensor #${i}`);
    if (names.has(name)) r.fail(`duplicate tensor name '${name}'`, at);
    names.add(name);
    const ndAt = r.pos;
    const nDims = r.u32(`dimension count of tensor '${name}'`);
    if (nDims < 1 || nDims > GGML_MAX_DIMS) r.fail(`tensor '${name}' has ${nDims} dimensions (expected 1..${GGML_MAX_DIMS})`, ndAt);
    const ne: number[] = [];
    let numel = 1;
    for (let d = 0; d < nDims; d++) {
      const dAt = r.pos;
      const v = r.u64big(`ne[${d}] of tensor '${name}'`);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`tensor '${name}' ne[${d}] = ${v} is too large`, dAt);
      ne.push(Number(v));
      numel *= Number(v);
      if (numel > fileSize * 256) r.fail(`tensor '${name}' has ${numel}+ elements, more than the file can hold`, dAt);
    }
    const tAt = r.pos;
    const ggmlType = r.u32(`type of tensor '${name}'`);
    const tt = GGML_TYPES[ggmlType];
    if (!tt) r.fail(`tensor '${name}' has unknown GGML type ${ggmlType}`, tAt);
    const [typeName, blockElems, blockBytes] = tt;
    if (ne[0] % blockElems !== 0) {
      r.fail(`tensor '${name}' of type ${typeName}: ne[0] = ${ne[0]} is not a multiple of the block size ${blockElems}`, ndAt);
    }
    const byteSize = (numel / blockElems) * blockBytes;
    const oAt = r.pos;
    const off = r.u64big(`data offset of tensor '${name}'`);
    if (off > BigInt(fileSize)) r.fail(`tensor '${name}' data offset ${off} is beyond the file (${fileSize} bytes)`, oAt);
    const offset = Number(off);
    if (offset % alignment !== 0) r.fail(`tensor '${name}' data offset ${offset} is not a multiple of the alignment ${alignment}`, oAt);
    infos.push({
      name, ne, shape: ne.slice().reverse(), ggmlType, typeName, dtype: dtypeForGgmlType(ggmlType),
      offset, fileOffset: 0, byteSize, numel, window: -1,
    });
  }
  const dataOffset = Math.ceil(r.pos / alignment) * alignment;
  if (infos.length > 0 && dataOffset > fileSize) {
    r.fail(`file truncated: the data section would start at byte ${dataOffset}, past the end (${fileSize} bytes)`);
  }
  const dataBytes = fileSize - dataOffset;
  for (const t of infos) {
    if (t.offset + t.byteSize > dataBytes) {
      throw new GgufError(`tensor '${t.name}' (${t.typeName} [${t.ne.join(', ')}], ${t.byteSize} bytes at data offset ${t.offset}) `
        + `runs past the end of the file: the data section has ${dataBytes} bytes`, dataOffset + t.offset, source);
    }
    t.fileOffset = dataOffset + t.offset;
  }
  return { version, alignment, metadata, tensors: infos, dataOffset };
}

/** The first read of a header from a file over 4 GiB read into memory; it doubles as needed. */
const FIRST_HEADER_READ = 2 ** 20;

/**
 * Builds a GgufFile from a file. The header is parsed from a first window of `firstBytes`,
 * grown (at least doubled, up to 4 GiB) while the header needs more of the file.
 */
function fromWindows(src: WindowSource, firstBytes: number, source: string, fn: string): GgufFile {
  const size = src.size;
  const cap = Math.min(size, MAX_WINDOW_BYTES);
  let len = Math.min(firstBytes, cap);
  let first: ArrayBuffer;
  let h: GgufHeader;
  for (;;) {
    first = src.get(0, len);
    try {
      h = parseHeader(new Uint8Array(first), size, source);
      break;
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
      if (len >= cap || e.bytes > cap) {
        throw new GgufError(`the header (metadata and tensor infos) runs past ${MAX_WINDOW_BYTES} bytes, more than ${fn} reads in one window`, e.at, source);
      }
      len = Math.min(cap, Math.max(e.bytes, 2 * len));
    }
  }
  const windows: GgufWindow[] = [{ fileOffset: 0, byteLength: len, buffer: first, byteOffset: 0 }];
  for (const [a, b] of planWindows(h.tensors, len)) windows.push({ fileOffset: a, byteLength: b - a, buffer: src.get(a, b - a), byteOffset: 0 });
  return { ...h, size, windows, buffer: first, byteOffset: 0, mapped: src.mapped, source };
}

/**
 * Reads a GGUF file: mmap'd (zero-copy) by default; files over 4 GiB are held as several
 * windows (see GgufFile.windows), each tensor whole in one. A tensor over 4 GiB is listed
 * but ggufTensor refuses it. `{ mmap: false }` reads a file up to 4 GiB whole, a larger one
 * as its header and the windows holding tensors.
 */
export function readGguf(path: string, opts: GgufReadOptions = {}): GgufFile {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`readGguf: Expected a file path for path but received ${typeof path}`);
  opts = checkOptionKeys(opts, GGUF_READ_KEYS, 'opts', 'readGguf');
  const source = `'${path}'`;
  // a missing or unreadable path is named as such (not as a failed mapping with a fallback to try)
  try {
    fs.accessSync(path, fs.constants.R_OK);
  } catch (e) {
    throw new Error(`readGguf: cannot read ${source}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let src: WindowSource | undefined;
  if (opts.mmap ?? true) {
    try {
      src = mappedSource(path);
    } catch (e) {
      if (!opts.readFallback) {
        throw new Error(`readGguf: could not map '${path}': ${(e as Error).message}; `
          + 'pass { readFallback: true } to read the file into memory instead, or { mmap: false }');
      }
    }
  }
  src ??= readSource(path, 'readGguf');
  try {
    // mapped, the first window spans up to 4 GiB (views cost address space only)
    const first = src.mapped ? MAX_WINDOW_BYTES : src.size <= MAX_WINDOW_BYTES ? src.size : FIRST_HEADER_READ;
    return fromWindows(src, first, source, 'readGguf');
  } finally {
    src.close(); // the windows hold what they need from here on
  }
}

/** Metadata value by key, or undefined. */
export function ggufGet(f: GgufFile, key: string): GgufValue | undefined {
  return f.metadata.get(key)?.value;
}

/** Finds a tensor info by name. */
export function ggufTensorInfo(f: GgufFile, name: string): GgufTensorInfo | undefined {
  return f.tensors.find((t) => t.name === name);
}

/** The raw bytes of a tensor, zero-copy. */
export function ggufTensorBytes(f: GgufFile, info: GgufTensorInfo): Uint8Array {
  const { buffer, offset } = locate(f.windows, info, 'ggufTensorBytes', 'a tensor info');
  return new Uint8Array(buffer, offset, info.byteSize);
}

/**
 * A tensor as a zero-copy fuselm Tensor (row-major shape, ne reversed).
 * Throws when fuselm has no kernels for its type.
 */
export function ggufTensor(f: GgufFile, name: string | GgufTensorInfo): Tensor {
  const info = typeof name === 'string' ? ggufTensorInfo(f, name) : name;
  if (!info) throw new RangeError(`ggufTensor: Expected the name of a tensor in the file for name but received '${String(name)}'`);
  if (!info.dtype) throw new TypeError(`ggufTensor: tensor '${info.name}' has type ${info.typeName}, which fuselm has no kernels for`);
  const { buffer, offset: off } = locate(f.windows, info, 'ggufTensor', 'a tensor info');
  const plain = !DTYPES[info.dtype].quantized;
  if (plain && off % DTYPES[info.dtype].blockBytes !== 0) {
    // only possible for an unaligned in-memory view: copy so typed views line up
    const copy = new Uint8Array(info.byteSize);
    copy.set(new Uint8Array(buffer, off, info.byteSize));
    return new Tensor(copy.buffer, 0, info.dtype, info.shape);
  }
  return new Tensor(buffer, off, info.dtype, info.shape);
}

/** Converts a metadata value to a plain JS value (typed arrays to arrays, bigints to numbers when safe). */
export function ggufPlain(v: GgufValue): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (typeof v === 'object') {
    const items = v.items as ArrayLike<unknown>;
    return Array.from(items, (x) => (typeof x === 'object' && x !== null ? ggufPlain(x as GgufArray) : typeof x === 'bigint' ? ggufPlain(x) : x));
  }
  return v;
}
