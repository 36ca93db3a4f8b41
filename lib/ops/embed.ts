// Family `embed`: embedding row gather and row argmax.
import { native } from '../native';
import { checkArgCount, fail } from '../check';
import { DTYPES } from '../dtype';
import { Tensor, typeTag } from '../tensor';
import { Launch, checkDType, checkF32, checkTensor, outputLike, runAsync, runNow } from './common';

/** table dtypes gather() decodes: the plain float types, and the quantized formats with a row decoder */
export const GATHER_DTYPES = ['f32', 'f16', 'bf16', 'q4_0', 'q8_0', 'q4_k', 'q5_k', 'q6_k', 'q8_k', 'q5_0', 'q4_1', 'q5_1', 'iq4_nl', 'mxfp4', 'iq4_xs', 'q3_k', 'q2_k'] as const;

function idsOf(ids: unknown, fn: string): { data: Int32Array; shape: number[] } {
  if (typeTag(ids) === 'Int32Array') {
    const d = ids as Int32Array;
    return { data: d, shape: [d.length] };
  }
  if (!(ids instanceof Tensor)) fail('type', 'ids', 'an i32 Tensor or an Int32Array', ids, fn);
  checkDType(ids, 'ids', ['i32'], fn);
  // a view of the ids (checkDType: contiguous), not a copy: a recorded graph's replays read them anew
  return { data: new Int32Array(ids.buffer, ids.byteOffset, ids.numel), shape: ids.shape.slice() };
}

/**
 * Embedding lookup: row `ids[t]` of `table [V, D]`, decoded to f32, for every id: `out [...ids.shape, D]`.
 *
 * `table` is f32, f16, bf16 or a quantized GGUF format (q4_0, q8_0, q4_k, q5_k, q6_k, q8_k, q5_0, q4_1, q5_1, iq4_nl, mxfp4, iq4_xs, q3_k, q2_k: decoded with the
 * format's dequantize-row function, exactly as `dequantize` does); other formats throw saying so. Every id is
 * checked before any row is read: one outside `[0, V)` throws a RangeError naming its index and value.
 *
 * @param ids i32 token ids: a Tensor of any shape, or an Int32Array
 * @example
 *   const x = gather(tokEmbd, Int32Array.from([1, 15043, 3186]));   // [3, D] f32
 */
export function gather(table: Tensor, ids: Tensor | Int32Array, out?: Tensor): Tensor {
  return runNow(gatherLaunch('gather', arguments.length, table, ids, out));
}

/** {@link gather} as native async work: the event loop runs while it does. */
export async function gatherAsync(table: Tensor, ids: Tensor | Int32Array, out?: Tensor): Promise<Tensor> {
  return runAsync(gatherLaunch('gatherAsync', arguments.length, table, ids, out));
}

function gatherLaunch(fn: string, nargs: number, table: Tensor, ids: Tensor | Int32Array, out?: Tensor): Launch<'gather', Tensor> {
  checkArgCount(nargs, 2, 3, fn);
  checkTensor(table, 'table', fn);
  if (!(GATHER_DTYPES as readonly string[]).includes(table.dtype)) {
    if (!DTYPES[table.dtype].quantized) fail('type', 'table.dtype', GATHER_DTYPES.map((d) => `'${d}'`).join(' or '), table.dtype, fn);
    throw new Error(`${fn}: gather is not implemented for dtype ${table.dtype} (no row decoder for it: ${GATHER_DTYPES.join(', ')} are)`);
  }
  checkDType(table, 'table', [table.dtype], fn);
  if (table.ndim !== 2) fail('range', 'table.shape', '[V, D]', table.shape, fn);
  const [V, D] = table.shape;
  if (V < 1 || D < 1) fail('range', 'table.shape', '[V, D] with V >= 1 and D >= 1', table.shape, fn);
  const { data, shape } = idsOf(ids, fn);
  for (let t = 0; t < data.length; t++) {
    if (data[t] < 0 || data[t] >= V) fail('range', `ids[${t}]`, `integer in [0, ${V - 1}]`, data[t], fn);
  }
  const y = outputLike(out, [...shape, D], 'f32', fn);
  const idBytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { fn: 'gather', args: [y.bytes(), table.bytes(), DTYPES[table.dtype].id, V, D, idBytes, data.length], result: () => y };
}

/**
 * Index of the largest entry of each row of `x [..., D]`: `out [...]` i32 (`[1]` for a 1-D `x`).
 * Ties go to the lowest index (+0 and -0 tie). A row holding NaN gives the index of its first NaN (as numpy
 * and torch do, so a broken row shows instead of being skipped); a row of only -Infinity gives 0.
 *
 * @example
 *   const next = argmax(logits.slice(T - 1)).toArray()[0];   // greedy decoding
 */
export function argmax(x: Tensor, out?: Tensor): Tensor {
  const fn = 'argmax';
  checkArgCount(arguments.length, 1, 2, fn);
  checkF32(x, 'x', fn);
  const D = x.shape[x.ndim - 1];
  if (D < 1) fail('range', 'x.shape', 'a last dimension >= 1', x.shape, fn);
  if (D > 2 ** 31 - 1) fail('range', 'x.shape', 'a last dimension <= 2147483647', x.shape, fn);
  const shape = x.ndim === 1 ? [1] : x.shape.slice(0, -1);
  const y = outputLike(out, shape, 'i32', fn);
  native.argmax(y.bytes(), x.bytes(), x.numel / D, D);
  return y;
}

