// Checks shared by the op wrappers.
import { fail } from '../check';
import { DType } from '../dtype';
import { Tensor, byteSize } from '../tensor';
import { native } from '../native';
import { NativeKernelArgs, NativeKernelName, NativeKernelResults, NativeKernels, NativeAsyncKernels } from '../native-api';

/**
 * A checked kernel call, ready to run: the native export, its arguments (every one
 * checked by the wrapper that made it), and the wrapper's result from the native
 * return value. Each op makes one Launch and runs it now (`runNow`) or as native async
 * work (`runAsync`: the export `<fn>Async` runs it on the executor thread, so the event
 * loop keeps running; see csrc/napi/async.h), so both share every check. The argument
 * tuple is the export's own (lib/native-api.ts), so tsc checks it.
 */
export interface Launch<K extends NativeKernelName, R> {
  fn: K;
  args: NativeKernelArgs[K];
  result: (ret: NativeKernelResults[K]) => R;
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
  return new Tensor(native.allocPages(bytes), 0, dtype, shape);
}

// the kernels by name, each as one function type per name (so a generic name indexes a callable)
const kernels: { [K in NativeKernelName]: (...args: NativeKernelArgs[K]) => NativeKernelResults[K] } = native as NativeKernels;
// (getters: the export is looked up at each call, as `kernels[name]` is, so a wrapper installed on the addon sees it)
const asyncKernels: { readonly [K in NativeKernelName]: (...args: NativeKernelArgs[K]) => Promise<NativeKernelResults[K]> } = {
  get rmsnorm() { return native.rmsnormAsync; }, get add() { return native.addAsync; }, get mul() { return native.mulAsync; },
  get swiglu() { return native.swigluAsync; }, get gather() { return native.gatherAsync; }, get rope() { return native.ropeAsync; },
  get matmul() { return native.matmulAsync; }, get lutMatmul() { return native.lutMatmulAsync; },
  get kvAppend() { return native.kvAppendAsync; }, get attention() { return native.attentionAsync; },
  get moeRoute() { return native.moeRouteAsync; }, get moeFfn() { return native.moeFfnAsync; }, get graphRun() { return native.graphRunAsync; },
} satisfies { readonly [K in NativeKernelName]: NativeAsyncKernels[`${K}Async`] };

export function runNow<K extends NativeKernelName, R>(l: Launch<K, R>): R {
  const f: (...args: NativeKernelArgs[K]) => NativeKernelResults[K] = kernels[l.fn];
  return l.result(f(...l.args));
}

/** Runs the launch on the executor thread; its buffers must stay untouched (not transferred) until it settles. */
export async function runAsync<K extends NativeKernelName, R>(l: Launch<K, R>): Promise<R> {
  const f: (...args: NativeKernelArgs[K]) => Promise<NativeKernelResults[K]> = asyncKernels[l.fn];
  return l.result(await f(...l.args));
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
