// Family `lut`: fuselm's SqueezeLLM-style dense-and-sparse format (lut4, lut3).
// A LutTensor W [N, K] is per-row codes (block_lut4 / block_lut3 in
// csrc/include/fuselm/blocks.h), a per-row table of 2^bits fp16 centroids and a
// CSR fp16 sparse part: W[n, k] = table[n][code(n, k)] + (CSR value at (n, k), if any).
import { native } from '../native';
import { NativeBuffer } from '../native-api';
import { checkInt, checkNumber, checkOptionKeys, fail, keysOf } from '../check';
import { Tensor, typeTag } from '../tensor';
import { Launch, checkDType, checkF32, outputLike, runNow } from './common';

export type LutFormat = 'lut3' | 'lut4';

/** The five parts of a LUT matrix, as stored. */
export interface LutParts {
  /** [N, K/32] blocks: 16 bytes (lut4) or 12 bytes (lut3) per 32 weights */
  codes: Uint8Array;
  /** [N, 16] (lut4) or [N, 8] (lut3) fp16 centroids, ascending per row */
  table: Uint16Array;
  /** [N + 1] CSR row pointers: rowPtr[0] = 0, non-decreasing, rowPtr[N] = nnz */
  rowPtr: Int32Array;
  /** [nnz] column of each outlier, in [0, K) */
  col: Int32Array;
  /** [nnz] fp16 residual of each outlier: w - table[n][code] */
  val: Uint16Array;
}
const LUT_PARTS_KEYS = keysOf<LutParts>({ codes: 1, table: 1, rowPtr: 1, col: 1, val: 1 });

function bitsOf(f: LutFormat): number { return f === 'lut4' ? 4 : 3; }
function blockBytes(f: LutFormat): number { return f === 'lut4' ? 16 : 12; }

/** A weight matrix in the lut3/lut4 format: codes, per-row tables and the CSR outliers. */
export class LutTensor {
  readonly dtype: LutFormat;
  readonly shape: readonly [number, number];
  /** the packed codes as a tensor of dtype lut3/lut4 [N, K] */
  readonly codes: Tensor;
  /** f16 [N, 2^bits] */
  readonly table: Tensor;
  readonly rowPtr: Int32Array;
  readonly col: Int32Array;
  readonly val: Uint16Array;

  /** Wraps parts without copying; checks their sizes and the CSR structure. */
  constructor(dtype: LutFormat, shape: readonly number[], parts: LutParts) {
    const fn = 'LutTensor';
    if (dtype !== 'lut3' && dtype !== 'lut4') fail('type', 'dtype', "'lut3' or 'lut4'", dtype, fn);
    if (!Array.isArray(shape) || shape.length !== 2) fail('type', 'shape', 'an array [N, K]', shape, fn);
    const n = checkInt(shape[0], 'shape[0]', 1, 2 ** 31 - 1, fn);
    const k = checkInt(shape[1], 'shape[1]', 32, 2 ** 31 - 1, fn);
    if (k % 32 !== 0) fail('range', 'shape[1]', 'a multiple of 32 (the lut block)', k, fn);
    const p = checkOptionKeys(parts, LUT_PARTS_KEYS, 'parts', fn) as Partial<LutParts>;
    const want: Array<[keyof LutParts, string, number]> = [
      ['codes', 'Uint8Array', n * (k / 32) * blockBytes(dtype)],
      ['table', 'Uint16Array', n << bitsOf(dtype)],
      ['rowPtr', 'Int32Array', n + 1],
    ];
    for (const [name, tag, len] of want) {
      if (typeTag(p[name]) !== tag) fail('type', `parts.${name}`, `a ${tag}`, p[name], fn);
      if ((p[name] as ArrayLike<number>).length !== len) fail('range', `parts.${name}`, `${len} elements`, `#${(p[name] as ArrayLike<number>).length} elements`, fn);
    }
    if (typeTag(p.col) !== 'Int32Array') fail('type', 'parts.col', 'a Int32Array', p.col, fn);
    if (typeTag(p.val) !== 'Uint16Array') fail('type', 'parts.val', 'a Uint16Array', p.val, fn);
    const rp = p.rowPtr as Int32Array, col = p.col as Int32Array, val = p.val as Uint16Array;
    const nnz = col.length;
    if (val.length !== nnz) fail('range', 'parts.val', `${nnz} elements (as parts.col)`, `#${val.length} elements`, fn);
    if (rp[0] !== 0) fail('range', 'parts.rowPtr[0]', '0', rp[0], fn);
    for (let r = 0; r < n; r++) {
      if (rp[r + 1] < rp[r]) fail('range', `parts.rowPtr[${r + 1}]`, `a non-decreasing sequence (>= ${rp[r]})`, rp[r + 1], fn);
    }
    if (rp[n] !== nnz) fail('range', `parts.rowPtr[${n}]`, `nnz = ${nnz}`, rp[n], fn);
    for (let i = 0; i < nnz; i++) {
      if (col[i] < 0 || col[i] >= k) fail('range', `parts.col[${i}]`, `integer in [0, ${k - 1}]`, col[i], fn);
    }
    this.dtype = dtype;
    this.shape = Object.freeze([n, k]) as readonly [number, number];
    const c = p.codes as Uint8Array, t = p.table as Uint16Array;
    this.codes = new Tensor(c.buffer, c.byteOffset, dtype, [n, k]);
    this.table = new Tensor(t.buffer, t.byteOffset, 'f16', [n, 1 << bitsOf(dtype)]);
    this.rowPtr = rp;
    this.col = col;
    this.val = val;
  }

