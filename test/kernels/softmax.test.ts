import { softmax, Tensor } from '../../lib';
import { forEachIsa, maxElemRelErr, randn } from '../helpers';
import { softmaxRef } from '../reference/norm';

// Per element, relative: the vectorised exp (<= 2e-7), the f32 rounding of the exp argument
// scale·x - m (one fma: absolute ~|scale·x - m|·2^-24, up to ~50 here -> 3e-6), the f32 sum over the row
// and the final multiply. Measured <= 2.1e-6 on these cases; ref (double throughout) is within 1 ulp.
const SOFTMAX_TOL = 5e-6;

describe('softmax', () => {
  const cases: Array<[number, number, number]> = [
    [1, 1, 1], [1, 3, 1], [3, 17, 0.5], [2, 4097, 1], [5, 64, 0.125], [7, 4096, 1], [300, 33, 2], [1, 151936, 1],
  ];
  for (const [rows, dim, scale] of cases) {
    test(`softmax(rows=${rows},dim=${dim},scale=${scale}) on every ISA vs float64`, () => {
      const x = randn(rows * dim, rows * 17 + dim, 4);
      // mask a few entries, as attention scores are masked
      for (let i = 0; i < x.length; i += 7) if ((i * 2654435761) % 5 === 0) x[i] = -Infinity;
      if (dim === 1) x[0] = 0.5;
      const ref = softmaxRef(x, rows, dim, scale);
      forEachIsa((isa) => {
        const y = softmax(Tensor.from(x, [rows, dim]), { scale });
        const err = maxElemRelErr(y.toArray(), ref, 1e-37);
        expect({ isa, err: err <= SOFTMAX_TOL ? 'ok' : err }).toEqual({ isa, err: 'ok' });
      });
    });
  }

  test('a fully masked row gives zeros; NaN or +inf in a row gives NaN for that row only', () => {
    for (const dim of [1, 5, 40]) {
      const x = new Float32Array(4 * dim).fill(-Infinity);
      for (let i = 0; i < dim; i++) { x[dim + i] = i; x[2 * dim + i] = i; x[3 * dim + i] = i; }
      x[2 * dim + dim - 1] = NaN;
      x[3 * dim] = Infinity;
      forEachIsa((isa) => {
        const y = softmax(Tensor.from(x, [4, dim])).toArray();
        expect({ isa, row0: Array.from(y.slice(0, dim)) }).toEqual({ isa, row0: new Array(dim).fill(0) });
        const s1 = Array.from(y.slice(dim, 2 * dim)).reduce((a, b) => a + b, 0);
        expect({ isa, sum: Math.abs(s1 - 1) < 1e-6 }).toEqual({ isa, sum: true });
        expect({ isa, nan: Array.from(y.slice(2 * dim)).every(Number.isNaN) }).toEqual({ isa, nan: true });
      });
    }
  });

  test('extreme logits do not overflow; in place and out given', () => {
    const x = Tensor.from(new Float32Array([3e38, 3e38, -3e38, 1e30]), [1, 4]);
    forEachIsa((isa) => {
      expect({ isa, y: Array.from(softmax(x).toArray()) }).toEqual({ isa, y: [0.5, 0.5, 0, 0] });
    });
    const y = Tensor.from(new Float32Array([1, 1, 1, 1]), [2, 2]);
    expect(softmax(y, {}, y)).toBe(y);
    expect(Array.from(y.toArray())).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(softmax(Tensor.zeros([0, 3])).shape).toEqual([0, 3]);
  });

  test('errors name the argument, the expectation and what was received', () => {
    const x = Tensor.zeros([2, 8]);
    expect(() => softmax(x, { scale: 0 })).toThrow(new RangeError('softmax: Expected a finite number > 0 for opts.scale but received 0'));
    expect(() => softmax(x, { scale: -1 })).toThrow(new RangeError('softmax: Expected a finite number in [0, Infinity] for opts.scale but received -1'));
    expect(() => softmax(x, { scale: NaN })).toThrow(RangeError);
    expect(() => softmax(Tensor.zeros([2, 0]))).toThrow(new RangeError('softmax: Expected a last dimension >= 1 for x.shape but received [2, 0]'));
    expect(() => softmax(Tensor.zeros([2, 8], 'f16'))).toThrow(new TypeError("softmax: Expected 'f32' for x.dtype but received 'f16'"));
    expect(() => softmax(x, 3 as unknown as object)).toThrow(new TypeError('softmax: Expected an options object for opts but received 3'));
    expect(() => softmax(x, {}, Tensor.zeros([8, 2]))).toThrow(new RangeError('softmax: Expected [2, 8] for out.shape but received [8, 2]'));
  });
});
