import { rmsnorm, Tensor } from '../../lib';
import { forEachIsa, maxElemRelErr, randn } from '../helpers';
import { rmsnormRef } from '../reference/norm';

// f32 math with a double-accumulated (ref) or f32-accumulated (SIMD) sum of
// squares: each output is within a few ulp of the float64 result.
const RMSNORM_TOL = 4e-6;

describe('rmsnorm', () => {
  const cases: Array<[number, number, boolean]> = [
    [1, 1, true], [1, 3, false], [3, 17, true], [2, 4097, true], [5, 64, false], [7, 4096, true], [300, 33, true],
  ];
  for (const [rows, dim, withW] of cases) {
    test(`rmsnorm(rows=${rows},dim=${dim},w=${withW}) on every ISA vs float64`, () => {
      const x = randn(rows * dim, rows * 131 + dim, 3);
      const w = withW ? randn(dim, dim + 7) : null;
      const ref = rmsnormRef(x, w, rows, dim, 1e-5);
      forEachIsa((isa) => {
        const y = rmsnorm(Tensor.from(x, [rows, dim]), w ? Tensor.from(w) : null, { eps: 1e-5 });
        const err = maxElemRelErr(y.toArray(), ref, 1e-3);
        expect({ isa, err: err <= RMSNORM_TOL ? 'ok' : err }).toEqual({ isa, err: 'ok' });
      });
    });
  }

  test('writes into a given out and returns it', () => {
    const x = Tensor.from(new Float32Array([3, 4]), [1, 2]);
    const out = Tensor.zeros([1, 2]);
    expect(rmsnorm(x, null, { eps: 0 }, out)).toBe(out);
    const v = out.toArray();
    expect(v[0]).toBeCloseTo(3 / Math.sqrt(12.5), 6);
  });

  test('errors name the argument, the expectation and what was received', () => {
    const x = Tensor.zeros([2, 8]);
    expect(() => rmsnorm(x, Tensor.zeros([7]))).toThrow(new RangeError('rmsnorm: Expected [8] for w.shape but received [7]'));
    expect(() => rmsnorm(x, null, { eps: -1 })).toThrow(new RangeError('rmsnorm: Expected a finite number in [0, Infinity] for opts.eps but received -1'));
    expect(() => rmsnorm(Tensor.zeros([2, 8], 'i32'), null)).toThrow(TypeError);
    expect(() => rmsnorm(x, null, {}, Tensor.zeros([2, 7]))).toThrow(/out.shape/);
  });
});
