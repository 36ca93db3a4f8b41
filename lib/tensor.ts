// Tensor: a typed view over bytes. data lives in an ArrayBuffer,
// SharedArrayBuffer or an external (mmap'd) buffer; shapes count elements,
// strides count elements (plain dtypes only; quantized tensors are row-major
// and contiguous, each row a whole number of blocks).
import { DType, DTYPES, describe, dtypeInfo, isDType, rowBytes } from './dtype';
import { fail } from './check';

export type Device = 'cpu';
export type TypedArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

const MAX_DIM = 2 ** 40;

/** 'Float32Array', 'ArrayBuffer', ...: works across realms where instanceof does not */
export function typeTag(v: unknown): string {
  return Object.prototype.toString.call(v).slice(8, -1);
}
function isAnyArrayBuffer(v: unknown): v is ArrayBufferLike {
  const t = typeTag(v);
  return t === 'ArrayBuffer' || t === 'SharedArrayBuffer';
}

function checkShape(shape: unknown, arg = 'shape'): number[] {
  if (!Array.isArray(shape)) fail('type', arg, 'an array of non-negative integers', shape);
  if (shape.length < 1 || shape.length > 8) fail('range', arg, 'an array of 1 to 8 dimensions', shape);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > MAX_DIM) {
      fail(typeof d === 'number' ? 'range' : 'type', `${arg}[${i}]`, `integer in [0, ${MAX_DIM}]`, d);
    }
  }
  return shape.slice() as number[];
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/** Bytes a contiguous tensor of this dtype and shape occupies. */
export function byteSize(dtype: DType, shape: readonly number[]): number {
  const inner = shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const n = rows * rowBytes(dtype, inner);
  if (!Number.isSafeInteger(n)) fail('range', 'shape', 'a size below 2^53 bytes', shape);
  return n;
}

/**
 * A typed view of memory: `buffer` from `byteOffset`, elements of `dtype` in `shape`, laid out by `strides`
 * (in elements; row-major contiguous when omitted). Nothing is copied: a tensor can view a typed array, a
 * GGUF/safetensors mapping, or a kernel's output. Quantized dtypes count elements, stored as whole blocks
 * (`bytes()` are the raw blocks, as GGUF stores them) and are always contiguous. The constructor checks the
 * dtype, the shape, the alignment and that the view fits the buffer.
 *
 * @example
 *   const x = Tensor.from(new Float32Array(8 * 4096), [8, 4096]);   // wraps, no copy
 *   const y = Tensor.zeros([8, 4096]);                              // f32 by default
 *   const h = Tensor.from(new Uint16Array(64), [64], 'f16');         // f16 bits
 *   const row = x.slice(3, 4).reshape([4096]);                      // views of the same memory
 */
export class Tensor {
  /** the element type (see DTYPES) */
  readonly dtype: DType;
  /** dimensions, outermost first */
  readonly shape: readonly number[];
  /** element step per dimension */
  readonly strides: readonly number[];
  /** the memory viewed (an ArrayBuffer, SharedArrayBuffer, or an external buffer over a mapping or native memory) */
  readonly buffer: ArrayBufferLike;
  /** where the first element starts in `buffer` */
  readonly byteOffset: number;
  /** always 'cpu' today */
  readonly device: Device = 'cpu';
  private _u8?: Uint8Array;

  constructor(buffer: ArrayBufferLike, byteOffset: number, dtype: DType, shape: readonly number[], strides?: readonly number[]) {
    if (!isAnyArrayBuffer(buffer)) {
      fail('type', 'buffer', 'an ArrayBuffer or SharedArrayBuffer', buffer);
    }
    if (!isDType(dtype)) fail('type', 'dtype', `one of ${Object.keys(DTYPES).join(', ')}`, dtype);
    this.shape = Object.freeze(checkShape(shape));
    const info = dtypeInfo(dtype);
    if (strides !== undefined && info.quantized) fail('type', 'strides', 'no strides for a quantized dtype', strides);
    this.strides = Object.freeze(strides ? checkShape(strides, 'strides') : contiguousStrides(this.shape));
    if (this.strides.length !== this.shape.length) fail('range', 'strides', `${this.shape.length} entries`, strides);
    if (!Number.isInteger(byteOffset) || byteOffset < 0) fail('range', 'byteOffset', 'a non-negative integer', byteOffset);
    this.dtype = dtype;
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    const end = byteOffset + this.spanBytes();
    if (end > buffer.byteLength) fail('range', 'buffer', `at least ${end} bytes`, `#${buffer.byteLength} bytes`);
    if (!info.quantized && byteOffset % info.blockBytes !== 0) {
      fail('range', 'byteOffset', `a multiple of ${info.blockBytes} (the ${dtype} size)`, byteOffset);
    }
  }

