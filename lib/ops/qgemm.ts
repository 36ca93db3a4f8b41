// Family `qgemm`: quantize / dequantize (GGUF block formats) and matmul over any of them.
import { native } from '../native';
import { checkOptions, fail } from '../check';
import { checkKeys, checkOptionKeys, keysOf } from '../check';
import { DType, DTYPES, isDType } from '../dtype';
import { Tensor } from '../tensor';
import { Launch, checkDType, checkTensor, outputLike, runAsync, runNow, weightZeros } from './common';
import { LutFormat, LutQuantizeOptions, LutTensor, dequantizeLut, matmulLutLaunch, quantizeLut } from './lut';

/** The legacy 32-block formats with a q8_0 partner (quantize, dequantize, matmul, repack, gather, moeFfn). */
export const LEGACY_FORMATS = ['q5_0', 'q4_1', 'q5_1', 'iq4_nl', 'mxfp4'] as const;
/** Formats quantize()/dequantize() handle, as GGUF spells them. */
export const QUANT_FORMATS = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_k', 'q5_k', 'q6_k', 'q8_k', ...LEGACY_FORMATS, 'iq4_xs', 'q3_k', 'q2_k'] as const;
export type QuantFormat = (typeof QUANT_FORMATS)[number];
/** Weight dtypes matmul() takes. */
export const MATMUL_WEIGHT_DTYPES: readonly DType[] = [
  'f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_k', 'q5_k', 'q6_k', 'q4_0x16', 'q8_0x16', 'q4_kx16', 'q6_kx16',
  ...LEGACY_FORMATS, 'q5_0x16', 'q4_1x16', 'q5_1x16', 'iq4_nlx16', 'mxfp4x16',
  'iq4_xs', 'q3_k', 'q2_k', 'iq4_xsx16', 'q3_kx16', 'q2_kx16',
];
/**
 * Weight dtypes the CUDA matmul takes (the CUDA build's FL_CUDA_DISPATCH_FORMAT in csrc/cuda/formats.cuh;
 * test/kernels/dtype.test.ts keeps the two lists equal). The npm addon is CPU-only: see cuda.built().
 */
export const CUDA_MATMUL_DTYPES: readonly DType[] = ['q4_0', 'q8_0', 'q4_k', 'q6_k', 'iq4_xs', 'q3_k', 'q2_k', 'f16', 'bf16',
  'q5_0', 'q4_1', 'q5_1', 'iq4_nl', 'mxfp4'];
/** The repacked formats (16 rows interleaved for the GEMV) and the GGUF format each holds. */
export const REPACKED_FORMATS = {
  q4_0x16: 'q4_0', q8_0x16: 'q8_0', q4_kx16: 'q4_k', q6_kx16: 'q6_k',
  q5_0x16: 'q5_0', q4_1x16: 'q4_1', q5_1x16: 'q5_1', iq4_nlx16: 'iq4_nl', mxfp4x16: 'mxfp4',
  iq4_xsx16: 'iq4_xs', q3_kx16: 'q3_k', q2_kx16: 'q2_k',
} as const;
export type RepackedFormat = keyof typeof REPACKED_FORMATS;
/** The GGUF formats repack() takes (each has a repacked form `${dtype}x16`): what load() may repack for the GEMV. */
export const REPACKABLE_DTYPES: readonly DType[] = Object.values(REPACKED_FORMATS);

/** The repacked form of `d`, or undefined when it has none. */
export function repackedDtype(d: DType): RepackedFormat | undefined {
  return (Object.keys(REPACKED_FORMATS) as RepackedFormat[]).find((r) => REPACKED_FORMATS[r] === d);
}

/** Whether repack() takes a weight of this dtype (a plain format with a repacked form). */
export function repackSupported(dtype: string): boolean {
  return (REPACKABLE_DTYPES as readonly string[]).includes(dtype);
}

const FORMAT_LIST = QUANT_FORMATS.map((f) => `'${f}'`).join(', ');

