// Family `rope`: rotary position embedding, llama.cpp's normal (type 0) and NeoX (type 2) layouts.
import { native } from '../native';
import { checkArgCount, checkInt, checkNumber, checkOptions, fail } from '../check';
import { Tensor, typeTag } from '../tensor';
import { Launch, checkDType, checkF32, outputLike, runAsync, runNow } from './common';

export type RopeMode = 'normal' | 'neox';

export interface RopeOptions {
  /** 'normal': adjacent pairs (x[2i], x[2i+1]), GPT-J style, llama.cpp's LLAMA_ROPE_TYPE_NORM = 0 (llama, mistral);
   *  'neox': halves (x[i], x[i + dims/2]), LLAMA_ROPE_TYPE_NEOX = 2 (qwen2, gpt-neox, phi). Default 'normal'.
   *  'norm' (llama.cpp's own spelling) is accepted for 'normal'. */
  mode?: RopeMode | 'norm';
  /** rotated dimensions per head (ggml's n_dims, GGUF rope.dimension_count: partial rotary), even, 2..headDim;
   *  default headDim */
  dims?: number;
  /** the same as `dims` (ggml's name); give one or the other */
  nDims?: number;
  /** theta base (rope_freq_base); default 10000 */
  base?: number;
  /** linear position scaling (rope_freq_scale); default 1 */
  freqScale?: number;
}

/**
 * Rotary position embedding on `x [T, nHead, headDim]` (or `[T, headDim]` for one head), token `t` at
 * position `pos[t]`, as llama.cpp's `ggml_rope` computes it (without YaRN): for each pair `i < dims/2`,
 * `theta = freqScale · pos[t] · base^(-2i/dims)` and the pair is rotated by theta:
 * `(a, b) -> (a cos θ - b sin θ, a sin θ + b cos θ)`. In 'normal' mode the pair is `(x[2i], x[2i+1])`, in
 * 'neox' mode `(x[i], x[i + dims/2])`. Dimensions from `dims` up pass through. Angles and cos/sin are computed in
 * double once per (token, i), so large positions stay accurate. `out` may be `x` (in place).
 *
 * @param pos i32 positions, one per token (a Tensor [T] or an Int32Array): position offsets for a KV cache
 *   are just `pos[t] = past + t`.
 * @example
 *   rope(q, Int32Array.from([7]), { mode: 'neox', base: 1e6 }, q);   // in place, decode step at position 7
 */
export function rope(x: Tensor, pos: Tensor | Int32Array, opts?: RopeOptions, out?: Tensor): Tensor {
  return runNow(ropeLaunch('rope', arguments.length, x, pos, opts, out));
}

/** {@link rope} as native async work: the event loop runs while it does. */
export async function ropeAsync(x: Tensor, pos: Tensor | Int32Array, opts?: RopeOptions, out?: Tensor): Promise<Tensor> {
  return runAsync(ropeLaunch('ropeAsync', arguments.length, x, pos, opts, out));
}

function ropeLaunch(fn: string, nargs: number, x: Tensor, pos: Tensor | Int32Array, opts?: RopeOptions, out?: Tensor): Launch<Tensor> {
  checkArgCount(nargs, 2, 4, fn);
  checkF32(x, 'x', fn);
  if (x.ndim !== 2 && x.ndim !== 3) fail('range', 'x.shape', '[T, nHead, headDim] or [T, headDim]', x.shape, fn);
  const tokens = x.shape[0];
  const heads = x.ndim === 3 ? x.shape[1] : 1;
  const headDim = x.shape[x.ndim - 1];
  let posBytes: Uint8Array;
  if (typeTag(pos) === 'Int32Array') {
    const p = pos as Int32Array;
    if (p.length !== tokens) fail('range', 'pos.length', `${tokens} (one position per token)`, p.length, fn);
    posBytes = new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
  } else {
    if (!(pos instanceof Tensor)) fail('type', 'pos', 'an i32 Tensor or an Int32Array', pos, fn);
    checkDType(pos, 'pos', ['i32'], fn);
    if (pos.numel !== tokens || pos.ndim !== 1) fail('range', 'pos.shape', `[${tokens}]`, pos.shape, fn);
    posBytes = pos.bytes();
  }
  const o = checkOptions(opts, 'opts', fn);
  let mode = 0;
  if (o.mode !== undefined) {
    if (o.mode !== 'normal' && o.mode !== 'norm' && o.mode !== 'neox') fail('type', 'opts.mode', "'normal' or 'neox'", o.mode, fn);
    mode = o.mode === 'neox' ? 2 : 0;
  }
  if (headDim < 2) fail('range', 'x.shape', 'a head dimension >= 2', x.shape, fn);
  if (heads < 1) fail('range', 'x.shape', 'at least one head', x.shape, fn);
  if (o.dims !== undefined && o.nDims !== undefined) fail('type', 'opts.nDims', 'undefined when opts.dims is given', o.nDims, fn);
  const dimsArg = o.dims !== undefined ? 'opts.dims' : 'opts.nDims';
  const dimsVal = o.dims !== undefined ? o.dims : o.nDims;
  const nDims = dimsVal === undefined ? headDim : checkInt(dimsVal, dimsArg, 2, headDim, fn);
  if (nDims % 2 !== 0) fail('range', dimsArg, `an even integer in [2, ${headDim}]`, nDims, fn);
  const base = o.base === undefined ? 10000 : checkNumber(o.base, 'opts.base', 0, Infinity, fn);
  const freqScale = o.freqScale === undefined ? 1 : checkNumber(o.freqScale, 'opts.freqScale', 0, Infinity, fn);
  if (base === 0) fail('range', 'opts.base', 'a finite number > 0', base, fn);
  if (freqScale === 0) fail('range', 'opts.freqScale', 'a finite number > 0', freqScale, fn);
  const y = outputLike(out, x.shape, 'f32', fn);
  return { fn: 'rope', args: [y.bytes(), x.bytes(), posBytes, tokens, heads, headDim, nDims, mode, base, freqScale], result: () => y };
}
