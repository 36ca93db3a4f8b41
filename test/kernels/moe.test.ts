import { moePermute, moeRoute, MoeStats, Tensor } from '../../lib';
import type { MoeRouteOptions } from '../../lib';
import { forEachIsa, gaussian, rng } from '../helpers';
import { moePermuteRef, moeRouteRef, Scoring } from '../reference/moe';

// Router weights: float32 exp (an fma polynomial within ~2 ulp) and float32
// sums of at most 256 terms in [0, 1]: every weight lands within 1e-6 of the
// float64 value (times the routed scaling factor). Ids compare exactly.
const ROUTE_W_TOL = 1e-6;

/** logits on a 1/8 grid (many exact ties), with a fraction of -Infinity */
function gridLogits(T: number, E: number, seed: number, pInf = 0.1): Float32Array {
  const g = gaussian(seed), u = rng(seed + 1);
  const a = new Float32Array(T * E);
  for (let i = 0; i < a.length; i++) a[i] = u() < pInf ? -Infinity : Math.round(g() * 12) / 8;
  return a;
}

interface RouteCase { T: number; E: number; k: number; scoring: Scoring; norm?: boolean; nGroup?: number; topkGroup?: number; bias?: boolean; scale?: number; pInf?: number }

const routeCases: RouteCase[] = [];
for (const scoring of ['softmax_topk', 'topk_softmax'] as Scoring[]) {
  for (const [E, k] of [[1, 1], [3, 2], [8, 2], [17, 4], [60, 4], [64, 8], [128, 8], [256, 8]]) {
    routeCases.push({ T: 37, E, k, scoring, norm: false });
    if (scoring === 'softmax_topk') routeCases.push({ T: 5, E, k, scoring, norm: true, scale: 1.5 });
  }
}
for (const [E, k, nGroup, topkGroup] of [[8, 2, 1, 1], [17, 3, 1, 1], [64, 6, 8, 3], [256, 8, 8, 4], [256, 8, 256, 8], [96, 8, 4, 2]]) {
  routeCases.push({ T: 37, E, k, scoring: 'sigmoid_group', nGroup, topkGroup, bias: true, norm: true, scale: 2.5 });
  routeCases.push({ T: 5, E, k, scoring: 'sigmoid_group', nGroup, topkGroup, bias: false, norm: false });
}
routeCases.push({ T: 9, E: 33, k: 5, scoring: 'softmax_topk', pInf: 0.95 }); // fewer finite logits than k
routeCases.push({ T: 9, E: 33, k: 5, scoring: 'topk_softmax', pInf: 0.95 });
routeCases.push({ T: 4, E: 16, k: 3, scoring: 'softmax_topk', pInf: 1 }); // all -inf: ids 0..k-1, weights 0

describe('moeRoute', () => {
  routeCases.forEach((c, ci) => {
    const name = `moeRoute(scoring=${c.scoring},T=${c.T},E=${c.E},k=${c.k},norm=${!!c.norm},groups=${c.nGroup ?? 1}/${c.topkGroup ?? 1},bias=${!!c.bias},pInf=${c.pInf ?? 0.1})`;
    test(`${name} on every ISA: ids exact, weights within 1e-6 of float64`, () => {
      const logits = gridLogits(c.T, c.E, 1000 + ci, c.pInf ?? 0.1);
      let bias: Float32Array | null = null;
      if (c.bias) {
        const u = rng(77 + ci);
        bias = new Float32Array(c.E);
        for (let e = 0; e < c.E; e++) bias[e] = Math.round((u() - 0.5) * 32) / 64;
      }
      const ref = moeRouteRef(logits, c.T, c.E, { k: c.k, scoring: c.scoring, norm: c.norm, nGroup: c.nGroup, topkGroup: c.topkGroup, bias, scale: c.scale });
      const opts: MoeRouteOptions = { k: c.k, scoring: c.scoring, normTopkProb: c.norm, routedScalingFactor: c.scale };
      if (c.scoring === 'sigmoid_group') {
        opts.nGroup = c.nGroup;
        opts.topkGroup = c.topkGroup;
        if (bias) opts.bias = Tensor.from(bias);
      }
      const tol = ROUTE_W_TOL * Math.max(1, Math.abs(c.scale ?? 1));
      forEachIsa((isa) => {
        const r = moeRoute(Tensor.from(logits, [c.T, c.E]), opts);
        expect({ isa, ids: Array.from(r.ids.toArray()) }).toEqual({ isa, ids: Array.from(ref.ids) });
        const w = r.weights.toArray();
        let worst = 0;
        for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i] - ref.weights[i]));
        expect({ isa, err: worst <= tol ? 'ok' : worst }).toEqual({ isa, err: 'ok' });
      });
    });
  });

  test('writes into a given out and returns it', () => {
    const logits = Tensor.from(new Float32Array([0, 2, 1, 2]), [1, 4]);
    const out = { ids: Tensor.zeros([1, 2], 'i32'), weights: Tensor.zeros([1, 2]) };
    expect(moeRoute(logits, { k: 2, scoring: 'topk_softmax' }, out)).toBe(out);
    expect(Array.from(out.ids.toArray())).toEqual([1, 3]); // the tie goes to the lower id
    expect(out.weights.toArray()[0]).toBeCloseTo(0.5, 6);
  });

  test('bad input throws a clear error', () => {
    const l = Tensor.zeros([2, 8]);
    expect(() => moeRoute(l, { k: 9 })).toThrow(new RangeError('moeRoute: Expected integer in [1, 8] for opts.k but received 9'));
    expect(() => moeRoute(Tensor.zeros([2, 3]), { k: 4 })).toThrow(new RangeError('moeRoute: Expected integer in [1, 3] for opts.k but received 4'));
    expect(() => moeRoute(Tensor.zeros([2, 257]), { k: 2 })).toThrow(/E in \[1, 256\]/);
    expect(() => moeRoute(l, { k: 2, scoring: 'sigmoid' as never })).toThrow(TypeError);
    expect(() => moeRoute(l, { k: 2, nGroup: 2 })).toThrow(/opts.nGroup/);
    expect(() => moeRoute(l, { k: 2, scoring: 'sigmoid_group', nGroup: 3 })).toThrow(/divisor of E=8/);
    expect(() => moeRoute(l, { k: 3, scoring: 'sigmoid_group', nGroup: 4, topkGroup: 1 })).toThrow(/topkGroup \* E \/ nGroup = 2/);
    expect(() => moeRoute(l, { k: 2, scoring: 'sigmoid_group', bias: Tensor.zeros([7]) })).toThrow(/opts.bias.shape/);
    expect(() => moeRoute(Tensor.zeros([2, 8], 'i32'), { k: 2 })).toThrow(TypeError);
    const nan = new Float32Array(16); nan[11] = NaN;
    expect(() => moeRoute(Tensor.from(nan, [2, 8]), { k: 2 })).toThrow('moeRoute: Expected a finite number or -Infinity for logits[1, 3] but received NaN');
    const inf = new Float32Array(16); inf[2] = Infinity;
    forEachIsa(() => expect(() => moeRoute(Tensor.from(inf, [2, 8]), { k: 2 })).toThrow(/logits\[0, 2\].*Infinity/));
    const b = new Float32Array(8); b[5] = NaN;
    expect(() => moeRoute(l, { k: 2, scoring: 'sigmoid_group', bias: Tensor.from(b) })).toThrow(/bias\[5\]/);
  });
});

