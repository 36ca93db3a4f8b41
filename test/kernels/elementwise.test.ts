import { add, mul, silu, gelu, sigmoid, swiglu, Tensor, toHalf } from '../../lib';
import { forEachIsa, maxElemRelErr, randn } from '../helpers';
import { binaryRef, geluRef, mapRef, sigmoidRef, siluRef, swigluRef } from '../reference/elementwise';

// add/mul: one f32 rounding of an exact sum/product (f16/bf16 inputs decode exactly): <= 2^-24 relative.
const ADD_MUL_TOL = 2 ** -24;
// silu: ref rounds a double result once (0.5 ulp); SIMD uses the vectorised exp (<= 2e-7 relative), a
// division and a negation: measured <= 3.5e-7, bound stated as 5e-7 relative.
const SILU_TOL = 5e-7;
// gelu: as silu, plus the f32 argument z = 2u = x (c1 + c3 x²): its rounding (constants, square, fma, product;
// ~2e-7 relative) enters exp's argument as an absolute error ~|z| * 2e-7, so the bound grows with |z|.
// Measured 1.2e-5 at x = -9.5 (|z| = 76, result 4e-33); stated 2e-5 relative for every x (below x = -10.4
// the result is under FLT_MIN). ggml's own f32 tanhf form returns 0 for x < -5, so this is far closer.
const GELU_TOL = 2e-5;
// sigmoid: the vectorised exp, an add and a division (x itself is not a factor): measured <= 3e-7; stated 5e-7.
const SIGMOID_TOL = 5e-7;
// swiglu: silu's bound plus one f32 multiply.
const SWIGLU_TOL = 6e-7;
// floor under |ref| for the relative measure: results below it count as absolute error.
const FLOOR = 1e-30;

type Dt = 'f32' | 'f16' | 'bf16';
function tensor(data: Float32Array, shape: number[], dt: Dt): Tensor {
  return dt === 'f32' ? Tensor.from(data, shape) : toHalf(data, shape, dt);
}
function ok(err: number, tol: number): string | number {
  return err <= tol ? 'ok' : err;
}

const SIZES = [1, 3, 8, 17, 33, 4097, 70001];