  get bits(): number { return bitsOf(this.dtype); }
  /** number of outliers in the sparse part */
  get nnz(): number { return this.col.length; }
  get quantized(): boolean { return true; }
  get numel(): number { return this.shape[0] * this.shape[1]; }

  /** The parts as stored, as raw bytes, zero-copy. */
  bytes(): { codes: Uint8Array; table: Uint8Array; rowPtr: Uint8Array; col: Uint8Array; val: Uint8Array } {
    const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    return { codes: this.codes.bytes(), table: this.table.bytes(), rowPtr: u8(this.rowPtr), col: u8(this.col), val: u8(this.val) };
  }

  /** Bytes of all parts together (what a GEMV reads). */
  get byteLength(): number {
    return this.codes.byteLength + this.table.byteLength + this.rowPtr.byteLength + this.col.byteLength + this.val.byteLength;
  }

  toString(): string { return `LutTensor(${this.dtype}, [${this.shape.join(', ')}], nnz=${this.nnz})`; }
}

export interface LutQuantizeOptions {
  /** fraction of the weights, by largest magnitude over the whole matrix, kept in the CSR part;
   *  nnz = floor(outlierFraction * N * K). Default 0.005. */
  outlierFraction?: number;
  /** k-means weights: per input channel [K] (e.g. mean x² or a diagonal Fisher) or per weight [N, K];
   *  uniform when absent. Non-negative. */
  weights?: Float32Array | Tensor;
  /** Lloyd iterations after the init (stops early at a fixed point); default 30 */
  iters?: number;
  /** seed of the k-means++ init; default 0 */
  seed?: number;
  /** 'kmeans++' (default, seeded) or 'quantile' (weighted quantiles, no randomness) */
  init?: 'kmeans++' | 'quantile';
}
const LUT_QUANTIZE_KEYS = keysOf<LutQuantizeOptions>({ outlierFraction: 1, weights: 1, iters: 1, seed: 1, init: 1 });

/**
 * Quantizes W f32 [N, K] (K a multiple of 32) to lut3/lut4: per row, weighted 1-D k-means
 * over the non-outlier weights gives 8 or 16 centroids (rounded to fp16); each weight takes the
 * code of its nearest centroid; the largest-magnitude weights also get a CSR entry holding
 * their fp16 residual, so W'[n, k] = table[code] + residual.
 * @example
 *   const q = quantizeLut(w, 'lut3', { outlierFraction: 0.005, weights: meanSquareActivations });
 */
export function quantizeLut(w: Tensor, format: LutFormat, opts?: LutQuantizeOptions): LutTensor {
  const fn = 'quantizeLut';
  checkF32(w, 'w', fn);
  if (format !== 'lut3' && format !== 'lut4') fail('type', 'format', "'lut3' or 'lut4'", format, fn);
  if (w.ndim !== 2) fail('range', 'w.shape', 'a 2-D shape [N, K]', w.shape, fn);
  const [n, k] = w.shape;
  if (n < 1) fail('range', 'w.shape', 'N >= 1', w.shape, fn);
  if (k < 32 || k % 32 !== 0) fail('range', 'w.shape', 'K a multiple of 32 (the lut block)', w.shape, fn);
  const o = checkOptionKeys(opts, LUT_QUANTIZE_KEYS, 'opts', fn);
  const frac = o.outlierFraction === undefined ? 0.005 : checkNumber(o.outlierFraction, 'opts.outlierFraction', 0, 1, fn);
  const iters = o.iters === undefined ? 30 : checkInt(o.iters, 'opts.iters', 0, 10000, fn);
  const seed = o.seed === undefined ? 0 : checkInt(o.seed, 'opts.seed', 0, Number.MAX_SAFE_INTEGER, fn);
  if (o.init !== undefined && o.init !== 'kmeans++' && o.init !== 'quantile') fail('type', 'opts.init', "'kmeans++' or 'quantile'", o.init, fn);
  let imp: Float32Array | null = null;
  if (o.weights !== undefined) {
    if (o.weights instanceof Tensor) {
      checkF32(o.weights, 'opts.weights', fn);
      imp = new Float32Array(o.weights.buffer, o.weights.byteOffset, o.weights.numel);
    } else if (typeTag(o.weights) === 'Float32Array') {
      imp = o.weights as Float32Array;
    } else {
      fail('type', 'opts.weights', 'a Float32Array or an f32 Tensor', o.weights, fn);
    }
    if (imp.length !== k && imp.length !== n * k) fail('range', 'opts.weights', `K = ${k} or N*K = ${n * k} values`, `#${imp.length} values`, fn);
  }
  const nnz = Math.floor(frac * n * k);
  if (nnz > 2 ** 31 - 1) fail('range', 'opts.outlierFraction', 'a fraction giving at most 2^31-1 outliers', frac, fn);
  const parts: LutParts = {
    codes: new Uint8Array(n * (k / 32) * blockBytes(format)),
    table: new Uint16Array(n << bitsOf(format)),
    rowPtr: new Int32Array(n + 1),
    col: new Int32Array(nnz),
    val: new Uint16Array(nnz),
  };
  native.lutQuantize(parts.codes, parts.table, parts.rowPtr, parts.col, parts.val, w.bytes(), imp, n, k,
    bitsOf(format), nnz, iters, seed, o.init === 'quantile' ? 1 : 0);
  return new LutTensor(format, [n, k], parts);
}