describe('moePermute', () => {
  for (const [T, k, E, pad] of [[1, 2, 8, 1], [5, 2, 8, 4], [300, 8, 64, 1], [300, 8, 128, 16], [17, 3, 5, 7], [0, 2, 4, 1]]) {
    test(`moePermute(T=${T},k=${k},E=${E},pad=${pad}) matches the reference and round-trips`, () => {
      const u = rng(T * 7 + E);
      const ids = new Int32Array(T * k);
      for (let i = 0; i < ids.length; i++) ids[i] = Math.floor(u() ** 2 * E); // skewed load, some experts empty
      const plan = moePermute(Tensor.from(ids, [T, k]), { E, pad });
      const ref = moePermuteRef(ids, T, k, E, pad);
      expect(Array.from(plan.counts.toArray())).toEqual(Array.from(ref.counts));
      expect(Array.from(plan.offsets.toArray())).toEqual(Array.from(ref.offsets));
      expect(Array.from(plan.pairs.toArray())).toEqual(Array.from(ref.pairs));
      expect(Array.from(plan.inverse.toArray())).toEqual(Array.from(ref.inverse));
      expect(plan.total).toBe(ref.total);
      const pairs = plan.pairs.toArray(), inv = plan.inverse.toArray(), off = plan.offsets.toArray();
      for (let p = 0; p < T * k; p++) expect(pairs[inv[p]]).toBe(p);
      for (let e = 0; e < E; e++) {
        expect((off[e + 1] - off[e]) % pad).toBe(0);
        for (let r = off[e]; r < off[e + 1]; r++) if (pairs[r] >= 0) expect(ids[pairs[r]]).toBe(e);
      }
    });
  }

  test('bad ids throw before anything is written', () => {
    expect(() => moePermute(Tensor.from(new Int32Array([0, 8]), [1, 2]), { E: 8 })).toThrow(new RangeError('moePermute: Expected an expert id in [0, 7] for ids[0, 1] but received 8'));
    expect(() => moePermute(Tensor.from(new Int32Array([-1, 0]), [1, 2]), { E: 8 })).toThrow(/ids\[0, 0\]/);
    expect(() => moePermute(Tensor.from(new Int32Array([0, 1, 2]), [1, 3]), { E: 2 })).toThrow(/ids.shape\[1\]/);
    expect(() => moePermute(Tensor.from(new Int32Array([0, 1]), [1, 2]), { E: 2, pad: 0 })).toThrow(/opts.pad/);
  });
});

describe('MoeStats', () => {
  test('starts at zero and resets', () => {
    const s = new MoeStats(4);
    expect(Array.from(s.counts())).toEqual([0, 0, 0, 0]);
    s.data[1] = 3;
    s.data[4] = 1;
    expect(s.calls).toBe(1);
    expect(Array.from(s.loads())).toEqual([0, 1, 0, 0]);
    s.reset();
    expect(s.calls).toBe(0);
    expect(() => new MoeStats(0)).toThrow(RangeError);
  });
});
