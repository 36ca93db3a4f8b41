// Family `norm`: RMSNorm.
import { native } from '../native';
import { checkNumber, checkOptionKeys, fail, keysOf } from '../check';
import { Tensor } from '../tensor';
import { Launch, checkF32, outputLike, rowsOf, runAsync, runNow } from './common';

export interface RmsNormOptions {
  /** added to the mean square before the square root; default 1e-6 */
  eps?: number;
}
const RMSNORM_KEYS = keysOf<RmsNormOptions>({ eps: 1 });

/**
 * RMSNorm over the last dimension: `out = x / sqrt(mean(x²) + eps) * w`.
 *
 * @param x f32 [..., D], contiguous
 * @param w f32 [D], or null for no weight
 * @example
 *   const y = rmsnorm(x, w, { eps: 1e-5 });
 */
export function rmsnorm(x: Tensor, w: Tensor | null, opts?: RmsNormOptions, out?: Tensor): Tensor {
  return runNow(rmsnormLaunch('rmsnorm', x, w, opts, out));
}

/** {@link rmsnorm} as native async work: the event loop runs while it does. */
export async function rmsnormAsync(x: Tensor, w: Tensor | null, opts?: RmsNormOptions, out?: Tensor): Promise<Tensor> {
  return runAsync(rmsnormLaunch('rmsnormAsync', x, w, opts, out));
}

function rmsnormLaunch(fn: string, x: Tensor, w: Tensor | null, opts?: RmsNormOptions, out?: Tensor): Launch<'rmsnorm', Tensor> {
  checkF32(x, 'x', fn);
  const o = checkOptionKeys(opts, RMSNORM_KEYS, 'opts', fn);
  const eps = o.eps === undefined ? 1e-6 : checkNumber(o.eps, 'opts.eps', 0, Infinity, fn);
  const { rows, dim } = rowsOf(x);
  if (w !== null) {
    checkF32(w, 'w', fn);
    if (w.ndim !== 1 || w.shape[0] !== dim) fail('range', 'w.shape', `[${dim}]`, w.shape, fn);
  }
  if (dim < 1) fail('range', 'x.shape', 'a last dimension >= 1', x.shape, fn);
  const y = outputLike(out, x.shape, 'f32', fn);
  return { fn: 'rmsnorm', args: [y.bytes(), x.bytes(), w ? w.bytes() : null, rows, dim, eps], result: () => y };
}

export interface SoftmaxOptions {
  /** multiplies x before the softmax (e.g. 1/sqrt(head_dim)); finite and > 0, default 1 */
  scale?: number;
}
const SOFTMAX_KEYS = keysOf<SoftmaxOptions>({ scale: 1 });

/**
 * Row softmax over the last dimension, numerically stable (the row maximum is subtracted first):
 * `out[i] = exp(scale·x[i] - m) / Σ_j exp(scale·x[j] - m)`, `m = max_j scale·x[j]`.
 *
 * `-Infinity` entries (masked positions) get 0. A row of only `-Infinity` (fully masked) gives all
 * zeros rather than NaN; a row holding NaN or `+Infinity` gives NaN in every entry of that row, so bad
 * input shows instead of being hidden. `out` may be `x` (in place).
 *
 * @param x f32 [..., D], contiguous
 * @example
 *   const p = softmax(scores, { scale: 1 / Math.sqrt(128) });
 */
export function softmax(x: Tensor, opts?: SoftmaxOptions, out?: Tensor): Tensor {
  const fn = 'softmax';
  checkF32(x, 'x', fn);
  const o = checkOptionKeys(opts, SOFTMAX_KEYS, 'opts', fn);
  const scale = o.scale === undefined ? 1 : checkNumber(o.scale, 'opts.scale', 0, Infinity, fn);
  if (scale === 0) fail('range', 'opts.scale', 'a finite number > 0', 0, fn);
  const { rows, dim } = rowsOf(x);
  if (dim < 1) fail('range', 'x.shape', 'a last dimension >= 1', x.shape, fn);
  const y = outputLike(out, x.shape, 'f32', fn);
  native.softmax(y.bytes(), x.bytes(), rows, dim, scale);
  return y;
}