function checkFormat(format: unknown, fn: string): QuantFormat {
  if (typeof format !== 'string' || !(QUANT_FORMATS as readonly string[]).includes(format)) {
    fail('type', 'format', `one of ${FORMAT_LIST}`, format, fn);
  }
  return format as QuantFormat;
}

function rowsCols(t: Tensor): { rows: number; cols: number } {
  const cols = t.shape[t.ndim - 1];
  return { rows: cols === 0 ? 0 : t.numel / cols, cols };
}

/**
 * Quantizes an f32 tensor row by row (rows of its last dimension) into `format`.
 * Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, IQ4_NL, MXFP4, IQ4_XS, Q3_K and Q2_K bytes equal llama.cpp's
 * (`llama-quantize` without an importance matrix); the other K-quants use ggml's reference search.
 * `.bytes()` of the result are the raw GGUF blocks.
 *
 * `'lut3'` / `'lut4'` (fuselm's dense-and-sparse LUT formats) return a `LutTensor`; see
 * `quantizeLut` for `opts`.
 *
 * @param x f32 [..., K], contiguous; K a multiple of the format's block (32 or 256)
 * @example
 *   const wq = quantize(w, 'q4_k'); // w: f32 [4096, 4096]
 *   const wl = quantize(w, 'lut3', { outlierFraction: 0.005 });
 */
export function quantize(x: Tensor, format: LutFormat, opts?: LutQuantizeOptions): LutTensor;
export function quantize(x: Tensor, format: QuantFormat): Tensor;
export function quantize(x: Tensor, format: QuantFormat | LutFormat, opts?: LutQuantizeOptions): Tensor | LutTensor {
  const fn = 'quantize';
  // fuselm's dense-and-sparse LUT formats (lib/ops/lut.ts): x is W f32 [N, K]
  if (format === 'lut3' || format === 'lut4') return quantizeLut(x, format, opts);
  checkOptionKeys(opts, [], 'opts', fn); // the block formats take no options
  checkDType(x, 'x', ['f32'], fn);
  const f = checkFormat(format, fn);
  const { rows, cols } = rowsCols(x);
  const be = DTYPES[f].blockElems;
  if (cols % be !== 0) fail('range', 'x.shape', `a last dimension that is a multiple of ${be} (the ${f} block)`, x.shape, fn);
  const out = Tensor.zeros(x.shape, f);
  native.quantize(out.bytes(), DTYPES[f].id, x.bytes(), rows, cols);
  return out;
}

/**
 * Expands a tensor of any format quantize() writes back to f32 (same shape).
 * @example
 *   const w2 = dequantize(quantize(w, 'q8_0'));
 */
export function dequantize(x: Tensor | LutTensor, out?: Tensor): Tensor {
  const fn = 'dequantize';
  if (x instanceof LutTensor) return dequantizeLut(x, out);
  checkTensor(x, 'x', fn);
  const packed = x.dtype in REPACKED_FORMATS;
  if (!(QUANT_FORMATS as readonly string[]).includes(x.dtype) && !packed) {
    fail('type', 'x.dtype', `one of ${FORMAT_LIST}, ${Object.keys(REPACKED_FORMATS).map((f) => `'${f}'`).join(', ')}`, x.dtype, fn);
  }
  if (!x.isContiguous()) fail('type', 'x', 'a contiguous tensor', '#a strided view', fn);
  const y = outputLike(out, x.shape, 'f32', fn);
  const { rows, cols } = rowsCols(x);
  if (packed && x.ndim < 2) fail('range', 'x.shape', '[..., N, K] with N a multiple of 16', x.shape, fn);
  native.dequantize(y.bytes(), DTYPES[x.dtype].id, x.bytes(), rows, cols);
  return y;
}

