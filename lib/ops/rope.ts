// Family `rope`: rotary position embedding, llama.cpp's normal (type 0) and NeoX (type 2) layouts.
import { native } from '../native';
import { checkArgCount, checkInt, checkNumber, checkOptionKeys, fail, keysOf } from '../check';
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
  /** linear position scaling (llama.cpp's rope_freq_scale = 1 / rope.scaling.factor): theta_interp =
   *  freqScale · theta; default 1 */
  freqScale?: number;
  /** per-pair divisors of theta, f32 [dims/2] (llama3-style `rope_freqs.weight`, ggml_rope_ext's `c`): pair `i`
   *  rotates by theta / freqFactors[i]; each finite > 0. Default none (1). */
  freqFactors?: Tensor | Float32Array;
  /** YaRN (llama.cpp's yarn_ext_factor): weight of the ramp that keeps the fast-rotating pairs unscaled
   *  (extrapolated) and interpolates the slow ones; 0 turns YaRN off. Finite >= 0; default 0. */
  extFactor?: number;
  /** magnitude on cos/sin (llama.cpp's yarn_attn_factor); finite > 0; default 1. With extFactor != 0 the
   *  kernel multiplies it by YaRN's `1 + 0.1 ln(1/freqScale)`, as ggml does. */
  attnFactor?: number;
  /** YaRN's correction range in rotations (yarn_beta_fast / yarn_beta_slow); finite > 0; defaults 32 and 1 */
  betaFast?: number;
  betaSlow?: number;
  /** the context the model was trained with (n_ctx_orig_yarn): required when extFactor != 0 */
  origCtx?: number;
}
const ROPE_KEYS = keysOf<RopeOptions>({
  mode: 1, dims: 1, nDims: 1, base: 1, freqScale: 1, freqFactors: 1, extFactor: 1, attnFactor: 1, betaFast: 1, betaSlow: 1, origCtx: 1,
});

/**
 * Rotary position embedding on `x [T, nHead, headDim]` (or `[T, headDim]` for one head), token `t` at
 * position `pos[t]`, as llama.cpp's `ggml_rope_ext` computes it. For each pair `i < dims/2`:
 * `θe = pos[t] · base^(-2i/dims) / freqFactors[i]` (extrapolated), `θi = freqScale · θe` (interpolated);
 * without YaRN (`extFactor` 0) `θ = θi` and `m = attnFactor`; with YaRN `θ = θi (1 - r) + θe r` where
 * `r = extFactor · (1 - clamp((i - lo) / max(0.001, hi - lo), 0, 1))`, `[lo, hi]` ggml's corr dims
 * (`d(β) = dims · ln(origCtx / (2π β)) / (2 ln base)`, `lo = max(0, floor d(betaFast))`,
 * `hi = min(dims - 1, ceil d(betaSlow))`), and `m = attnFactor · (1 + 0.1 ln(1/freqScale))`. The pair is rotated
 * and scaled: `(a, b) -> m (a cos θ - b sin θ, a sin θ + b cos θ)`. In 'normal' mode the pair is
 * `(x[2i], x[2i+1])`, in 'neox' mode `(x[i], x[i + dims/2])`. Dimensions from `dims` up pass through. The
 * per-pair factors are computed once per call, angles and cos/sin in double once per (token, i), so large
 * positions stay accurate. `out` may be `x` (in place).
 *
 * @param pos i32 positions, one per token (a Tensor [T] or an Int32Array): position offsets for a KV cache
 *   are just `pos[t] = past + t`.
 * @example
 *   rope(q, Int32Array.from([7]), { mode: 'neox', base: 1e6 }, q);   // in place, decode step at position 7
 *   // Qwen2.5 with YaRN x4 over a 32K training context:
 *   rope(q, pos, { mode: 'neox', base: 1e6, freqScale: 0.25, extFactor: 1, origCtx: 32768 }, q);
 */
export function rope(x: Tensor, pos: Tensor | Int32Array, opts?: RopeOptions, out?: Tensor): Tensor {
  return runNow(ropeLaunch('rope', arguments.length, x, pos, opts, out));
}

/** {@link rope} as native async work: the event loop runs while it does. */
export async function ropeAsync(x: Tensor, pos: Tensor | Int32Array, opts?: RopeOptions, out?: Tensor): Promise<Tensor> {
  return runAsync(ropeLaunch('ropeAsync', arguments.length, x, pos, opts, out));
}

