import { moeFfn, moePermute, moeRoute, MoeStats, Tensor, toHalf } from '../../lib';
import type { MoeExperts, MoeFfnReport, MoeRouteOptions, MoeRouting } from '../../lib';
import { quantize, repack } from '../../lib/ops/qgemm';
import { forEachIsa, gaussian, randn, rng } from '../helpers';
import { DenseExpert, moeFfnRef, moePermuteRef, moeRouteRef, Scoring } from '../reference/moe';
import { dequantRef } from '../reference/qgemm';

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
// group sizes 12 and 3 leave vector tails inside every group (AVX2 scalar, AVX-512 masked)
for (const [E, k, nGroup, topkGroup] of [[8, 2, 1, 1], [17, 3, 1, 1], [64, 6, 8, 3], [256, 8, 8, 4], [256, 8, 256, 8], [96, 8, 4, 2], [60, 4, 5, 2], [27, 3, 9, 2]]) {
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

// ---- moeFfn ----------------------------------------------------------------------
// Tolerance (why): moeFfn is two chained qgemm products per expert. Decode rows
// (<= 8 tokens per expert) quantize x and then h to the weight format's int8 dot
// partner (q8_0 / q8_K blocks, each element off by at most amax_block / 254);
// prefill rows run qgemm's int8 GEMM (x and h quantized as for the GEMV, f32 and f16 W in f32).
// Either way each stage is within ~2^-7 of sum |a w| (qgemm's stated budgets), so
// we bound |y - ref| by MOE_TOL * mag, where mag = sum_j |w_j| sum_f |W_down[d, f]| h'_f
// (+ the shared expert's term), h'_f = |h_f| + 0.01 (|g_f| + |u_f|): the output's sum of
// absolute products, with h's own error scale (see test/reference/moe.ts).
const MOE_TOL = 2 ** -6;

type Fmt = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_k' | 'q5_k' | 'q6_k' | 'q4_0x16' | 'q8_0x16' | 'q4_kx16' | 'q6_kx16'
  | 'q5_0' | 'q4_1' | 'q5_1' | 'iq4_nl' | 'mxfp4' | 'q5_0x16' | 'q4_1x16' | 'q5_1x16' | 'iq4_nlx16' | 'mxfp4x16'
  | 'iq4_xs' | 'q3_k' | 'q2_k' | 'iq4_xsx16' | 'q3_kx16' | 'q2_kx16';

// Weights are drawn from one pool of gaussians at an odd stride per seed (the
// machine's JS is slow enough that fresh gaussians for every expert dominate).
let POOL: Float32Array | undefined;
function poolWeights(n: number, seed: number, scale: number): Float32Array {
  POOL ??= randn(1 << 16, 12345);
  const a = new Float32Array(n);
  const stride = 2 * ((seed * 40503) % 30011) + 1, off = (seed * 7919) & 0xffff;
  for (let i = 0; i < n; i++) a[i] = POOL[(off + i * stride) & 0xffff] * scale;
  return a;
}

function makeWeight(fmt: Fmt, rows: number, cols: number, seed: number): { t: Tensor; dense: Float64Array } {
  const w = poolWeights(rows * cols, seed, 1 / Math.sqrt(cols));
  if (fmt.endsWith('x16')) {  // the GEMV layouts: same values as the plain format, repacked
    const plain = makeWeight(fmt.slice(0, -3) as Fmt, rows, cols, seed);
    return { t: repack(plain.t), dense: plain.dense };
  }
  const t = fmt === 'f32' ? Tensor.from(w, [rows, cols]) : fmt === 'f16' || fmt === 'bf16' ? toHalf(w, [rows, cols], fmt) : quantize(Tensor.from(w, [rows, cols]), fmt);
  const dense = fmt === 'f32' ? Float64Array.from(w) : Float64Array.from(dequantRef(fmt, t.bytes(), rows * cols));
  return { t, dense };
}

interface FfnCase { E: number; k: number; D: number; FF: number; T: number; fmt: Fmt | Fmt[]; downFmt?: Fmt[]; shared?: 'qwen' | 'deepseek'; skip?: number }

function buildExperts(c: FfnCase, seed: number) {
  const stacked = !Array.isArray(c.fmt);
  const fmtOf = (e: number, p: number): Fmt => (stacked ? (c.fmt as Fmt) : p === 2 && c.downFmt ? c.downFmt[e % c.downFmt.length] : (c.fmt as Fmt[])[e % (c.fmt as Fmt[]).length]);
  const dense: DenseExpert[] = [];
  const ts: Tensor[][] = [[], [], []];
  for (let e = 0; e < c.E; e++) {
    const g = makeWeight(fmtOf(e, 0), c.FF, c.D, seed + e * 3);
    const u = makeWeight(fmtOf(e, 1), c.FF, c.D, seed + e * 3 + 1);
    const d = makeWeight(fmtOf(e, 2), c.D, c.FF, seed + e * 3 + 2);
    ts[0].push(g.t); ts[1].push(u.t); ts[2].push(d.t);
    dense.push({ gate: g.dense, up: u.dense, down: d.dense, FF: c.FF });
  }
  const stack = (list: Tensor[], N: number, K: number): Tensor => {
    const bytes = new Uint8Array(list.reduce((a, t) => a + t.byteLength, 0));
    let off = 0;
    for (const t of list) { bytes.set(t.bytes(), off); off += t.byteLength; }
    return Tensor.fromBytes(bytes, list[0].dtype, [c.E, N, K]);
  };
  const experts: MoeExperts = stacked
    ? { gate: stack(ts[0], c.FF, c.D), up: stack(ts[1], c.FF, c.D), down: stack(ts[2], c.D, c.FF) }
    : { gate: ts[0], up: ts[1], down: ts[2] };
  let shared: { ex: DenseExpert; gateInp?: Float32Array } | undefined;
  if (c.shared) {
    const FFs = c.FF * 2;
    const f: Fmt = stacked ? (c.fmt as Fmt) : 'q8_0';
    const g = makeWeight(f, FFs, c.D, seed + 9001), u = makeWeight(f, FFs, c.D, seed + 9002), d = makeWeight(f, c.D, FFs, seed + 9003);
    const gateInp = c.shared === 'qwen' ? randn(c.D, seed + 9004, 1 / Math.sqrt(c.D)) : undefined;
    experts.shared = { gate: g.t, up: u.t, down: d.t, gateInp: gateInp ? Tensor.from(gateInp, [1, c.D]) : undefined };
    shared = { ex: { gate: g.dense, up: u.dense, down: d.dense, FF: FFs }, gateInp };
  }
  return { experts, dense, shared };
}

function routeFor(T: number, E: number, k: number, seed: number): MoeRouting {
  return moeRoute(Tensor.from(randn(T * E, seed, 2), [T, E]), { k, scoring: 'softmax_topk', normTopkProb: true });
}

const ffnCases: FfnCase[] = [];
for (const T of [1, 5, 300]) {
  ffnCases.push({ E: 8, k: 2, D: 64, FF: 96, T, fmt: 'q4_0' });
  ffnCases.push({ E: 64, k: 8, D: 64, FF: 32, T, fmt: 'q8_0' });
  ffnCases.push({ E: 128, k: 8, D: 32, FF: 64, T, fmt: 'q4_0', shared: 'qwen' });
  ffnCases.push({ E: 8, k: 2, D: 256, FF: 256, T: T === 300 ? 60 : T, fmt: ['q4_0', 'q8_0', 'q4_k', 'q5_k', 'q6_k', 'f16', 'bf16', 'f32'], downFmt: ['q6_k', 'q8_0x16', 'q4_k'] });
}
// decode at a width where the gate/up rows split into many units and down into several
// output-row chunks, each unit quantizing its own slice of h, including whole
// 256-element q8_K blocks for K-quant downs and f32 rows for an f16 down; and the
// GEMV-repacked q4_0x16 / q8_0x16 / q4_kx16 / q6_kx16 (whole 16-row groups per unit and chunk)
for (const T of [1, 3]) ffnCases.push({ E: 4, k: 2, D: 512, FF: 512, T, fmt: ['q4_0x16', 'q8_0', 'q4_kx16', 'bf16'], downFmt: ['q4_k', 'f16', 'q8_0x16', 'q6_kx16'] });
// the legacy 32-block formats (q8_0 partners), mixed with each other and the K-quants, plain and repacked
for (const T of [1, 5, 40]) ffnCases.push({ E: 8, k: 2, D: 64, FF: 96, T, fmt: ['q5_0', 'q4_1', 'q5_1', 'iq4_nl', 'mxfp4'], downFmt: ['q5_0', 'q8_0', 'iq4_nl', 'q5_1', 'mxfp4'] });
for (const T of [1, 40]) ffnCases.push({ E: 4, k: 2, D: 256, FF: 256, T, fmt: ['q5_0', 'q4_k', 'mxfp4', 'q6_k'], downFmt: ['iq4_nl', 'q5_k', 'q4_1'] });
for (const T of [1, 3]) ffnCases.push({ E: 4, k: 2, D: 256, FF: 64, T, fmt: ['q5_0x16', 'q4_1x16', 'mxfp4x16', 'iq4_nlx16'], downFmt: ['q5_1x16', 'q5_0', 'q8_0'] });
ffnCases.push({ E: 8, k: 2, D: 256, FF: 96, T: 20, fmt: 'q5_0' });
// IQ4_XS / Q3_K / Q2_K experts, plain and repacked, mixed with each other and Q4_K / Q6_K
// across gate/up/down; T = 40 runs the medium (int8 GEMM) path; one stacked IQ4_XS
for (const T of [1, 3, 40]) ffnCases.push({ E: 4, k: 2, D: 512, FF: 512, T, fmt: ['iq4_xs', 'q3_k', 'q2_kx16', 'q4_k'], downFmt: ['q3_kx16', 'iq4_xsx16', 'q2_k', 'q6_k'] });
ffnCases.push({ E: 8, k: 2, D: 256, FF: 256, T: 5, fmt: 'iq4_xs' });
ffnCases.push({ E: 16, k: 4, D: 64, FF: 64, T: 5, fmt: 'q8_0', shared: 'deepseek', skip: 0.2 });
ffnCases.push({ E: 16, k: 4, D: 64, FF: 64, T: 40, fmt: 'q8_0', skip: 0.15 });

describe('moeFfn', () => {
  ffnCases.forEach((c, ci) => {
    const fmtName = Array.isArray(c.fmt) ? `mixed(${c.fmt.join('/')};down ${c.downFmt?.join('/')})` : c.fmt;
    test(`moeFfn(E=${c.E},k=${c.k},T=${c.T},D=${c.D},FF=${c.FF},fmt=${fmtName},shared=${c.shared ?? 'none'},skip=${c.skip ?? 0}) every ISA vs float64`, () => {
      const { experts, dense, shared } = buildExperts(c, 100 + ci * 1000);
      const x = randn(c.T * c.D, 7 + ci);
      const r = routeFor(c.T, c.E, c.k, 11 + ci);
      const ids = r.ids.toArray() as Int32Array, w = r.weights.toArray() as Float32Array;
      const ref = moeFfnRef(x, c.T, c.D, ids, w, c.k, dense, shared, c.skip ?? 0);
      const mag = ref.mag;
      forEachIsa((isa) => {
        const stats = new MoeStats(c.E);
        const res = {} as MoeFfnReport;
        const y = moeFfn(Tensor.from(x, [c.T, c.D]), r, experts, { skipThreshold: c.skip, stats, report: res }).toArray();
        expect(stats.last).toEqual(res);
        let worst = 0;
        for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - ref.y[i]) / (MOE_TOL * mag[i] + 1e-6));
        expect({ isa, err: worst <= 1 ? 'ok' : worst }).toEqual({ isa, err: 'ok' });
        expect(res.skipped).toBe(ref.skipped);
        expect(res.pairs).toBe(c.T * c.k - ref.skipped);
        expect(stats.counts().reduce((a, b) => a + b, 0)).toBe(res.pairs);
        expect(stats.tokens).toBe(c.T);
        expect(stats.skipped).toBe(ref.skipped);
      });
    });
  });

  test('skipping drops low-weight experts, keeps the top-1, renormalises; stats accumulate and reset', () => {
    const c: FfnCase = { E: 4, k: 3, D: 32, FF: 32, T: 2, fmt: 'q8_0' };
    const { experts, dense } = buildExperts(c, 5);
    const x = randn(2 * 32, 3);
    const r = { ids: Tensor.from(new Int32Array([0, 1, 2, 3, 2, 1]), [2, 3]), weights: Tensor.from(new Float32Array([0.7, 0.2, 0.1, 0.05, 0.05, 0.04]), [2, 3]) };
    const stats = new MoeStats(4);
    moeFfn(Tensor.from(x, [2, 32]), r, experts, { skipThreshold: 0.15, stats });
    const res = stats.last!;
    // token 0: 0.1 / 1.0 < 0.15 dropped; token 1: all three ~1/3 kept
    expect(res.skipped).toBe(1);
    const ref = moeFfnRef(x, 2, 32, r.ids.toArray() as Int32Array, r.weights.toArray() as Float32Array, 3, dense, undefined, 0.15);
    expect(ref.skipped).toBe(1);
    moeFfn(Tensor.from(x, [2, 32]), r, experts, { stats });
    expect(Array.from(stats.counts())).toEqual([2, 4, 3, 2]);
    expect(stats.calls).toBe(2);
    expect(stats.tokens).toBe(4);
    expect(stats.skipped).toBe(1);
    stats.reset();
    expect(stats.tokens).toBe(0);
  });

  test('out given is overwritten, or accumulated into with accumulate', () => {
    const c: FfnCase = { E: 8, k: 2, D: 32, FF: 32, T: 3, fmt: 'q8_0' };
    const { experts } = buildExperts(c, 9);
    const x = Tensor.from(randn(3 * 32, 4), [3, 32]);
    const r = routeFor(3, 8, 2, 1);
    const y0 = moeFfn(x, r, experts).toArray();
    const out = Tensor.from(new Float32Array(96).fill(1), [3, 32]);
    expect(moeFfn(x, r, experts, {}, out)).toBe(out);
    expect(Array.from(out.toArray())).toEqual(Array.from(y0));
    out.toArray();
    const acc = Tensor.from(new Float32Array(96).fill(1), [3, 32]);
    moeFfn(x, r, experts, { accumulate: true }, acc);
    const a = acc.toArray();
    for (let i = 0; i < 96; i++) expect(a[i]).toBeCloseTo(y0[i] + 1, 5);
  });

  test('bad routing input throws a clear error before memory is touched', () => {
    const c: FfnCase = { E: 8, k: 2, D: 32, FF: 32, T: 2, fmt: 'q4_0' };
    const { experts } = buildExperts(c, 2);
    const x = Tensor.from(randn(64, 1), [2, 32]);
    const out = Tensor.from(new Float32Array(64).fill(7), [2, 32]);
    const rt = (ids: number[], w: number[], k = 2) => ({ ids: Tensor.from(new Int32Array(ids), [2, k]), weights: Tensor.from(new Float32Array(w), [2, k]) });
    expect(() => moeFfn(x, rt([0, 8, 1, 2], [0.5, 0.5, 0.5, 0.5]), experts, {}, out)).toThrow('moeFfn: Expected an expert id in [0, 7] for ids[0, 1] but received 8');
    expect(() => moeFfn(x, rt([0, 1, -1, 2], [0.5, 0.5, 0.5, 0.5]), experts, {}, out)).toThrow('moeFfn: Expected an expert id in [0, 7] for ids[1, 0] but received -1');
    expect(() => moeFfn(x, rt([0, 1, 1, 2], [0.5, NaN, 0.5, 0.5]), experts, {}, out)).toThrow('moeFfn: Expected a finite number for routing.weights[0, 1] but received NaN');
    expect(() => moeFfn(x, rt([0, 1, 3, 3], [0.5, 0.5, 0.5, 0.5]), experts, {}, out)).toThrow(/distinct expert ids per token/);
    const k9 = { ids: Tensor.zeros([2, 9], 'i32'), weights: Tensor.zeros([2, 9]) };
    expect(() => moeFfn(x, k9, experts, {}, out)).toThrow('moeFfn: Expected k in [1, 8] (k <= E=8) for routing.ids.shape[1] but received 9');
    const small = buildExperts({ E: 2, k: 2, D: 32, FF: 32, T: 1, fmt: 'q8_0' }, 3).experts;
    const k3 = { ids: Tensor.zeros([2, 3], 'i32'), weights: Tensor.zeros([2, 3]) };
    expect(() => moeFfn(x, k3, small, {}, out)).toThrow(/k in \[1, 2\] \(k <= E=2\)/);
    expect(() => moeFfn(x, rt([0, 1, 2, 3], [1, 1, 1, 1]), { ...experts, down: Tensor.zeros([8, 32, 64]) }, {}, out)).toThrow(/experts.down.shape/);
    expect(() => moeFfn(x, rt([0, 1, 2, 3], [1, 1, 1, 1]), experts, { skipThreshold: 1 }, out)).toThrow(/opts.skipThreshold/);
    expect(() => moeFfn(x, rt([0, 1, 2, 3], [1, 1, 1, 1]), { ...experts, sharedUp: experts.up } as MoeExperts, {}, out)).toThrow(/experts.sharedUp/);
    expect(() => moeFfn(x, rt([0, 1, 2, 3], [1, 1, 1, 1]), { ...experts, gate: Tensor.zeros([8, 32, 32], 'i32') }, {}, out)).toThrow(TypeError);
    expect(Array.from(out.toArray()).every((v) => v === 7)).toBe(true);
  });
});