/**
 * Repacks a Q4_0 / Q8_0 / Q4_K / Q6_K / Q5_0 / Q4_1 / Q5_1 / IQ4_NL / MXFP4 weight
 * (`REPACKABLE_DTYPES`) for the decode GEMV: 16 rows
 * interleaved so that one 64-byte vector holds 4 weights of 16 rows (one
 * `vpdpbusd` against 4 broadcast activations), with the 16 rows' scales side by
 * side. Same values: `dequantize(repack(W))` equals `dequantize(W)`, and `matmul`
 * takes either. A faster GEMV than the GGUF layout's; the price is a
 * copy at load time (the GGUF layout can be used in place from the mmap). Same
 * size, except q4_kx16 (148 bytes per 256 weights, q4_k 144), iq4_xsx16 (138, iq4_xs 136) and
 * q3_kx16 (114, q3_k 110), whose 6-bit scales are stored decoded. `repack(Wp)` of a repacked tensor undoes it, e.g. to write a GGUF file.
 *
 * @param W one of REPACKABLE_DTYPES, [..., N, K] with N a multiple of 16 (each [N, K] matrix
 *   of a stack, such as MoE experts [E, N, K], repacks on its own), or a repacked one to unpack
 * @param out the result's tensor (W's shape, the paired dtype, contiguous); allocated when omitted
 * @example
 *   const Wp = repack(quantize(w, 'q4_0')); // w: f32 [4096, 4096]
 *   const y = matmul(x, Wp);
 */
export function repack(W: Tensor, to?: DType, out?: Tensor): Tensor {
  const fn = 'repack';
  checkTensor(W, 'W', fn);
  const from = W.dtype;
  const target = repackedDtype(from) ?? (from in REPACKED_FORMATS ? REPACKED_FORMATS[from as RepackedFormat] : undefined);
  if (target === undefined) {
    return fail('type', 'W.dtype', `${REPACKABLE_DTYPES.map((d) => `'${d}'`).join(', ')} or one of their repacked forms`, from, fn);
  }
  if (to !== undefined && to !== target) fail('type', 'to', `'${target}' (the pair of '${from}')`, to, fn);
  if (!W.isContiguous()) fail('type', 'W', 'a contiguous tensor', '#a strided view', fn);
  if (W.ndim < 2 || W.shape[W.ndim - 2] % 16 !== 0) {
    fail('range', 'W.shape', '[..., N, K] with N a multiple of 16 (the repacked row group)', W.shape, fn);
  }
  const { rows, cols } = rowsCols(W);
  let y: Tensor;
  if (out === undefined) y = weightZeros(W.shape, target);
  else {
    checkTensor(out, 'out', fn);
    if (out.dtype !== target) fail('type', 'out.dtype', `'${target}'`, out.dtype, fn);
    if (out.shape.length !== W.shape.length || out.shape.some((d, i) => d !== W.shape[i])) fail('range', 'out.shape', `[${W.shape.join(', ')}]`, out.shape, fn);
    y = out;
  }
  native.repack(y.bytes(), DTYPES[target].id, W.bytes(), DTYPES[from].id, rows, cols);
  return y;
}

export interface MatmulOptions {
  /** f32 [N], added to every output row */
  bias?: Tensor | null;
}
const MATMUL_KEYS = keysOf<MatmulOptions>({ bias: 1 });

/**
 * `out[M, N] = x[M, K] · W[N, K]ᵀ (+ bias)`, W in any format (one row per output).
 *
 * M <= 8 (decode): x is quantized once to W's partner format (q8_0 for q4_0/q8_0 and
 * q5_0/q4_1/q5_1/iq4_nl/mxfp4, q8_K for the K-quants) and multiplied with int8 dot products (VNNI / AVX2);
 * float W runs in f32. M > 8 (prefill): quantized W runs the same arithmetic as an
 * int8 GEMM (x quantized the same way, W repacked per panel, int8 block dots scaled per
 * block); bf16 W runs register-tiled bf16 kernels, f32 and f16 W f32 kernels.
 *
 * @param x f32 or bf16 [M, K] (or [K] for one row)
 * @param W [N, K] of f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k, q5_0, q4_1, q5_1, iq4_nl,
 *   mxfp4, iq4_xs, q3_k, q2_k or a repacked form (MATMUL_WEIGHT_DTYPES), or a `LutTensor`
 *   (lut3/lut4: runs `matmulLut`, x taken as f32)
 * @example
 *   const y = matmul(x, quantize(w, 'q4_0'), { bias: b });
 */
