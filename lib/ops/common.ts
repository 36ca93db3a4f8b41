// Checks shared by the op wrappers.
import { fail } from '../check';
import { DType } from '../dtype';
import { Tensor, byteSize } from '../tensor';
import { native } from '../native';

/**
 * A checked kernel call, ready to run: the native export, its arguments (every one
 * checked by the wrapper that made it), and the wrapper's result from the native
 * return value. Each op makes one Launch and runs it now (`op`) or as native async
 * work (`opAsync`: the export `<fn>Async` runs it on the executor thread, so the event
 * loop keeps running; see csrc/napi/async.h), so both share every check.
 */
export interface Launch<R> {
  fn: string;
  args: unknown[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  result: (ret: any) => R;
}

const PAGES_MIN_BYTES = 2 << 20;

/**
 * A zeroed tensor for weights that decode streams every token: from 2 MiB up, in native
 * memory advised as transparent huge pages (a V8 ArrayBuffer gets 4 KiB pages where THP is
 * 'madvise', and the stream then takes a TLB miss every 4 KiB); smaller ones as Tensor.zeros.
 */
export function weightZeros(shape: readonly number[], dtype: DType): Tensor {
  const bytes = byteSize(dtype, shape);
  if (bytes < PAGES_MIN_BYTES || bytes > 2 ** 32) return Tensor.zeros(shape, dtype);
  return new Tensor(native.allocPages(bytes) as ArrayBuffer, 0, dtype, shape);
}

export function runNow<R>(l: Launch<R>): R {
  return l.result(native[l.fn](...l.args));
}

/** Runs the launch on the executor thread; its buffers must stay untouched (not transferred) until it settles. */
export async function runAsync<R>(l: Launch<R>): Promise<R> {
  return l.result(await native[l.fn + 'Async'](...l.args));
}

export function checkTensor(t: unknown, arg: string, fn: string): asserts t is Tensor {
  if (!(t instanceof Tensor)) fail('type', arg, 'a Tensor', t, fn);
}

export function checkDType(t: unknown, arg: string, dtypes: readonly DType[], fn: string): asserts t is Tensor {
  checkTensor(t, arg, fn);
  if (!dtypes.includes(t.dtype)) fail('type', `${arg}.dtype`, dtypes.map((d) => `'${d}'`).join(' or '), t.dtype, fn);
  if (!t.isContiguous()) fail('type', arg, 'a contiguous tensor', '#a strided view', fn);
}

export function checkF32(t: unknown, arg: string, fn: string): asserts t is Tensor {
  checkDType(t, arg, ['f32'], fn);
}

/** [rows, dim] of a tensor read as rows of its last dimension. */
export function rowsOf(t: Tensor): { rows: number; dim: number } {
  const dim = t.shape[t.ndim - 1];
  return { rows: dim === 0 ? 0 : t.numel / dim, dim };
}

/** The caller's `out` after checking it, or a new zeroed tensor of that shape. */
export function outputLike(out: Tensor | undefined, shape: readonly number[], dtype: DType, fn: string): Tensor {
  if (out === undefined) return Tensor.zeros(shape, dtype);
  checkDType(out, 'out', [dtype], fn);
  if (out.shape.length !== shape.length || out.shape.some((d, i) => d !== shape[i])) {
    fail('range', 'out.shape', `[${shape.join(', ')}]`, out.shape, fn);
  }
  return out;
}