function ropeLaunch(fn: string, nargs: number, x: Tensor, pos: Tensor | Int32Array, opts?: RopeOptions, out?: Tensor): Launch<'rope', Tensor> {
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
  if (headDim < 2) fail('range', 'x.shape', 'a head dimension >= 2', x.shape, fn);
  if (heads < 1) fail('range', 'x.shape', 'at least one head', x.shape, fn);
  const r = ropeParams(opts, headDim, fn);
  const y = outputLike(out, x.shape, 'f32', fn);
  return {
    fn: 'rope',
    args: [y.bytes(), x.bytes(), posBytes, tokens, heads, headDim, r.nDims, r.mode, r.base, r.freqScale,
      r.extFactor, r.attnFactor, r.betaFast, r.betaSlow, r.origCtx, r.freqFactors],
    result: () => y,
  };
}


/** @internal RopeOptions checked against a head size, as the native calls take them. */
export interface RopeParams {
  nDims: number; mode: number; base: number; freqScale: number; extFactor: number; attnFactor: number;
  betaFast: number; betaSlow: number; origCtx: number; freqFactors: Uint8Array | null;
}

/** @internal checks `opts` (RopeOptions) for heads of `headDim` channels; errors name `fn` and `<arg>.<key>` */
export function ropeParams(opts: RopeOptions | undefined, headDim: number, fn: string, arg = 'opts'): RopeParams {
  const o = checkOptionKeys(opts, ROPE_KEYS, arg, fn);
  let mode = 0;
  if (o.mode !== undefined) {
    if (o.mode !== 'normal' && o.mode !== 'norm' && o.mode !== 'neox') fail('type', `${arg}.mode`, "'normal' or 'neox'", o.mode, fn);
    mode = o.mode === 'neox' ? 2 : 0;
  }
  if (o.dims !== undefined && o.nDims !== undefined) fail('type', `${arg}.nDims`, `undefined when ${arg}.dims is given`, o.nDims, fn);
  const dimsArg = o.dims !== undefined ? `${arg}.dims` : `${arg}.nDims`;
  const dimsVal = o.dims !== undefined ? o.dims : o.nDims;
  const nDims = dimsVal === undefined ? headDim : checkInt(dimsVal, dimsArg, 2, headDim, fn);
  if (nDims % 2 !== 0) fail('range', dimsArg, `an even integer in [2, ${headDim}]`, nDims, fn);
  const base = o.base === undefined ? 10000 : checkNumber(o.base, `${arg}.base`, 0, Infinity, fn);
  if (base === 0) fail('range', `${arg}.base`, 'a finite number > 0', base, fn);
  const positive = (v: unknown, name: string, dflt: number): number => {
    if (v === undefined) return dflt;
    const r = checkNumber(v, name, 0, Infinity, fn);
    if (r === 0 || Math.fround(r) === 0) fail('range', name, 'a finite number > 0', r, fn);
    return r;
  };
  const freqScale = positive(o.freqScale, `${arg}.freqScale`, 1);
  const attnFactor = positive(o.attnFactor, `${arg}.attnFactor`, 1);
  const extFactor = o.extFactor === undefined ? 0 : checkNumber(o.extFactor, `${arg}.extFactor`, 0, Infinity, fn);
  const betaFast = positive(o.betaFast, `${arg}.betaFast`, 32);
  const betaSlow = positive(o.betaSlow, `${arg}.betaSlow`, 1);
  let origCtx = 0;
  if (o.origCtx !== undefined) origCtx = checkInt(o.origCtx, `${arg}.origCtx`, 1, 2 ** 31 - 1, fn);
  else if (extFactor !== 0) fail('range', `${arg}.origCtx`, `the training context length (an integer >= 1) when ${arg}.extFactor != 0`, o.origCtx, fn);
  let ffBytes: Uint8Array | null = null;
  if (o.freqFactors !== undefined) {
    let ff: Float32Array;
    if (typeTag(o.freqFactors) === 'Float32Array') ff = o.freqFactors as Float32Array;
    else {
      if (!(o.freqFactors instanceof Tensor)) fail('type', `${arg}.freqFactors`, 'an f32 Tensor or a Float32Array', o.freqFactors, fn);
      checkDType(o.freqFactors, `${arg}.freqFactors`, ['f32'], fn);
      if (!o.freqFactors.isContiguous()) fail('range', `${arg}.freqFactors`, 'a contiguous tensor', 'a strided view', fn);
      const b = o.freqFactors.bytes();
      ff = b.byteOffset % 4 === 0 ? new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4) : new Float32Array(b.slice().buffer);
    }
    if (ff.length !== nDims / 2) fail('range', `${arg}.freqFactors.length`, `${nDims / 2} (dims / 2)`, ff.length, fn);
    for (let i = 0; i < ff.length; i++) {
      if (!(ff[i] > 0) || ff[i] === Infinity) fail('range', `${arg}.freqFactors[${i}]`, 'a finite number > 0', ff[i], fn);
    }
    ffBytes = new Uint8Array(ff.buffer, ff.byteOffset, ff.byteLength);
  }
  return { nDims, mode, base, freqScale, extFactor, attnFactor, betaFast, betaSlow, origCtx, freqFactors: ffBytes };
}
