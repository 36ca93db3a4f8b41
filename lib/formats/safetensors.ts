// safetensors reader (and a small writer for tests and tools), single files and
// sharded checkpoints (model.safetensors.index.json).
//
// Layout: header_len u64 LE | header: UTF-8 JSON object, header_len bytes | data.
//   header = { "<name>": { "dtype": "F32", "shape": [r, c], "data_offsets": [begin, end] }, ...,
//              "__metadata__": { "<key>": "<string>" } (optional) }
//   offsets are relative to the start of the data section, end exclusive.
//
// Everything read from the file is untrusted, as in the GGUF reader: the header
// length, the JSON, every dtype, shape and offset is checked against the file
// before it is used (shape x element size must equal the byte range, ranges stay
// inside the data and do not overlap), so a truncated, corrupt or hostile file
// ends in a SafetensorsError naming what is wrong, never a crash, a hang or a
// huge allocation. Tensor data is mmap'd and handed out zero-copy.
//
// Files over 4 GiB (HF shards are often ~5 GB) are held as windows of at most
// 4 GiB, each tensor whole in one (lib/formats/window.ts); a single tensor over
// 4 GiB gets a RangeError from safetensorsTensor.
import * as fs from 'fs';
import * as path from 'path';
import { checkOptionKeys, keysOf } from '../check';
import { DType } from '../dtype';
import { Tensor } from '../tensor';
import { FileWindow, MAX_WINDOW_BYTES, WindowSource, locate, mappedSource, planWindows, readSource } from './window';

/** safetensors dtype names and their element sizes. */
export const SAFETENSORS_DTYPES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
/** The safetensors dtypes fuselm has kernels for, and their fuselm names. */
export const SAFETENSORS_FUSELM: Readonly<Record<string, DType>> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

/** HF's own reader refuses headers over 100 MB; so does this one. */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

