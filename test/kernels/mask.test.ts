import { Tensor } from '../../lib';
import { maskLogits } from '../../lib/ops/mask';
import { forEachIsa, randn, rng } from '../helpers';
import { maskLogitsRef } from '../reference/mask';

const randomMask = (words: number, seed: number, density: number) => {
  const r = rng(seed);
  const m = new Uint32Array(words);
  for (let i = 0; i < words * 32; i++) if (r() < density) m[i >> 5] |= 1 << (i & 31);
  return m;
};

describe('maskLogits', () => {
  // rows, n, density of allowed ids: tails below 8 and 16 lanes, a partial last word, chunk edges
  const cases: [number, number, number][] = [
    [1, 1, 0.5], [1, 3, 0.5], [1, 17, 0.9], [3, 33, 0.1], [2, 4097, 0.5], [1, 151936, 0.01], [1, 151936, 1], [5, 16385, 0.5], [4, 40, 0],
  ];
  for (const [rows, n, density] of cases) {
    test(`maskLogits(rows=${rows},n=${n},density=${density}) on every ISA == definition (exact)`, () => {
      const x = randn(rows * n, rows * 17 + n, 3);
      const m = randomMask(rows * Math.ceil(n / 32), n + rows, density);
      // bits past n set: ignored
      if (n % 32) m[m.length - 1] |= ~0 << (n % 32);
      const ref = maskLogitsRef(x, m, rows, n);
      forEachIsa((isa) => {
        const t = Tensor.from(x, [rows, n]);
        const y = maskLogits(t, m);
        expect({ isa, same: Array.from(y.toArray() as Float32Array).every((v, i) => v === ref[i]) }).toEqual({ isa, same: true });
        if (rows === 1) {
          const a = Float32Array.from(x);
          expect(maskLogits(a, m, a)).toBe(a); // in place
          expect({ isa, same: a.every((v, i) => v === ref[i]) }).toEqual({ isa, same: true });
        }
      });
    });
  }

  test('errors name the argument, the expectation and what was received', () => {
    const x = new Float32Array(40);
    expect(() => maskLogits(x, new Uint32Array(1))).toThrow(new RangeError('maskLogits: Expected 2 (1 rows of ceil(40 / 32) words) for mask.length but received 1'));
    expect(() => maskLogits(x, new Int32Array(2) as unknown as Uint32Array)).toThrow(TypeError);
    expect(() => maskLogits(new Float32Array(0), new Uint32Array(0))).toThrow(RangeError);
    expect(() => maskLogits(x, new Uint32Array(2), new Float32Array(3))).toThrow(new TypeError('maskLogits: Expected a Float32Array(40) for out but received Float32Array(3)'));
    expect(() => maskLogits(Tensor.zeros([2, 8], 'i32'), new Uint32Array(2))).toThrow(TypeError);
    expect(() => maskLogits(Tensor.zeros([2, 8]), new Uint32Array(2), Tensor.zeros([2, 7]))).toThrow(/out.shape/);
  });
});
