// Family `norm`: RMSNorm.
import { native } from '../native';
import { checkNumber, checkOptions, fail } from '../check';
import { Tensor } from '../tensor';
import { checkF32, outputLike, rowsOf } from './common';

export interface RmsNormOptions {
  /** added to the mean square before the square root; default 1e-6 */
  eps?: number;
}

/**
 * RMSNorm over the last dimension: `out = x / sqrt(mean(x²) + eps) * w`.
 *
 * @param x f32 [..., D], contiguous
 * @param w f32 [D], or null for no weight
 * @example
 *   const y = rmsnorm(x, w, { eps: 1e-5 });
 */
export function rmsnorm(x: Tensor, w: Tensor | null, opts?: RmsNormOptions, out?: Tensor): Tensor {
  const fn = 'rmsnorm';
  checkF32(x, 'x', fn);
  const o = checkOptions(opts, 'opts', fn);
  const eps = o.eps === undefined ? 1e-6 : checkNumber(o.eps, 'opts.eps', 0, Infinity, fn);
  const { rows, dim } = rowsOf(x);
  if (w !== null) {
    checkF32(w, 'w', fn);
    if (w.ndim !== 1 || w.shape[0] !== dim) fail('range', 'w.shape', `[${dim}]`, w.shape, fn);
  }
  if (dim < 1) fail('range', 'x.shape', 'a last dimension >= 1', x.shape, fn);
  const y = outputLike(out, x.shape, 'f32', fn);
  native.rmsnorm(y.bytes(), x.bytes(), w ? w.bytes() : null, rows, dim, eps);
  return y;
}