/** A malformed safetensors file: the message names the problem and the file. */
export class SafetensorsError extends Error {
  constructor(message: string, source?: string) {
    super(`safetensors${source ? ` ${source}` : ''}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** One tensor of a safetensors file as its header describes it (checked against the file). */
export interface SafetensorsTensorInfo {
  name: string;
  /** the safetensors dtype name, e.g. 'BF16' */
  dtypeName: string;
  /** the fuselm dtype, or undefined when fuselm has no kernels for it */
  dtype: DType | undefined;
  /** row-major, outermost first */
  shape: number[];
  numel: number;
  /** absolute offset of the data in the file */
  fileOffset: number;
  byteSize: number;
  /** index in SafetensorsFile.windows of the window holding the data; -1 for a tensor over 4 GiB */
  window: number;
}

/** An opened safetensors file (readSafetensors, parseSafetensors). */
export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensorInfo>;
  /** the header's __metadata__ (string to string) */
  metadata: Record<string, string>;
  /** absolute offset of the data section (8 + header length) */
  dataOffset: number;
  /** the file's size in bytes */
  size: number;
  /** the buffers holding the file, each at most 4 GiB: windows[0] from byte 0; each tensor whole in windows[info.window] */
  windows: FileWindow[];
  /** windows[0].buffer: the whole file when it is at most 4 GiB, else its first window (read tensors with safetensorsTensor) */
  buffer: ArrayBufferLike;
  /** where the file starts in `buffer` */
  byteOffset: number;
  /** true when the windows are mmap'd views of the file */
  mapped: boolean;
  source?: string;
}

/** Options of readSafetensors and readCheckpoint. */
export interface SafetensorsReadOptions {
  /** map the file (default true); false reads it into memory */
  mmap?: boolean;
  /** when mmap fails, read the file instead of throwing (default false) */
  readFallback?: boolean;
}
const SAFETENSORS_READ_KEYS = keysOf<SafetensorsReadOptions>({ mmap: 1, readFallback: 1 });

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => { const s = JSON.stringify(v); return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s; };

/** Parses a safetensors file held in memory; tensors are views into `bytes`. */
export function parseSafetensors(bytes: Uint8Array, source?: string): SafetensorsFile {
  const h = parseHeader(bytes, bytes.byteLength, source);
  for (const t of h.tensors.values()) t.window = 0;
  const w: FileWindow = { fileOffset: 0, byteLength: bytes.byteLength, buffer: bytes.buffer, byteOffset: bytes.byteOffset };
  return { ...h, size: bytes.byteLength, windows: [w], buffer: bytes.buffer, byteOffset: bytes.byteOffset, mapped: false, source };
}

type SafetensorsHeader = Pick<SafetensorsFile, 'tensors' | 'metadata' | 'dataOffset'>;

/** The bytes from byte 0 that hold the header of a file whose first 8 bytes (or fewer) are `head`. */
function headerBytes(head: Uint8Array, fileSize: number): number {
  if (head.byteLength < 8) return head.byteLength;
  const hlen = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  // a header length the parser refuses needs no more than the 8 bytes to be refused
  return hlen <= BigInt(Math.min(SAFETENSORS_MAX_HEADER, fileSize - 8)) ? 8 + Number(hlen) : 8;
}

/**
 * Parses the header of a file of `fileSize` bytes from its first bytes, `bytes` (at least
 * headerBytes() of them); every check is against the file's size.
 */
function parseHeader(bytes: Uint8Array, fileSize: number, source?: string): SafetensorsHeader {
  const fail = (msg: string): never => { throw new SafetensorsError(msg, source); };
  if (fileSize < 8) fail(`file truncated: ${fileSize} bytes is too short for the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen64 = dv.getBigUint64(0, true);
  if (hlen64 > BigInt(fileSize - 8)) {
    fail(`file truncated: the header length is ${hlen64} bytes but only ${fileSize - 8} bytes follow it${bytes[0] === 0x47 && bytes[1] === 0x47 ? ' (is this a GGUF file?)' : ''}`);
  }
  const hlen = Number(hlen64);
  if (hlen > SAFETENSORS_MAX_HEADER) fail(`the header is ${hlen} bytes, more than the ${SAFETENSORS_MAX_HEADER} allowed`);
  if (hlen < 2) fail(`the header is ${hlen} bytes, too short for a JSON object`);
  if (bytes.byteLength < 8 + hlen) throw new Error(`safetensors: internal: the header needs ${8 + hlen} bytes, ${bytes.byteLength} were read`);
  if (bytes[8] !== 0x7b) fail(`the header does not start with '{' (byte 8 is 0x${bytes[8].toString(16).padStart(2, '0')}): not a safetensors file`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hlen));
  } catch {
    return fail('the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`the header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(header)) return fail('the header is not a JSON object');
  const dataOffset = 8 + hlen;
  const dataLen = fileSize - dataOffset;
  const tensors = new Map<string, SafetensorsTensorInfo>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isObj(v)) fail(`__metadata__ must be an object of strings, got ${show(v)}`);
      for (const [k, s] of Object.entries(v as object)) if (typeof s !== 'string') fail(`__metadata__.${k} must be a string, got ${show(s)}`);
      metadata = v as Record<string, string>;
      continue;
    }
    const what = `tensor '${name}'`;
    if (!isObj(v)) return fail(`${what}: expected an object with dtype, shape and data_offsets, got ${show(v)}`);
    for (const k of Object.keys(v)) if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') fail(`${what}: unknown field '${k}'`);
    const dtypeName = v.dtype;
    if (typeof dtypeName !== 'string' || !(dtypeName in SAFETENSORS_DTYPES)) {
      fail(`${what}: unknown dtype ${show(dtypeName)} (expected one of ${Object.keys(SAFETENSORS_DTYPES).join(', ')})`);
    }
    const esize = SAFETENSORS_DTYPES[dtypeName as string];
    const shape = v.shape;
    if (!Array.isArray(shape) || shape.length > 8) fail(`${what}: shape must be an array of at most 8 dimensions, got ${show(shape)}`);
    let numel = 1;
    for (const d of shape as unknown[]) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) fail(`${what}: shape ${show(shape)} has a dimension that is not a non-negative integer`);
      numel *= d as number;
      // more elements than the data section can hold ends here, before any product overflows
      if (numel * esize > dataLen) fail(`${what}: shape ${show(shape)} (${dtypeName}) needs more bytes than the data section has (${dataLen})`);
    }
    const offs = v.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
      return fail(`${what}: data_offsets must be two non-negative integers [begin, end], got ${show(offs)}`);
    }
    const [b, e] = offs as [number, number];
    if (b > e) fail(`${what}: data_offsets [${b}, ${e}] ends before it begins`);
    if (e > dataLen) fail(`${what}: data_offsets [${b}, ${e}] run past the end of the file: the data section has ${dataLen} bytes`);
    if (e - b !== numel * esize) {
      fail(`${what}: data_offsets [${b}, ${e}] hold ${e - b} bytes but shape ${show(shape)} of ${dtypeName} needs ${numel * esize}`);
    }
    ranges.push([b, e, name]);
    tensors.set(name, {
      name, dtypeName: dtypeName as string, dtype: SAFETENSORS_FUSELM[dtypeName as string], shape: (shape as number[]).slice(), numel,
      fileOffset: dataOffset + b, byteSize: e - b, window: -1,
    });
  }
  // no two non-empty byte ranges may overlap
  ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let prev: [number, number, string] | undefined;
  for (const r of ranges) {
    if (r[1] === r[0]) continue;
    if (prev && r[0] < prev[1]) fail(`tensors '${prev[2]}' [${prev[0]}, ${prev[1]}] and '${r[2]}' [${r[0]}, ${r[1]}] overlap`);
    if (!prev || r[1] > prev[1]) prev = r;
  }
  return { tensors, metadata, dataOffset };
}

