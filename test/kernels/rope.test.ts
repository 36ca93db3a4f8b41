import { rope, ropeAsync, Tensor } from '../../lib';
import { forEachIsa, relMaxErr, randn } from '../helpers';
import { RopeScalingRef, ropeRef, yarnCorrDims } from '../reference/rope';

// cos/sin come from double angles rounded to f32 (<= 2^-24 each, absolute), then two products and a sum in
// f32 (SIMD) or double (ref): every output is within ~3 f32 roundings of |a|+|b|. Measured relative to the
// largest |ref| of the case: ref 6.2e-8, AVX2/AVX-512 7.6e-8 (positions up to 100000, base up to 1e6); stated 3e-7.
const ROPE_TOL = 3e-7;
// With scaling the magnitude m (attnFactor, YaRN's 1 + 0.1 ln(1/freqScale)) multiplies cos/sin in double before
// the one f32 rounding, so the bound above holds relative to the (m-scaled) largest |ref|: the same 3e-7.

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

  // ggml_rope_ext's scaling: linear, llama3 freq factors, YaRN (ramp inside the rotated pairs, ramp off the ends,
  // a degenerate range), combined; shapes with tails and partial rotary
  const llama3 = (n: number) => Float32Array.from({ length: n }, (_, i) => 1 + (7 * i) / Math.max(1, n - 1));
  const scaled: Array<[string, number, number, number, number, number, number, RopeScalingRef]> = [
    // name, T, H, D, nDims, base, pos0, scaling
    ['linear', 5, 3, 64, 64, 10000, 4000, { freqScale: 0.25 }],
    ['linear-up', 3, 2, 18, 18, 10000, 5, { freqScale: 2.5 }],
    ['freqFactors', 7, 2, 96, 34, 500000, 60000, { freqFactors: llama3(17) }],
    ['freqFactors+linear', 4, 3, 128, 128, 500000, 9000, { freqFactors: llama3(64), freqScale: 0.5 }],
    ['yarn', 6, 2, 64, 64, 10000, 3000, { freqScale: 0.25, extFactor: 1, origCtx: 2048 }],
    ['yarn-1e6', 3, 4, 128, 128, 1e6, 100000, { freqScale: 0.25, extFactor: 1, origCtx: 32768, betaFast: 32, betaSlow: 1 }],
    ['yarn-partial', 17, 1, 80, 34, 10000, 7, { freqScale: 0.125, extFactor: 0.5, attnFactor: 0.8, origCtx: 512, betaFast: 16, betaSlow: 2 }],
    ['yarn-degenerate', 3, 1, 10, 10, 10000, 50, { freqScale: 0.5, extFactor: 1, origCtx: 8 }],
    ['yarn+freqFactors+attn', 5, 2, 2 * 17 + 2, 36, 10000, 1000, { freqScale: 0.25, extFactor: 1, origCtx: 4096, attnFactor: 1.5, freqFactors: llama3(18) }],
    ['attnFactor-only', 2, 2, 8, 8, 10000, 3, { attnFactor: 0.5 }],
  ];
  for (const [name, T, H, D, nDims, base, start, sc] of scaled) {
    for (const mode of ['normal', 'neox'] as const) {
      test(`rope(${name},T=${T},H=${H},D=${D},nDims=${nDims},base=${base},pos0=${start},mode=${mode}) on every ISA vs float64`, () => {
        const x = randn(T * H * D, T * 7 + D + nDims + 1, 2);
        const pos = Int32Array.from({ length: T }, (_, t) => start + t * (t % 3 === 2 ? 11 : 1));
        const ref = ropeRef(x, pos, T, H, D, nDims, mode, base, sc);
        const opts = { mode, dims: nDims, base, ...sc, freqFactors: sc.freqFactors as Float32Array | undefined };
        forEachIsa((isa) => {
          const y = rope(Tensor.from(x, [T, H, D]), pos, opts);
          const err = relMaxErr(y.toArray(), ref);
          expect({ isa, err: err <= ROPE_TOL ? 'ok' : err }).toEqual({ isa, err: 'ok' });
          const xi = Tensor.from(x.slice(), [T, H, D]);
          const ffT = sc.freqFactors ? { freqFactors: Tensor.from(sc.freqFactors as Float32Array) } : {};
          expect(rope(xi, Tensor.from(pos), { ...opts, ...ffT }, xi)).toBe(xi);
          expect({ isa, same: Buffer.compare(Buffer.from(xi.bytes()), Buffer.from(y.bytes())) }).toEqual({ isa, same: 0 });
        });
      });
    }
  }

  test('ropeAsync with YaRN and freqFactors (a Tensor the async work holds) gives the same bits as rope', async () => {
    const x = randn(5 * 2 * 36, 77, 2);
    const pos = Int32Array.from([0, 9, 100, 1000, 5000]);
    const opts = { mode: 'neox' as const, base: 10000, freqScale: 0.25, extFactor: 1, origCtx: 512, attnFactor: 1.1,
      freqFactors: Tensor.from(Float32Array.from({ length: 18 }, (_, i) => 1 + i / 3)) };
    const y = rope(Tensor.from(x, [5, 2, 36]), pos, opts);
    const ya = await ropeAsync(Tensor.from(x, [5, 2, 36]), pos, opts);
    expect(Buffer.compare(Buffer.from(ya.bytes()), Buffer.from(y.bytes()))).toBe(0);
    await expect(ropeAsync(Tensor.from(x, [5, 2, 36]), pos, { ...opts, extFactor: 1, origCtx: undefined }))
      .rejects.toThrow(new RangeError('ropeAsync: Expected the training context length (an integer >= 1) when opts.extFactor != 0 for opts.origCtx but received undefined'));
  });

  test('YaRN pieces: the corr dims, the ramp ends, and that scaling matters at these shapes', () => {
    // d(b) = n ln(ctx / (2 pi b)) / (2 ln base): 64 dims, 2048 context, base 1e4 -> d(32) = 8.06, d(1) = 20.1
    expect(yarnCorrDims(64, 2048, 10000, 32, 1)).toEqual([8, 21]);
    expect(yarnCorrDims(10, 8, 10000, 32, 1)).toEqual([0, 1]);
    // pair 0 (below lo) extrapolates: it rotates as unscaled RoPE, times the magnitude 1 + 0.1 ln 4
    const x = randn(64, 5, 1);
    const p = Int32Array.from([3]);
    const plain = rope(Tensor.from(x, [1, 64]), p, { dims: 64 }).toArray();
    const yarn = rope(Tensor.from(x, [1, 64]), p, { dims: 64, freqScale: 0.25, extFactor: 1, origCtx: 2048 }).toArray();
    const m = 1 + 0.1 * Math.log(4);
    expect(Math.abs(yarn[0] - m * plain[0])).toBeLessThan(1e-5);
    // the last pair (above hi) interpolates: as linear scaling by 0.25, times m
    const lin = rope(Tensor.from(x, [1, 64]), p, { dims: 64, freqScale: 0.25 }).toArray();
    expect(Math.abs(yarn[63] - m * lin[63])).toBeLessThan(1e-5);
    expect(Math.abs(yarn[30] - m * lin[30])).toBeGreaterThan(1e-4); // pair 15 is on the ramp: neither
  });

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
    expect(() => rope(x, p, { freqScale: 0 })).toThrow(new RangeError('rope: Expected a finite number > 0 for opts.freqScale but received 0'));
    expect(() => rope(x, p, { attnFactor: -1 })).toThrow(new RangeError('rope: Expected a finite number in [0, Infinity] for opts.attnFactor but received -1'));
    expect(() => rope(x, p, { extFactor: -0.5 })).toThrow(new RangeError('rope: Expected a finite number in [0, Infinity] for opts.extFactor but received -0.5'));
    expect(() => rope(x, p, { extFactor: 1 })).toThrow(new RangeError('rope: Expected the training context length (an integer >= 1) when opts.extFactor != 0 for opts.origCtx but received undefined'));
    expect(() => rope(x, p, { extFactor: 1, origCtx: 0 })).toThrow(new RangeError('rope: Expected integer in [1, 2147483647] for opts.origCtx but received 0'));
    expect(() => rope(x, p, { betaFast: 0 })).toThrow(new RangeError('rope: Expected a finite number > 0 for opts.betaFast but received 0'));
    expect(() => rope(x, p, { freqFactors: new Float32Array(3) })).toThrow(new RangeError('rope: Expected 4 (dims / 2) for opts.freqFactors.length but received 3'));
    expect(() => rope(x, p, { freqFactors: Float32Array.from([1, 2, 0, 1]) })).toThrow(new RangeError('rope: Expected a finite number > 0 for opts.freqFactors[2] but received 0'));
    expect(() => rope(x, p, { freqFactors: Float32Array.from([1, NaN, 1, 1]) })).toThrow(new RangeError('rope: Expected a finite number > 0 for opts.freqFactors[1] but received NaN'));
    expect(() => rope(x, p, { freqFactors: Tensor.zeros([4], 'f16') })).toThrow(new TypeError("rope: Expected 'f32' for opts.freqFactors.dtype but received 'f16'"));
    expect(() => rope(x, p, { freqFactors: [1, 1, 1, 1] as unknown as Float32Array })).toThrow(new TypeError('rope: Expected an f32 Tensor or a Float32Array for opts.freqFactors but received [1, 1, 1, 1]'));
    expect(() => rope(Tensor.zeros([8]), p)).toThrow(new RangeError('rope: Expected [T, nHead, headDim] or [T, headDim] for x.shape but received [8]'));
    expect(() => rope(x, p, {}, Tensor.zeros([2, 4, 7]))).toThrow(new RangeError('rope: Expected [2, 4, 8] for out.shape but received [2, 4, 7]'));
  });
});
