import { argmax, dequantize, gather, GATHER_DTYPES, quantize, Tensor, toHalf } from '../../lib';
import { forEachIsa, randn, rng } from '../helpers';
import { argmaxRef, gatherRef } from '../reference/embed';

// gather copies or decodes rows: exact (bit-identical to the table's values / to dequantize()), tolerance 0.
// argmax returns indices: exact.

function ids(n: number, V: number, seed: number): Int32Array {
  const r = rng(seed);
  const a = Int32Array.from({ length: n }, () => Math.floor(r() * V));
  if (n > 1) { a[0] = 0; a[n - 1] = V - 1; }
  return a;
}

describe('gather', () => {
  for (const [V, D, T] of [[1, 1, 1], [3, 3, 5], [17, 17, 3], [50, 4097, 4], [1000, 64, 300], [7, 33, 0]]) {
    for (const dt of ['f32', 'f16', 'bf16'] as const) {
      test(`gather(V=${V},D=${D},T=${T},${dt}) on every ISA, exact`, () => {
        const raw = randn(V * D, V + D, 2);
        const table = dt === 'f32' ? Tensor.from(raw, [V, D]) : toHalf(raw, [V, D], dt);
        const id = ids(T, V, T + V);
        const ref = gatherRef(table.toArray(), D, id);
        forEachIsa((isa) => {
          const y = gather(table, id);
          expect(y.shape).toEqual([T, D]);
          expect({ isa, same: Array.from(y.toArray()).every((v, i) => Object.is(v, ref[i])) }).toEqual({ isa, same: true });
        });
      });
    }
  }

  for (const fmt of ['q8_0', 'q4_0', 'q4_k', 'q6_k', 'iq4_xs', 'q3_k', 'q2_k'] as const) {
    test(`gather from a ${fmt} table equals dequantize() of those rows on every ISA`, () => {
      const V = 9, D = 512;
      const q = quantize(Tensor.from(randn(V * D, 77, 1), [V, D]), fmt);
      const full = dequantize(q).toArray();
      const id = Int32Array.from([8, 0, 3, 3, 5]);
      const ref = gatherRef(full, D, id);
      forEachIsa((isa) => {
        const y = gather(q, Tensor.from(id, [5]));
        expect({ isa, same: Array.from(y.toArray()).every((v, i) => Object.is(v, ref[i])) }).toEqual({ isa, same: true });
      });
    });
  }

  test('ids of any shape give [...ids.shape, D]; out given is written and returned', () => {
    const table = Tensor.from(new Float32Array([0, 1, 10, 11, 20, 21]), [3, 2]);
    const out = Tensor.zeros([2, 2, 2]);
    expect(gather(table, Tensor.from(Int32Array.from([2, 0, 1, 2]), [2, 2]), out)).toBe(out);
    expect(Array.from(out.toArray())).toEqual([20, 21, 0, 1, 10, 11, 20, 21]);
  });

  test('errors: ids out of range name the index and value before any row is read; unsupported dtypes say so', () => {
    const table = Tensor.zeros([10, 4]);
    const out = Tensor.from(new Float32Array(12).fill(7), [3, 4]);
    expect(() => gather(table, Int32Array.from([1, 10, 2]), out)).toThrow(new RangeError('gather: Expected integer in [0, 9] for ids[1] but received 10'));
    expect(Array.from(out.toArray()).every((v) => v === 7)).toBe(true); // nothing written
    expect(() => gather(table, Int32Array.from([-1]))).toThrow(new RangeError('gather: Expected integer in [0, 9] for ids[0] but received -1'));
    expect(() => gather(table, Tensor.zeros([2], 'f32'))).toThrow(new TypeError("gather: Expected 'i32' for ids.dtype but received 'f32'"));
    expect(() => gather(table, [1, 2] as unknown as Int32Array)).toThrow(new TypeError('gather: Expected an i32 Tensor or an Int32Array for ids but received [1, 2]'));
    expect(() => gather(Tensor.zeros([10, 4], 'i32'), Int32Array.from([1]))).toThrow(new TypeError(`gather: Expected ${GATHER_DTYPES.map((d) => `'${d}'`).join(' or ')} for table.dtype but received 'i32'`));
    expect(() => gather(Tensor.zeros([2, 32], 'lut4'), Int32Array.from([1]))).toThrow(new Error(`gather: gather is not implemented for dtype lut4 (no row decoder for it: ${GATHER_DTYPES.join(', ')} are)`));
    expect(() => gather(Tensor.zeros([40]), Int32Array.from([1]))).toThrow(new RangeError('gather: Expected [V, D] for table.shape but received [40]'));
    expect(() => gather(table, Int32Array.from([1]), Tensor.zeros([1, 5]))).toThrow(new RangeError('gather: Expected [1, 4] for out.shape but received [1, 5]'));
  });
});

