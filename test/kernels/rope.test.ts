import { rope, Tensor } from '../../lib';
import { forEachIsa, relMaxErr, randn } from '../helpers';
import { ropeRef } from '../reference/rope';

// cos/sin come from double angles rounded to f32 (<= 2^-24 each, absolute), then two products and a sum in
// f32 (SIMD) or double (ref): every output is within ~3 f32 roundings of |a|+|b|. Measured relative to the
// largest |ref| of the case: ref 6.2e-8, AVX2/AVX-512 7.6e-8 (positions up to 100000, base up to 1e6); stated 3e-7.
const ROPE_TOL = 3e-7;

describe('rope', () => {
  // [tokens, heads, headDim, nDims, base, start position]
  const cases: Array<[number, number, number, number, number, number]> = [
    [1, 1, 2, 2, 10000, 0], [3, 2, 17 + 1, 18, 10000, 5], [1, 3, 64, 64, 10000, 4095], [5, 4, 128, 128, 1e6, 100000],
    [17, 3, 80, 32, 10000, 7], [2, 2, 4098, 4098, 500000, 3], [7, 1, 96, 34, 10000, 1], [300, 2, 64, 64, 10000, 0],
  ];
  for (const [T, H, D, nDims, base, start] of cases) {
    for (const mode of ['normal', 'neox'] as const) {
      test(`rope(T=${T},H=${H},D=${D},nDims=${nDims},base=${base},pos0=${start},mode=${mode}) on every ISA vs float64`, () => {
        const x = randn(T * H * D, T * 31 + D + nDims, 2);
        const pos = Int32Array.from({ length: T }, (_, t) => start + t * (t % 3 === 2 ? 5 : 1));
        const ref = ropeRef(x, pos, T, H, D, nDims, mode, base, 1);
        forEachIsa((isa) => {
          const y = rope(Tensor.from(x, [T, H, D]), pos, { mode, dims: nDims, base });
          const err = relMaxErr(y.toArray(), ref);
          expect({ isa, err: err <= ROPE_TOL ? 'ok' : err }).toEqual({ isa, err: 'ok' });
          // in place gives the same bits
          const xi = Tensor.from(x.slice(), [T, H, D]);
          expect(rope(xi, Tensor.from(pos), { mode, dims: nDims, base }, xi)).toBe(xi);
          expect({ isa, same: Buffer.compare(Buffer.from(xi.bytes()), Buffer.from(y.bytes())) }).toEqual({ isa, same: 0 });
        });
      });
    }
  }

  test('freqScale scales positions; pass-through dims are copied exactly; [T, D] is one head', () => {
    const x = randn(4 * 10, 3, 1);
    const pos = Int32Array.from([0, 1, 2, 3]);
    const ref = ropeRef(x, Int32Array.from([0, 1, 2, 3]).map((p) => p), 4, 1, 10, 6, 'neox', 10000, 0.25);
    forEachIsa((isa) => {
      const y = rope(Tensor.from(x, [4, 10]), pos, { mode: 'neox', dims: 6, freqScale: 0.25 }).toArray();
      expect({ isa, err: relMaxErr(y, ref) <= ROPE_TOL }).toEqual({ isa, err: true });
      for (let t = 0; t < 4; t++) for (let j = 6; j < 10; j++) expect(y[t * 10 + j]).toBe(x[t * 10 + j]);
    });
    // the aliases: mode 'norm' is 'normal', nDims is dims
    const a = rope(Tensor.from(x, [4, 10]), pos, { mode: 'norm', nDims: 6 }).toArray();
    const b = rope(Tensor.from(x, [4, 10]), pos, { mode: 'normal', dims: 6 }).toArray();
    expect(Array.from(a)).toEqual(Array.from(b));
    // position 0 is the identity
    const z = randn(8, 9);
    expect(Array.from(rope(Tensor.from(z, [1, 8]), Int32Array.from([0])).toArray())).toEqual(Array.from(z));
    expect(rope(Tensor.zeros([0, 2, 8]), new Int32Array(0)).shape).toEqual([0, 2, 8]);
  });

  test('errors name the argument, the expectation and what was received', () => {
    const x = Tensor.zeros([2, 4, 8]);
    const p = Int32Array.from([0, 1]);
    expect(() => rope(x, Int32Array.from([0]))).toThrow(new RangeError('rope: Expected 2 (one position per token) for pos.length but received 1'));
    expect(() => rope(x, Tensor.zeros([2], 'f32'))).toThrow(new TypeError("rope: Expected 'i32' for pos.dtype but received 'f32'"));
    expect(() => rope(x, [0, 1] as unknown as Int32Array)).toThrow(new TypeError('rope: Expected an i32 Tensor or an Int32Array for pos but received [0, 1]'));
    expect(() => rope(x, p, { nDims: 7 })).toThrow(new RangeError('rope: Expected an even integer in [2, 8] for opts.nDims but received 7'));
    expect(() => rope(x, p, { nDims: 10 })).toThrow(new RangeError('rope: Expected integer in [2, 8] for opts.nDims but received 10'));
    expect(() => rope(x, p, { mode: 'gptj' as 'normal' })).toThrow(new TypeError("rope: Expected 'normal' or 'neox' for opts.mode but received 'gptj'"));
    expect(() => rope(x, p, { dims: 7 })).toThrow(new RangeError('rope: Expected an even integer in [2, 8] for opts.dims but received 7'));
    expect(() => rope(x, p, { dims: 4, nDims: 4 })).toThrow(new TypeError('rope: Expected undefined when opts.dims is given for opts.nDims but received 4'));
    expect(() => rope(x, p, { base: 0 })).toThrow(new RangeError('rope: Expected a finite number > 0 for opts.base but received 0'));
    expect(() => rope(Tensor.zeros([8]), p)).toThrow(new RangeError('rope: Expected [T, nHead, headDim] or [T, headDim] for x.shape but received [8]'));
    expect(() => rope(x, p, {}, Tensor.zeros([2, 4, 7]))).toThrow(new RangeError('rope: Expected [2, 4, 8] for out.shape but received [2, 4, 7]'));
  });
});