/**
 * Reads one .safetensors file, mmap'd (zero-copy) by default. Files over 4 GiB are held as
 * windows (see SafetensorsFile.windows), each tensor whole in one; `{ mmap: false }` reads
 * such a file as its header and the windows holding tensors.
 */
export function readSafetensors(file: string, opts: SafetensorsReadOptions = {}): SafetensorsFile {
  if (typeof file !== 'string' || file.length === 0) throw new TypeError(`readSafetensors: Expected a file path for file but received ${typeof file}`);
  opts = checkOptionKeys(opts, SAFETENSORS_READ_KEYS, 'opts', 'readSafetensors');
  const source = `'${file}'`;
  let src: WindowSource | undefined;
  if (opts.mmap ?? true) {
    try {
      src = mappedSource(file);
    } catch (e) {
      if (!opts.readFallback) {
        throw new Error(`readSafetensors: could not map '${file}': ${(e as Error).message}; pass { readFallback: true } or { mmap: false } to read it instead`);
      }
    }
  }
  src ??= readSource(file, 'readSafetensors');
  try {
    const size = src.size;
    // mapped, the first window spans up to 4 GiB (views cost address space only); read, the
    // whole file up to 4 GiB, else just the header
    let len = Math.min(size, MAX_WINDOW_BYTES);
    if (!src.mapped && size > MAX_WINDOW_BYTES) len = headerBytes(new Uint8Array(src.get(0, 8)), size);
    const first = src.get(0, len);
    const h = parseHeader(new Uint8Array(first), size, source);
    const windows: FileWindow[] = [{ fileOffset: 0, byteLength: len, buffer: first, byteOffset: 0 }];
    for (const [a, b] of planWindows([...h.tensors.values()], len)) windows.push({ fileOffset: a, byteLength: b - a, buffer: src.get(a, b - a), byteOffset: 0 });
    return { ...h, size, windows, buffer: first, byteOffset: 0, mapped: src.mapped, source };
  } finally {
    src.close(); // the windows hold what they need from here on
  }
}

/**
 * A tensor as a fuselm Tensor: zero-copy for F32/F16/BF16 when its offset is aligned to
 * the element size, else copied. Throws for dtypes fuselm has no kernels for.
 */
export function safetensorsTensor(f: SafetensorsFile, name: string | SafetensorsTensorInfo): Tensor {
  const info = typeof name === 'string' ? f.tensors.get(name) : name;
  if (!info) throw new RangeError(`safetensorsTensor: Expected the name of a tensor in the file for name but received '${String(name)}'`);
  if (!info.dtype) {
    throw new TypeError(`safetensorsTensor: tensor '${info.name}' has dtype ${info.dtypeName}; fuselm reads F32, F16 and BF16 checkpoints`);
  }
  const { buffer, offset: off } = locate(f.windows, info, 'safetensorsTensor', 'a tensor info');
  const shape = info.shape.length === 0 ? [1] : info.shape;
  if (off % SAFETENSORS_DTYPES[info.dtypeName] !== 0) {
    const copy = new Uint8Array(info.byteSize);
    copy.set(new Uint8Array(buffer, off, info.byteSize));
    return new Tensor(copy.buffer, 0, info.dtype, shape);
  }
  return new Tensor(buffer, off, info.dtype, shape);
}

/** A checkpoint: one or more safetensors files and which file holds each tensor. */
export interface SafetensorsCheckpoint {
  files: SafetensorsFile[];
  /** tensor name -> the file that holds it */
  index: Map<string, SafetensorsFile>;
  source: string;
}

/**
 * Opens a checkpoint: a directory (model.safetensors.index.json, or model.safetensors, or
 * its only .safetensors file), an index .json file, or one .safetensors file. For an index
 * every shard it names is opened and every tensor it maps is checked to be in its shard.
 */