describe('argmax', () => {
  for (const [rows, D] of [[1, 1], [1, 3], [3, 17], [2, 4097], [5, 151936], [300, 33], [4, 8], [2, 16]]) {
    test(`argmax(rows=${rows},D=${D}) on every ISA, exact`, () => {
      const x = randn(rows * D, rows * 3 + D, 3);
      // plant exact ties: row r's max value repeated later in the row
      for (let r = 0; r < rows; r++) {
        const row = x.subarray(r * D, (r + 1) * D);
        const at = argmaxRef(row, 1, D)[0];
        if (r % 2 === 0 && D > 2) row[D - 1] = row[at];
        if (r % 3 === 1 && at > 0) row[at - 1] = row[at];
      }
      const ref = argmaxRef(x, rows, D);
      forEachIsa((isa) => {
        const y = argmax(Tensor.from(x, [rows, D]));
        expect(y.shape).toEqual([rows]);
        expect({ isa, y: Array.from(y.toArray()) }).toEqual({ isa, y: Array.from(ref) });
      });
    });
  }

  test('NaN, -inf and signed-zero rows', () => {
    const D = 37;
    const rows: number[][] = [];
    rows.push(new Array(D).fill(-Infinity)); // all -inf -> 0
    const nanRow = Array.from({ length: D }, (_, i) => i); nanRow[30] = NaN; nanRow[33] = NaN; rows.push(nanRow); // -> 30
    const zeroRow = new Array(D).fill(-1); zeroRow[5] = -0; zeroRow[20] = 0; rows.push(zeroRow); // tie -> 5
    const infRow = new Array(D).fill(0); infRow[36] = Infinity; rows.push(infRow); // -> 36 (tail lane)
    const nanTail = new Array(D).fill(1); nanTail[36] = NaN; rows.push(nanTail); // -> 36
    const x = Float32Array.from(rows.flat());
    forEachIsa((isa) => {
      expect({ isa, y: Array.from(argmax(Tensor.from(x, [rows.length, D])).toArray()) }).toEqual({ isa, y: [0, 30, 5, 36, 36] });
    });
    expect(Array.from(argmax(Tensor.from(new Float32Array([1, 3, 2]))).toArray())).toEqual([1]);
  });

  test('errors', () => {
    expect(() => argmax(Tensor.zeros([2, 0]))).toThrow(new RangeError('argmax: Expected a last dimension >= 1 for x.shape but received [2, 0]'));
    expect(() => argmax(Tensor.zeros([2, 4], 'f16'))).toThrow(new TypeError("argmax: Expected 'f32' for x.dtype but received 'f16'"));
    expect(() => argmax(Tensor.zeros([2, 4]), Tensor.zeros([2]))).toThrow(new TypeError("argmax: Expected 'i32' for out.dtype but received 'f32'"));
    expect(() => argmax(Tensor.zeros([2, 4]), Tensor.zeros([3], 'i32'))).toThrow(new RangeError('argmax: Expected [2] for out.shape but received [3]'));
  });
});