  /** A new zero-filled contiguous tensor. */
  static zeros(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const s = checkShape(shape);
    return new Tensor(new ArrayBuffer(byteSize(dtype, s)), 0, dtype, s);
  }

  /** Wraps a typed array without copying. f32 from Float32Array, i32 from Int32Array,
   *  i8 from Int8Array, u8 from Uint8Array; f16/bf16 from Uint16Array when `dtype` says so. */
  static from(data: TypedArray | readonly number[], shape?: readonly number[], dtype?: DType): Tensor {
    if (Array.isArray(data)) data = Float32Array.from(data as number[]);
    if (!ArrayBuffer.isView(data)) fail('type', 'data', 'a TypedArray or an array of numbers', data);
    // tags, not instanceof: arrays from another realm (vm, jest, worker) must work too
    const inferred: DType | undefined = ({
      Float32Array: 'f32', Int32Array: 'i32', Int8Array: 'i8', Uint8Array: 'u8', Uint16Array: 'f16',
    } as Record<string, DType>)[typeTag(data)];
    const d = dtype ?? inferred;
    if (d === undefined) fail('type', 'data', 'a Float32Array, Int32Array, Int8Array, Uint8Array or Uint16Array', data);
    const info = dtypeInfo(d);
    const elems = info.quantized ? (data.byteLength / info.blockBytes) * info.blockElems : data.byteLength / info.blockBytes;
    const s = shape ? checkShape(shape) : [elems];
    const need = byteSize(d, s);
    if (need !== data.byteLength) fail('range', 'data', `${need} bytes for shape [${s.join(', ')}] of ${d}`, `#${data.byteLength} bytes`);
    return new Tensor(data.buffer, data.byteOffset, d, s);
  }

  /** Wraps raw bytes (e.g. a GGUF tensor's blocks) as a tensor of `dtype`, zero-copy. */
  static fromBytes(bytes: Uint8Array, dtype: DType, shape: readonly number[]): Tensor {
    if (typeTag(bytes) !== 'Uint8Array') fail('type', 'bytes', 'a Uint8Array', bytes);
    return Tensor.from(bytes, shape, dtype);
  }

  /** the number of dimensions */
  get ndim(): number { return this.shape.length; }
  /** the number of elements (the product of the shape) */
  get numel(): number { return this.shape.reduce((a, b) => a * b, 1); }
  /** true for a block-quantized dtype */
  get quantized(): boolean { return DTYPES[this.dtype].quantized; }

  /** Bytes from the first to one past the last element this view touches. */
  spanBytes(): number {
    if (this.shape.some((d) => d === 0)) return 0;
    const info = DTYPES[this.dtype];
    if (info.quantized) return byteSize(this.dtype, this.shape);
    let last = 0;
    for (let i = 0; i < this.shape.length; i++) last += (this.shape[i] - 1) * this.strides[i];
    return (last + 1) * info.blockBytes;
  }

  /** the same as spanBytes() */
  get byteLength(): number { return this.spanBytes(); }

  /** true when the elements are laid out row-major without gaps (reshape and most kernels need it) */
  isContiguous(): boolean {
    if (this.quantized) return true;
    const c = contiguousStrides(this.shape);
    return this.shape.every((d, i) => d <= 1 || this.strides[i] === c[i]);
  }

  /** The bytes this tensor spans, zero-copy (for a quantized tensor: its raw blocks, as GGUF stores them). */
  bytes(): Uint8Array {
    if (!this._u8) this._u8 = new Uint8Array(this.buffer, this.byteOffset, this.spanBytes());
    return this._u8;
  }

  /** A view with another shape over the same contiguous data. */
  reshape(shape: readonly number[]): Tensor {
    const s = checkShape(shape);
    if (!this.isContiguous()) fail('type', 'tensor', 'a contiguous tensor to reshape', '#a strided view');
    if (byteSize(this.dtype, s) !== this.byteLength) fail('range', 'shape', `a shape of ${this.numel} elements`, shape);
    return new Tensor(this.buffer, this.byteOffset, this.dtype, s);
  }

  /** Rows [start, end) along the first dimension, zero-copy. */
  slice(start: number, end: number = this.shape[0]): Tensor {
    const n = this.shape[0];
    if (!Number.isInteger(start) || start < 0 || start > n) fail('range', 'start', `integer in [0, ${n}]`, start);
    if (!Number.isInteger(end) || end < start || end > n) fail('range', 'end', `integer in [${start}, ${n}]`, end);
    const info = DTYPES[this.dtype];
    const rowB = info.quantized ? byteSize(this.dtype, [1, ...this.shape.slice(1)]) : this.strides[0] * info.blockBytes;
    const shape = [end - start, ...this.shape.slice(1)];
    return new Tensor(this.buffer, this.byteOffset + start * rowB, this.dtype, shape, info.quantized ? undefined : this.strides);
  }

