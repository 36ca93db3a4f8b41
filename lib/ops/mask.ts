// Family `mask`: a grammar's allowed-token bitmask applied to logits.
import { native } from '../native';
import { fail } from '../check';
import { Tensor } from '../tensor';
import { checkF32, outputLike, rowsOf } from './common';

/**
 * Keeps the logits of allowed tokens and sets the rest to -Infinity:
 * `out[r, i] = mask[r·⌈n/32⌉ + ⌊i/32⌋] bit (i mod 32) ? x[r, i] : -Infinity`.
 * The mask is the one {@link TokenVocab.allowed} gives (bit i of word i >> 5 for token i).
 *
 * @param x f32 logits [..., n] as a Tensor, or one row as a Float32Array
 * @param mask Uint32Array of ⌈n/32⌉ words per row; bits past n are ignored
 * @param out where to write (default: a new array or tensor); may be `x` (in place)
 * @example
 *   const allowed = vocab.allowed(grammar, matcher.state);
 *   maskLogits(logits, allowed, logits); // in place
 */
export function maskLogits<T extends Tensor | Float32Array>(x: T, mask: Uint32Array, out?: T): T {
  const fn = 'maskLogits';
  let rows: number, n: number, y: T;
  if (x instanceof Float32Array) {
    rows = 1;
    n = x.length;
    if (n < 1) fail('range', 'x.length', 'at least 1', n, fn);
    if (out !== undefined && (!(out instanceof Float32Array) || out.length !== n)) fail('type', 'out', `a Float32Array(${n})`, out, fn);
    y = (out ?? new Float32Array(n)) as T;
  } else {
    checkF32(x, 'x', fn);
    ({ rows, dim: n } = rowsOf(x));
    if (n < 1) fail('range', 'x.shape', 'a last dimension >= 1', x.shape, fn);
    if (out !== undefined && !(out instanceof Tensor)) fail('type', 'out', 'a Tensor', out, fn);
    y = outputLike(out as Tensor | undefined, x.shape, 'f32', fn) as T;
  }
  if (!(mask instanceof Uint32Array)) fail('type', 'mask', 'a Uint32Array', mask, fn);
  const words = rows * Math.ceil(n / 32);
  if (mask.length !== words) fail('range', 'mask.length', `${words} (${rows} rows of ceil(${n} / 32) words)`, mask.length, fn);
  if (rows === 0) return y;
  const bytes = (t: Tensor | Float32Array) => (t instanceof Tensor ? t.bytes() : t);
  native.maskLogits(bytes(y), bytes(x), mask, rows, n);
  return y;
}