export function matmul(x: Tensor, W: Tensor | LutTensor, opts?: MatmulOptions, out?: Tensor): Tensor {
  const l = matmulLaunch('matmul', x, W, opts, out);
  return l.fn === 'matmul' ? runNow(l) : runNow(l);
}

/**
 * {@link matmul} as native async work: the same checks, then the kernel runs on the
 * addon's executor thread (with every pool thread) while the event loop keeps running.
 * Async calls run in the order they were made. Leave the buffers alone until it settles.
 * @example
 *   const y = await matmulAsync(x, W);   // a long prefill GEMM without blocking the server
 */
export async function matmulAsync(x: Tensor, W: Tensor | LutTensor, opts?: MatmulOptions, out?: Tensor): Promise<Tensor> {
  const l = matmulLaunch('matmulAsync', x, W, opts, out);
  return l.fn === 'matmul' ? runAsync(l) : runAsync(l);
}

function matmulLaunch(fn: string, x: Tensor, W: Tensor | LutTensor, opts?: MatmulOptions, out?: Tensor): Launch<'matmul', Tensor> | Launch<'lutMatmul', Tensor> {
  checkDType(x, 'x', ['f32', 'bf16'], fn);
  if (W instanceof LutTensor) {
    const o = checkOptions(opts, 'opts', fn);
    checkKeys(o, MATMUL_KEYS, 'opts', fn);
    const xf = x.dtype === 'bf16' ? Tensor.from(x.toArray() as Float32Array, x.shape) : x;
    return matmulLutLaunch('matmulLut', xf, W, o.bias ? { bias: o.bias as Tensor } : undefined, out);
  }
  checkTensor(W, 'W', fn);
  if (!isDType(W.dtype) || !MATMUL_WEIGHT_DTYPES.includes(W.dtype)) {
    fail('type', 'W.dtype', MATMUL_WEIGHT_DTYPES.map((d) => `'${d}'`).join(' or '), W.dtype, fn);
  }
  if (!W.isContiguous()) fail('type', 'W', 'a contiguous tensor', '#a strided view', fn);
  if (W.ndim !== 2) fail('range', 'W.shape', '[N, K]', W.shape, fn);
  const [N, K] = W.shape;
  if (K < 1) fail('range', 'W.shape', 'a K >= 1', W.shape, fn);
  if (W.dtype in REPACKED_FORMATS && N % 16 !== 0) fail('range', 'W.shape', '[N, K] with N a multiple of 16', W.shape, fn);
  if (x.ndim !== 1 && x.ndim !== 2) fail('range', 'x.shape', `[M, ${K}] or [${K}]`, x.shape, fn);
  if (x.shape[x.ndim - 1] !== K) fail('range', 'x.shape', x.ndim === 1 ? `[${K}]` : `[M, ${K}]`, x.shape, fn);
  const M = x.ndim === 1 ? 1 : x.shape[0];
  const o = checkOptions(opts, 'opts', fn);
  checkKeys(o, MATMUL_KEYS, 'opts', fn);
  let bias: Tensor | null = null;
  if (o.bias !== undefined && o.bias !== null) {
    checkDType(o.bias, 'opts.bias', ['f32'], fn);
    bias = o.bias as Tensor;
    if (bias.ndim !== 1 || bias.shape[0] !== N) fail('range', 'opts.bias.shape', `[${N}]`, bias.shape, fn);
  }
  const y = outputLike(out, x.ndim === 1 ? [N] : [M, N], 'f32', fn);
  return { fn: 'matmul', args: [y.bytes(), x.bytes(), x.dtype === 'bf16', M, K, W.bytes(), DTYPES[W.dtype].id, N, bias ? bias.bytes() : null], result: () => y };
}