function checkLut(w: unknown, arg: string, fn: string): asserts w is LutTensor {
  if (!(w instanceof LutTensor)) fail('type', arg, 'a LutTensor', w, fn);
}

function partsArgs(w: LutTensor): [codes: NativeBuffer, table: NativeBuffer, rowPtr: NativeBuffer, col: NativeBuffer, val: NativeBuffer] {
  return [w.codes.bytes(), w.table.bytes(), w.rowPtr, w.col, w.val];
}

/** W as f32 [N, K]: table[code] plus the CSR residuals. */
export function dequantizeLut(w: LutTensor, out?: Tensor): Tensor {
  const fn = 'dequantizeLut';
  checkLut(w, 'w', fn);
  const y = outputLike(out, w.shape, 'f32', fn);
  native.lutDequantize(y.bytes(), ...partsArgs(w), w.shape[0], w.shape[1], w.bits, w.nnz);
  return y;
}

export interface MatmulLutOptions {
  /** f32 [N], added to every output row */
  bias?: Tensor;
}
const MATMUL_LUT_KEYS = keysOf<MatmulLutOptions>({ bias: 1 });

/**
 * `out[m, n] = Σ_k x[m, k] · W[n, k] (+ bias[n])` with W in lut3/lut4. Each code is looked up
 * in the row's table held in registers and the row's CSR outliers are added in the same pass.
 * Precision: x stays f32 and the weights are exact (vpermps, f32 FMA: only f32 accumulation
 * error, <= (K/16 + 16)·2⁻²⁴·Σ|x·w|), except on AVX-512 with M <= 4 (the GEMV), which rounds x
 * and the row's table to bf16 (vpermw + vdpbf16ps) and adds <= 2⁻⁸·Σ|x·w|; outliers stay f32.
 * @param x f32 [..., K], contiguous
 * @param w LutTensor [N, K]
 * @returns f32 [..., N]
 */
export function matmulLut(x: Tensor, w: LutTensor, opts?: MatmulLutOptions, out?: Tensor): Tensor {
  return runNow(matmulLutLaunch('matmulLut', x, w, opts, out));
}

/** matmulLut's checks, as a Launch (matmul and matmulAsync run LUT weights through it). */
export function matmulLutLaunch(fn: string, x: Tensor, w: LutTensor, opts?: MatmulLutOptions, out?: Tensor): Launch<'lutMatmul', Tensor> {
  checkF32(x, 'x', fn);
  checkLut(w, 'w', fn);
  const [n, k] = w.shape;
  if (x.shape[x.ndim - 1] !== k) fail('range', 'x.shape', `a last dimension of K = ${k}`, x.shape, fn);
  const o = checkOptionKeys(opts, MATMUL_LUT_KEYS, 'opts', fn);
  let bias: Tensor | null = null;
  if (o.bias !== undefined && o.bias !== null) {
    checkDType(o.bias, 'opts.bias', ['f32'], fn);
    bias = o.bias as Tensor;
    if (bias.numel !== n) fail('range', 'opts.bias.shape', `[${n}]`, bias.shape, fn);
  }
  const m = x.numel / k;
  const y = outputLike(out, [...x.shape.slice(0, -1), n], 'f32', fn);
  return { fn: 'lutMatmul', args: [y.bytes(), x.bytes(), ...partsArgs(w), bias ? bias.bytes() : null, m, n, k, w.bits, w.nnz], result: () => y };
}
