// Tensor.toArray: the contiguous block copy and the strided walk give the elements in logical order.
import { Tensor, f32ToBf16 } from '../../lib/tensor';

describe('Tensor.toArray', () => {
  test('contiguous views at an offset copy exactly their elements, and the copy is detached from the buffer', () => {
    const base = Float32Array.from({ length: 40 }, (_, i) => i * 0.5 - 3);
    const t = new Tensor(base.buffer, 8, 'f32', [3, 4]);   // elements 2..13
    const a = t.toArray() as Float32Array;
    expect(Array.from(a)).toEqual(Array.from(base.subarray(2, 14)));
    base[2] = 99;
    expect(a[0]).toBe(-2);
    const i32 = Int32Array.from({ length: 10 }, (_, i) => -i * 7);
    expect(Array.from(new Tensor(i32.buffer, 4, 'i32', [2, 2]).toArray())).toEqual([-7, -14, -21, -28]);
  });

  test('strided views walk their strides (a column, a transposed view, a row slice of a strided view)', () => {
    const base = Float32Array.from({ length: 12 }, (_, i) => i);   // [3, 4]
    const col = new Tensor(base.buffer, 4, 'f32', [3], [4]);       // column 1
    expect(Array.from(col.toArray())).toEqual([1, 5, 9]);
    const tr = new Tensor(base.buffer, 0, 'f32', [4, 3], [1, 4]);  // the transpose
    expect(col.isContiguous()).toBe(false);
    expect(Array.from(tr.toArray())).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    expect(Array.from(tr.slice(1, 3).toArray())).toEqual([1, 5, 9, 2, 6, 10]);
  });

  test('f16 and bf16 convert to f32 (contiguous or not)', () => {
    const h = Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x7c00]);  // 1, -2, 0.5, inf
    expect(Array.from(new Tensor(h.buffer, 0, 'f16', [4]).toArray())).toEqual([1, -2, 0.5, Infinity]);
    expect(Array.from(new Tensor(h.buffer, 0, 'f16', [2], [2]).toArray())).toEqual([1, 0.5]);
    const b = Uint16Array.from([f32ToBf16(3), f32ToBf16(-0.25)]);
    expect(Array.from(new Tensor(b.buffer, 0, 'bf16', [2]).toArray())).toEqual([3, -0.25]);
  });
});