  /** Copies the elements out in logical order: Float32Array for f32/f16/bf16,
   *  Int32Array/Int8Array/Uint8Array for the integer types. Quantized tensors: use dequantize(). */
  toArray(): Float32Array | Int32Array | Int8Array | Uint8Array {
    const info = DTYPES[this.dtype];
    if (info.quantized) throw new TypeError(`Expected a plain dtype for toArray() but received ${this.dtype}; call dequantize() first`);
    const n = this.numel;
    const Ctor = { f32: Float32Array, f16: Uint16Array, bf16: Uint16Array, i8: Int8Array, u8: Uint8Array, i32: Int32Array }[this.dtype as 'f32'];
    const src = new (Ctor as unknown as new (b: ArrayBufferLike, o: number, n: number) => TypedArray)(this.buffer, this.byteOffset, this.spanBytes() / info.blockBytes);
    const out: TypedArray = this.dtype === 'f16' || this.dtype === 'bf16' ? new Float32Array(n) : new (Ctor as unknown as new (n: number) => TypedArray)(n);
    const conv = this.dtype === 'f16' ? f16ToF32 : this.dtype === 'bf16' ? bf16ToF32 : (v: number) => v;
    // contiguous plain types: one block copy (the index walk below is far slower per element, and decode
    // reads a whole logits row every token; measured in bench/results/2026-11-29-epyc-zen4-2vcpu.md)
    if (this.isContiguous() && this.dtype !== 'f16' && this.dtype !== 'bf16') {
      out.set(src.subarray(0, n));
      return out as Float32Array | Int32Array | Int8Array | Uint8Array;
    }
    const idx = new Array<number>(this.ndim).fill(0);
    for (let k = 0; k < n; k++) {
      let off = 0;
      for (let i = 0; i < this.ndim; i++) off += idx[i] * this.strides[i];
      out[k] = conv(src[off]);
      for (let i = this.ndim - 1; i >= 0; i--) { if (++idx[i] < this.shape[i]) break; idx[i] = 0; }
    }
    return out as Float32Array | Int32Array | Int8Array | Uint8Array;
  }

  toString(): string { return `Tensor(${this.dtype}, [${this.shape.join(', ')}])`; }
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** The float value of bfloat16 bits `h` (0..0xffff). */
export function bf16ToF32(h: number): number { u32buf[0] = h << 16; return f32buf[0]; }
/** The bfloat16 bits of `f`, rounded to nearest even (NaN stays a quiet NaN). */
export function f32ToBf16(f: number): number {
  f32buf[0] = f;
  const u = u32buf[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
/** The float value of IEEE binary16 bits `h` (0..0xffff). */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
/**
 * The IEEE binary16 bits of `f`, rounded to nearest even: a float32-exact port of the branch-free
 * conversion in csrc/include/fuselm/fp16.h (the same bits as F16C's vcvtps2ph).
 */
export function f32ToF16(f: number): number {
  f32buf[0] = f;
  const w = u32buf[0];
  const fa = Math.abs(f32buf[0]);
  let base = Math.fround(Math.fround(fa * 2 ** 112) * 2 ** -110);
  const shl1 = (w << 1) >>> 0;
  const sign = (w & 0x80000000) >>> 0;
  let bias = (shl1 & 0xff000000) >>> 0;
  if (bias < 0x71000000) bias = 0x71000000;
  u32buf[0] = ((bias >>> 1) + 0x07800000) >>> 0;
  base = Math.fround(f32buf[0] + base);
  f32buf[0] = base;
  const bits = u32buf[0];
  const nonsign = ((bits >>> 13) & 0x7c00) + (bits & 0xfff);
  return ((sign >>> 16) | (shl1 > 0xff000000 ? 0x7e00 : nonsign)) & 0xffff;
}

/** Makes an f16/bf16 tensor from float values (round to nearest even). */
export function toHalf(data: Float32Array | readonly number[], shape: readonly number[], dtype: 'f16' | 'bf16'): Tensor {
  const src = data instanceof Float32Array ? data : Float32Array.from(data);
  const out = new Uint16Array(src.length);
  const conv = dtype === 'f16' ? f32ToF16 : f32ToBf16;
  for (let i = 0; i < src.length; i++) out[i] = conv(src[i]);
  return Tensor.from(out, shape, dtype);
}

export { describe };