describe('elementwise', () => {
  for (const n of SIZES) {
    for (const dt of ['f32', 'f16', 'bf16'] as Dt[]) {
      test(`add/mul(n=${n},a=${dt},b=f32) on every ISA vs float64`, () => {
        const a = tensor(randn(n, n + 1, 4), [n], dt);
        const b = Tensor.from(randn(n, n + 2, 4), [n]);
        const addRef = binaryRef(a.toArray(), b.toArray(), (p, q) => p + q);
        const mulRef = binaryRef(a.toArray(), b.toArray(), (p, q) => p * q);
        forEachIsa((isa) => {
          expect({ isa, add: ok(maxElemRelErr(add(a, b).toArray(), addRef, FLOOR), ADD_MUL_TOL) }).toEqual({ isa, add: 'ok' });
          expect({ isa, mul: ok(maxElemRelErr(mul(a, b).toArray(), mulRef, FLOOR), ADD_MUL_TOL) }).toEqual({ isa, mul: 'ok' });
        });
      });

      test(`silu/gelu/sigmoid(n=${n},x=${dt}) on every ISA vs float64`, () => {
        const x = tensor(randn(n, 3 * n + 5, 4), [n], dt);
        const sRef = mapRef(x.toArray(), siluRef);
        const gRef = mapRef(x.toArray(), geluRef);
        forEachIsa((isa) => {
          expect({ isa, silu: ok(maxElemRelErr(silu(x).toArray(), sRef, FLOOR), SILU_TOL) }).toEqual({ isa, silu: 'ok' });
          expect({ isa, gelu: ok(maxElemRelErr(gelu(x).toArray(), gRef, FLOOR), GELU_TOL) }).toEqual({ isa, gelu: 'ok' });
          expect({ isa, sigmoid: ok(maxElemRelErr(sigmoid(x).toArray(), mapRef(x.toArray(), sigmoidRef), FLOOR), SIGMOID_TOL) }).toEqual({ isa, sigmoid: 'ok' });
        });
      });
    }
  }

  for (const [rows, dim] of [[1, 1], [3, 17], [5, 4097], [33, 3], [2000, 40]]) {
    for (const dt of ['f32', 'bf16'] as Dt[]) {
      test(`add/mul broadcast(rows=${rows},dim=${dim},a=${dt},b=[D] f16) on every ISA`, () => {
        const a = tensor(randn(rows * dim, rows + dim, 2), [rows, dim], dt);
        const b = toHalf(randn(dim, dim, 2), [dim], 'f16');
        const addRef = binaryRef(a.toArray(), b.toArray(), (p, q) => p + q);
        const mulRef = binaryRef(a.toArray(), b.toArray(), (p, q) => p * q);
        forEachIsa((isa) => {
          expect({ isa, add: ok(maxElemRelErr(add(a, b).toArray(), addRef, FLOOR), ADD_MUL_TOL) }).toEqual({ isa, add: 'ok' });
          expect({ isa, mul: ok(maxElemRelErr(mul(a, b).toArray(), mulRef, FLOOR), ADD_MUL_TOL) }).toEqual({ isa, mul: 'ok' });
        });
      });

      test(`swiglu(rows=${rows},F=${dim},${dt}) two tensors and fused [rows, 2F] on every ISA`, () => {
        const g = tensor(randn(rows * dim, 7 * rows + dim, 3), [rows, dim], dt);
        const u = Tensor.from(randn(rows * dim, 5 * rows + dim, 3), [rows, dim]);
        const gu = tensor(randn(rows * 2 * dim, 11 * rows + dim, 3), [rows, 2 * dim], dt);
        const ref2 = swigluRef(g.toArray(), u.toArray(), rows, dim);
        const ref1 = swigluRef(gu.toArray(), null, rows, dim);
        forEachIsa((isa) => {
          expect({ isa, two: ok(maxElemRelErr(swiglu(g, u).toArray(), ref2, FLOOR), SWIGLU_TOL) }).toEqual({ isa, two: 'ok' });
          const y = swiglu(gu);
          expect(y.shape).toEqual([rows, dim]);
          expect({ isa, fused: ok(maxElemRelErr(y.toArray(), ref1, FLOOR), SWIGLU_TOL) }).toEqual({ isa, fused: 'ok' });
        });
      });
    }
  }

  test('silu and gelu meet their bounds on dense sweeps of [-90, 90] and [-11.25, 11.25] (the vectorised exp over its range)', () => {
    const n = 180001;
    const xs = new Float32Array(n);
    for (let i = 0; i < n; i++) xs[i] = -90 + (180 * i) / (n - 1);
    const x = Tensor.from(xs);
    const sRef = mapRef(xs, siluRef);
    const small = new Float32Array(xs.map((v) => v / 8)); // gelu's argument grows as x³: sweep [-11.25, 11.25]
    const gRef = mapRef(small, geluRef);
    forEachIsa((isa) => {
      // results below 1e-37 in magnitude (x < -90 for silu, x < -10.4 for gelu) are compared absolutely
      expect({ isa, silu: ok(maxElemRelErr(silu(x).toArray(), sRef, 1e-37), SILU_TOL) }).toEqual({ isa, silu: 'ok' });
      expect({ isa, gelu: ok(maxElemRelErr(gelu(Tensor.from(small)).toArray(), gRef, 1e-37), GELU_TOL) }).toEqual({ isa, gelu: 'ok' });
      expect({ isa, sigmoid: ok(maxElemRelErr(sigmoid(x).toArray(), mapRef(xs, sigmoidRef), 1e-37), SIGMOID_TOL) }).toEqual({ isa, sigmoid: 'ok' });
    });
  });

  test('special values: -inf -> -0, +inf -> +inf, NaN -> NaN, large |x| without overflow garbage', () => {
    const x = Tensor.from(new Float32Array([-Infinity, Infinity, NaN, -1000, 1000, 0, -0, 88.8, -88.8]));
    forEachIsa((isa) => {
      for (const f of [silu, gelu]) {
        const y = Array.from(f(x).toArray());
        expect({ isa, f: f.name, y: y.slice(0, 7) }).toEqual({ isa, f: f.name, y: [-0, Infinity, NaN, -0, 1000, 0, -0] });
        expect(y[7]).toBeCloseTo(88.8, 4);
        expect(Math.abs(y[8])).toBeLessThan(1e-30);
      }
      expect({ isa, sigmoid: Array.from(sigmoid(x).toArray()).slice(0, 7) }).toEqual({ isa, sigmoid: [0, 1, NaN, 0, 1, 0.5, 0.5] });
    });
  });

  test('out given is written and returned; in place on a; zero-size tensors', () => {
    const a = Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const b = Tensor.from(new Float32Array([10, 20]));
    const out = Tensor.zeros([2, 2]);
    expect(add(a, b, out)).toBe(out);
    expect(Array.from(out.toArray())).toEqual([11, 22, 13, 24]);
    expect(mul(a, b, a)).toBe(a);
    expect(Array.from(a.toArray())).toEqual([10, 40, 30, 80]);
    const s = Tensor.zeros([2, 3]);
    expect(swiglu(Tensor.zeros([2, 6]), null, s)).toBe(s);
    expect(silu(Tensor.zeros([0, 4])).shape).toEqual([0, 4]);
    expect(add(Tensor.zeros([0, 4]), Tensor.zeros([4])).shape).toEqual([0, 4]);
    expect(swiglu(Tensor.zeros([3, 0])).shape).toEqual([3, 0]);
  });

  test('errors name the argument, the expectation and what was received', () => {
    const a = Tensor.zeros([2, 8]);
    expect(() => add(a, Tensor.zeros([7]))).toThrow(new RangeError('add: Expected [2, 8] or [8] for b.shape but received [7]'));
    expect(() => mul(a, Tensor.zeros([2, 8], 'i32'))).toThrow(new TypeError("mul: Expected 'f32' or 'f16' or 'bf16' for b.dtype but received 'i32'"));
    expect(() => silu(a, Tensor.zeros([2, 7]))).toThrow(new RangeError('silu: Expected [2, 8] for out.shape but received [2, 7]'));
    expect(() => gelu(a, Tensor.zeros([2, 8], 'f16'))).toThrow(new TypeError("gelu: Expected 'f32' for out.dtype but received 'f16'"));
    expect(() => swiglu(Tensor.zeros([2, 7]))).toThrow(new RangeError('swiglu: Expected an even last dimension (gate and up halves) for gate.shape but received [2, 7]'));
    expect(() => swiglu(a, Tensor.zeros([2, 4]))).toThrow(new RangeError('swiglu: Expected [2, 8] for up.shape but received [2, 4]'));
    expect(() => silu(new Float32Array(4) as unknown as Tensor)).toThrow(new TypeError('silu: Expected a Tensor for x but received Float32Array(4)'));
    expect(() => (add as (...a: unknown[]) => Tensor)(a)).toThrow(new TypeError('add: Expected 2 to 3 arguments for arguments but received 1'));
  });
});
