// Checks shared by the op wrappers.
import { fail } from '../check';
import { DType } from '../dtype';
import { Tensor } from '../tensor';

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