export function readCheckpoint(where: string, opts: SafetensorsReadOptions = {}): SafetensorsCheckpoint {
  if (typeof where !== 'string' || where.length === 0) throw new TypeError(`readCheckpoint: Expected a path for where but received ${typeof where}`);
  opts = checkOptionKeys(opts, SAFETENSORS_READ_KEYS, 'opts', 'readCheckpoint');
  let file = where;
  if (fs.statSync(where).isDirectory()) {
    const idx = path.join(where, 'model.safetensors.index.json');
    const single = path.join(where, 'model.safetensors');
    if (fs.existsSync(idx)) file = idx;
    else if (fs.existsSync(single)) file = single;
    else {
      const st = fs.readdirSync(where).filter((n) => n.endsWith('.safetensors'));
      if (st.length !== 1) {
        throw new SafetensorsError(`${st.length === 0 ? 'no .safetensors file' : `${st.length} .safetensors files but no model.safetensors.index.json`} in '${where}'`);
      }
      file = path.join(where, st[0]);
    }
  }
  if (!file.endsWith('.json')) {
    const f = readSafetensors(file, opts);
    return { files: [f], index: new Map([...f.tensors.keys()].map((n) => [n, f])), source: file };
  }
  const src = `'${file}'`;
  const fail = (msg: string): never => { throw new SafetensorsError(msg, src); };
  let idx: unknown;
  try {
    idx = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return fail(`the index is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(idx) || !isObj(idx.weight_map)) return fail('the index has no weight_map object');
  const dir = path.dirname(file);
  const shards = new Map<string, SafetensorsFile>();
  const index = new Map<string, SafetensorsFile>();
  for (const [name, shard] of Object.entries(idx.weight_map)) {
    if (typeof shard !== 'string' || shard.length === 0 || shard !== path.basename(shard) || shard === '.' || shard === '..') {
      fail(`weight_map['${name}'] must be a file name in the index's directory, got ${show(shard)}`);
    }
    let f = shards.get(shard as string);
    if (!f) {
      const p = path.join(dir, shard as string);
      if (!fs.existsSync(p)) fail(`weight_map['${name}'] names '${shard}', which does not exist in '${dir}'`);
      f = readSafetensors(p, opts);
      shards.set(shard as string, f);
    }
    if (!f.tensors.has(name)) fail(`weight_map says '${shard}' holds '${name}', but it does not`);
    index.set(name, f);
  }
  if (index.size === 0) fail('the weight_map is empty');
  return { files: [...shards.values()], index, source: file };
}

/** A tensor of a checkpoint (see safetensorsTensor). */
export function checkpointTensor(c: SafetensorsCheckpoint, name: string): Tensor {
  const f = c.index.get(name);
  if (!f) throw new RangeError(`checkpointTensor: Expected the name of a tensor in the checkpoint for name but received '${name}'`);
  return safetensorsTensor(f, name);
}

export interface SafetensorsInput {
  name: string;
  /** 'F32' | 'F16' | 'BF16' | any other safetensors dtype name */
  dtype: string;
  shape: readonly number[];
  /** raw little-endian bytes */
  data: Uint8Array;
}

/** Encodes a safetensors file (header padded with spaces to 8 bytes, tensors in the given order). */
export function encodeSafetensors(tensors: readonly SafetensorsInput[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const t of tensors) {
    const es = SAFETENSORS_DTYPES[t.dtype];
    if (!es) throw new RangeError(`encodeSafetensors: Expected a safetensors dtype for ${t.name}.dtype but received ${t.dtype}`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n * es !== t.data.byteLength) {
      throw new RangeError(`encodeSafetensors: Expected ${n * es} bytes for ${t.name}.data but received ${t.data.byteLength}`);
    }
    if (t.name in header) throw new RangeError(`encodeSafetensors: duplicate tensor name '${t.name}'`);
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [off, off + n * es] };
    off += n * es;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.byteLength + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let p = 8 + json.byteLength;
  for (const t of tensors) { out.set(t.data, p); p += t.data.byteLength; }
  return out;
}

/** Writes a safetensors file. */
export function writeSafetensors(file: string, tensors: readonly SafetensorsInput[], metadata?: Record<string, string>): void {
  // a path only: fs.writeFileSync would take a number as an open file descriptor and write into it
  if (typeof file !== 'string' || file.length === 0) throw new TypeError(`writeSafetensors: Expected a file path for file but received ${typeof file}`);
  fs.writeFileSync(file, encodeSafetensors(tensors, metadata));
}
