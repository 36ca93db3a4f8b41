import { attention, attentionSelect, KVCache, KVCacheDType, longGenMask, Tensor } from '../../lib';
import { forEachIsa, randn, relMaxErr } from '../helpers';
import {
  AttnProblem, attentionRef, blockMaskVisible, blockScoresRef, causal, cosine, dynamicVisible, windowMask,
} from '../reference/attention';
import { RopeScalingRef, ropeRef } from '../reference/rope';

// Tolerances (relative to the largest |output|):
// - vs float64 on the values the cache stores (f32, or f16/int8 after rounding): 1e-4. The kernels
//   accumulate in f32 with a polynomial exp (rel. error ~2e-7) and rescale online; 1e-4 leaves room
//   for the f32 dot products of up to 16K keys.
// - vs float64 on the original f32 values: f16 storage rounds K and V to 2^-11 relative
//   (scores move by ~|q||k| 2^-11), 4e-3; int8 rounds each row to max|x|/254, 4e-2.
const TOL = 1e-4;
const TOL_ORIG: Record<KVCacheDType, number> = { f32: 1e-4, f16: 4e-3, int8: 4e-2 };

interface Built { cache: KVCache; pr: AttnProblem; prOrig: AttnProblem }

/** a cache of Tk tokens at positions pos0, pos0+step, ...; queries at the last Tq positions (or qpos) */
function build(o: { nKv: number; G: number; D: number; Tk: number; Tq: number; dtype: KVCacheDType; seed: number;
  step?: number; pos0?: number; qpos?: Int32Array; softcap?: number; scale?: number }): Built {
  const { nKv, G, D, Tk, Tq, dtype, seed } = o;
  const nHead = nKv * G, step = o.step ?? 1, pos0 = o.pos0 ?? 0;
  const k = randn(Tk * nKv * D, seed, 1), v = randn(Tk * nKv * D, seed + 1, 1), q = randn(Tq * nHead * D, seed + 2, 1);
  const kpos = new Int32Array(Tk);
  for (let j = 0; j < Tk; j++) kpos[j] = pos0 + j * step;
  const qpos = o.qpos ?? kpos.slice(Tk - Tq);
  const cache = new KVCache({ nKvHead: nKv, headDim: D, dtype });
  // appended in uneven pieces, so page boundaries fall inside appends
  for (let j = 0; j < Tk;) {
    const n = Math.min(Tk - j, 1 + ((j * 7 + 37) % 90));
    cache.append(Tensor.from(k.slice(j * nKv * D, (j + n) * nKv * D), [n, nKv, D]),
      Tensor.from(v.slice(j * nKv * D, (j + n) * nKv * D), [n, nKv, D]), kpos.slice(j, j + n));
    j += n;
  }
  const st = cache.read();
  const base = { q, kpos, qpos, nHead, nKv, D, scale: o.scale ?? 1 / Math.sqrt(D), softcap: o.softcap };
  return {
    cache,
    pr: { ...base, k: st.k.toArray() as Float32Array, v: st.v.toArray() as Float32Array },
    prOrig: { ...base, k, v },
  };
}

function run(b: Built, opts: Record<string, unknown> = {}): Float32Array {
  const { pr } = b;
  const q = Tensor.from(pr.q, [pr.qpos.length, pr.nHead, pr.D]);
  return attention(q, b.cache, { positions: pr.qpos, scale: pr.scale, softcap: pr.softcap, ...opts }).toArray() as Float32Array;
}

describe('KVCache', () => {
  test('append / read round trip per dtype, positions and length', () => {
    for (const dtype of ['f32', 'f16', 'int8'] as KVCacheDType[]) {
      const b = build({ nKv: 2, G: 1, D: 80, Tk: 131, Tq: 1, dtype, seed: 5 });
      expect(b.cache.length).toBe(131);
      expect(b.cache.lastPosition).toBe(130);
      const st = b.cache.read();
      expect(Array.from(st.positions)).toEqual(Array.from(b.pr.kpos));
      expect(relMaxErr(st.k.toArray(), b.prOrig.k)).toBeLessThanOrEqual(dtype === 'f32' ? 0 : dtype === 'f16' ? 1e-3 : 1e-2);
      expect(b.cache.bytes).toBeGreaterThan(0);
      b.cache.dispose();
    }
  });

  test('dispose is idempotent, disposed reports it, methods throw after, Symbol.dispose works', () => {
    const c = new KVCache({ nKvHead: 1, headDim: 64 });
    expect(c.disposed).toBe(false);
    c.dispose();
    c.dispose();
    expect(c.disposed).toBe(true);
    expect(() => c.length).toThrow(new Error('KVCache.length: Expected a live KVCache for cache but received a disposed KVCache'));
    expect(() => c.append(Tensor.zeros([1, 1, 64]), Tensor.zeros([1, 1, 64]))).toThrow(/disposed KVCache/);
    expect(() => attention(Tensor.zeros([1, 1, 64]), c)).toThrow(new Error('attention: Expected a live KVCache for cache but received a disposed KVCache'));
    const d = new KVCache({ nKvHead: 1, headDim: 64 });
    d[Symbol.dispose]();
    expect(d.disposed).toBe(true);
  });

  test('truncate, re-append and fork (copy-on-write) keep every cache exact', () => {
    forEachIsa(() => {
      const a = build({ nKv: 2, G: 4, D: 64, Tk: 150, Tq: 1, dtype: 'f16', seed: 11 });
      const before = a.cache.read();
      const f = a.cache.fork();
      expect(f.length).toBe(150);
      f.truncate(100);
      const extraK = randn(30 * 2 * 64, 99), extraV = randn(30 * 2 * 64, 98);
      f.append(Tensor.from(extraK, [30, 2, 64]), Tensor.from(extraV, [30, 2, 64]), Int32Array.from({ length: 30 }, (_, i) => 500 + i));
      // the original is untouched
      const after = a.cache.read();
      expect(after.k.toArray()).toEqual(before.k.toArray());
      expect(Array.from(after.positions)).toEqual(Array.from(before.positions));
      // the fork equals a fresh cache with the same content
      const fresh = new KVCache({ nKvHead: 2, headDim: 64, dtype: 'f16' });
      const fk = new Float32Array(130 * 128), fv = new Float32Array(130 * 128);
      fk.set(before.k.toArray().slice(0, 100 * 128)); fk.set(extraK, 100 * 128);
      fv.set(before.v.toArray().slice(0, 100 * 128)); fv.set(extraV, 100 * 128);
      const fpos = new Int32Array(130);
      fpos.set(before.positions.slice(0, 100)); for (let i = 0; i < 30; i++) fpos[100 + i] = 500 + i;
      fresh.append(Tensor.from(fk, [130, 2, 64]), Tensor.from(fv, [130, 2, 64]), fpos);
      expect(f.read().k.toArray()).toEqual(fresh.read().k.toArray());
      const q = Tensor.from(randn(8 * 64, 7), [1, 8, 64]);
      const opts = { positions: [529], topKBlocks: 1, sinks: 0, window: 16 };
      expect(attention(q, f, opts).toArray()).toEqual(attention(q, fresh, opts).toArray());
      expect(Array.from(attentionSelect(q, f, opts).blocks)).toEqual(Array.from(attentionSelect(q, fresh, opts).blocks));
      // truncate to a page boundary and to zero
      f.truncate(64);
      expect(f.length).toBe(64);
      expect(f.lastPosition).toBe(63);
      f.truncate(0);
      expect(f.length).toBe(0);
      expect(f.lastPosition).toBe(-1);
      expect(Array.from(attention(q, f, { positions: [10] }).toArray()).every((x) => x === 0)).toBe(true);
      f.dispose(); fresh.dispose(); a.cache.dispose();
    });
  });

  test('errors name the argument, the expectation and what was received', () => {
    expect(() => new KVCache({ nKvHead: 2, headDim: 100 })).toThrow(new Error('KVCache: unsupported head_dim 100 (supported: 32, 64, 80, 96, 128, 192, 256, 512)'));
    expect(() => new KVCache({ nKvHead: 0, headDim: 64 })).toThrow(new RangeError('KVCache: Expected integer in [1, 1024] for opts.nKvHead but received 0'));
    expect(() => new KVCache({ nKvHead: 1, headDim: 64, dtype: 'q4' as KVCacheDType })).toThrow(TypeError);
    const c = new KVCache({ nKvHead: 2, headDim: 64 });
    expect(() => c.append(Tensor.zeros([3, 2, 32]), Tensor.zeros([3, 2, 32]))).toThrow(
      new RangeError('KVCache.append: Expected [T, 2, 64] for k.shape but received [3, 2, 32]'));
    expect(() => c.append(Tensor.zeros([3, 2, 64]), Tensor.zeros([2, 2, 64]))).toThrow(/v\.shape/);
    expect(() => c.append(Tensor.zeros([1, 2, 64]), Tensor.zeros([1, 2, 64]), [-1])).toThrow(
      new RangeError('KVCache.append: Expected integer in [0, 2147483646] for positions[0] but received -1'));
    c.append(Tensor.zeros([2, 2, 64]), Tensor.zeros([2, 2, 64]), [4, 5]);
    expect(() => c.append(Tensor.zeros([1, 2, 64]), Tensor.zeros([1, 2, 64]), [5])).toThrow(
      'KVCache.append: Expected a position > 5 (positions strictly increase along the cache) for positions[0] but received 5');
    expect(c.length).toBe(2); // a failed append changes nothing
    expect(() => c.truncate(3)).toThrow(new RangeError('KVCache.truncate: Expected integer in [0, 2] for n but received 3'));
    const q = Tensor.zeros([1, 4, 64]);
    expect(() => attention(Tensor.zeros([1, 3, 64]), c)).toThrow(new RangeError('attention: Expected a multiple of nKvHead=2 for q.shape[1] but received 3'));
    expect(() => attention(Tensor.zeros([1, 4, 80]), c)).toThrow(new RangeError("attention: Expected the cache's headDim 64 for q.shape[2] but received 80"));
    expect(() => attention(Tensor.zeros([4, 64]), c)).toThrow(/q\.shape/);
    expect(() => attention(q, c, { positions: [2 ** 31] })).toThrow(
      new RangeError('attention: Expected integer in [0, 2147483646] for opts.positions[0] but received 2147483648'));
    expect(() => attention(q, c, { positions: [1, 2] })).toThrow(/opts\.positions\.length/);
    expect(() => attention(q, c, { window: 0 })).toThrow(/opts\.window/);
    expect(() => attention(q, c, { sinks: 4 })).toThrow(/opts\.window/);
    expect(() => attention(q, c, { topKBlocks: 2, tokenBudget: 100 })).toThrow(
      new RangeError('attention: Expected integer >= sinks + window = 128 for opts.tokenBudget but received 100'));
    expect(() => attention(q, c, { blockMask: longGenMask(64), window: 64 })).toThrow(/one sparse form/);
    expect(() => attention(q, c, { blockMask: longGenMask(64) })).not.toThrow();
    expect(() => attention(q, c, { positions: [64], blockMask: longGenMask(64) })).toThrow(/blockMask rows/);
    expect(() => attention(q, c, {}, Tensor.zeros([1, 4, 63]))).toThrow(/out\.shape/);
    expect(() => attention(q, {} as KVCache)).toThrow(new TypeError('attention: Expected a KVCache for cache but received an object'));
    c.dispose();
  });
});

describe('attention dense', () => {
  // [nKv, G, D, Tk, Tq, dtype, step, softcap]
  const cases: Array<[number, number, number, number, number, KVCacheDType, number, number]> = [
    [1, 1, 64, 1, 1, 'f32', 1, 0],
    [2, 4, 64, 3, 3, 'f16', 1, 0],
    [1, 8, 128, 17, 1, 'f16', 1, 0],
    [2, 1, 80, 200, 1, 'f32', 3, 0],
    [1, 4, 80, 131, 131, 'f16', 1, 0],
    [2, 8, 128, 97, 5, 'int8', 2, 0],
    [1, 4, 64, 300, 1, 'int8', 1, 0],
    [1, 1, 128, 129, 129, 'f32', 1, 0],
    [2, 4, 64, 150, 150, 'f16', 1, 30],
    [1, 8, 80, 1100, 1, 'f16', 1, 0],
    // the other head sizes (ATTENTION_HEAD_DIMS): 32 .. 512
    [1, 4, 32, 70, 70, 'f32', 1, 0],
    [2, 2, 32, 130, 1, 'int8', 1, 0],
    [1, 4, 96, 150, 3, 'f16', 1, 0],
    [2, 1, 96, 65, 65, 'f32', 1, 20],
    [1, 2, 192, 100, 1, 'f16', 1, 0],
    [1, 4, 256, 140, 2, 'f16', 1, 0],
    [1, 1, 256, 70, 70, 'int8', 2, 0],
    [1, 2, 512, 129, 1, 'f32', 1, 0],
    [1, 1, 512, 66, 66, 'f32', 1, 0],
  ];
  for (const [nKv, G, D, Tk, Tq, dtype, step, softcap] of cases) {
    test(`attention(nKv=${nKv},G=${G},D=${D},Tk=${Tk},Tq=${Tq},${dtype},step=${step}${softcap ? ',softcap=' + softcap : ''}) on every ISA vs float64`, () => {
      const b = build({ nKv, G, D, Tk, Tq, dtype, seed: Tk * 7 + D + G, step, softcap: softcap || undefined });
      const ref = attentionRef(b.pr, causal(b.pr));
      const refOrig = attentionRef(b.prOrig, causal(b.prOrig));
      forEachIsa((isa) => {
        const y = run(b);
        const e = relMaxErr(y, ref), eo = relMaxErr(y, refOrig);
        expect({ isa, e: e <= TOL ? 'ok' : e, eo: eo <= TOL_ORIG[dtype] ? 'ok' : eo }).toEqual({ isa, e: 'ok', eo: 'ok' });
      });
      b.cache.dispose();
    });
  }

  test('queries before every key get zeros; positions offsets; out given is returned', () => {
    const b = build({ nKv: 1, G: 4, D: 64, Tk: 70, Tq: 3, dtype: 'f32', seed: 3, pos0: 1000, qpos: Int32Array.from([999, 1000, 1040]) });
    const ref = attentionRef(b.pr, causal(b.pr));
    forEachIsa(() => {
      const out = Tensor.zeros([3, 4, 64]);
      const q = Tensor.from(b.pr.q, [3, 4, 64]);
      expect(attention(q, b.cache, { positions: b.pr.qpos }, out)).toBe(out);
      const y = out.toArray();
      for (let i = 0; i < 4 * 64; i++) expect(y[i]).toBe(0);
      expect(relMaxErr(y, ref)).toBeLessThanOrEqual(TOL);
    });
    b.cache.dispose();
  });

  test('default positions are the last Tq of the cache; scale option', () => {
    const b = build({ nKv: 2, G: 1, D: 64, Tk: 40, Tq: 4, dtype: 'f32', seed: 8, scale: 0.05 });
    const ref = attentionRef(b.pr, causal(b.pr));
    const y = attention(Tensor.from(b.pr.q, [4, 2, 64]), b.cache, { scale: 0.05 }).toArray();
    expect(relMaxErr(y, ref)).toBeLessThanOrEqual(TOL);
    b.cache.dispose();
  });
});

describe('attention sparse forms vs the same mask made explicit', () => {
  test('{ window, sinks } decode and prefill', () => {
    for (const [Tq, W, S] of [[1, 100, 4], [260, 64, 0], [37, 1, 3]]) {
      const b = build({ nKv: 2, G: 4, D: 64, Tk: 260, Tq, dtype: 'f16', seed: 21 + Tq });
      const ref = attentionRef(b.pr, windowMask(b.pr, W, S));
      forEachIsa((isa) => {
        const stats = {};
        const e = relMaxErr(run(b, { window: W, sinks: S, stats }), ref);
        expect({ isa, Tq, W, S, e: e <= TOL ? 'ok' : e }).toEqual({ isa, Tq, W, S, e: 'ok' });
      });
      b.cache.dispose();
    }
  });

  test('{ window } decode reads only the window and sink blocks', () => {
    const b = build({ nKv: 2, G: 4, D: 64, Tk: 1000, Tq: 1, dtype: 'f16', seed: 4 });
    const stats: Record<string, number> = {};
    run(b, { window: 100, sinks: 4, stats });
    // window 100 ending at token 999 spans blocks 14 and 15; sinks: block 0; per KV head
    expect(stats.blocks).toBe(2 * 3);
    expect(stats.tokens).toBe(2 * (64 + 64 + 1000 - 960));
    expect(stats.bytes).toBe(stats.tokens * 2 * 64 * 2);
    b.cache.dispose();
  });

  test('{ blockMask } with longGenMask, prefill and decode', () => {
    const mask = longGenMask(600, { localBlocks: 2, stride: 3, sinkBlocks: 1 });
    expect(mask.shape).toEqual([10, 10]);
    const m = mask.toArray();
    expect(m[9 * 10 + 9]).toBe(1); expect(m[9 * 10 + 8]).toBe(1); expect(m[9 * 10 + 7]).toBe(0);
    expect(m[9 * 10 + 6]).toBe(1); expect(m[9 * 10 + 0]).toBe(1); expect(m[3 * 10 + 4]).toBe(0);
    for (const [Tq, G] of [[1, 8], [600, 1]]) {
      const b = build({ nKv: 1, G, D: 128, Tk: 600, Tq, dtype: 'f32', seed: 31 + Tq });
      const ref = attentionRef(b.pr, blockMaskVisible(b.pr, m as Uint8Array, 10));
      forEachIsa((isa) => {
        const e = relMaxErr(run(b, { blockMask: mask }), ref);
        expect({ isa, Tq, e: e <= TOL ? 'ok' : e }).toEqual({ isa, Tq, e: 'ok' });
      });
      b.cache.dispose();
    }
  });

  test('{ topKBlocks, tokenBudget }: output equals the explicit selection; selection follows float64 scores', () => {
    for (const [Tq, dtype, topK, budget] of [[1, 'f16', 3, undefined], [70, 'f32', 2, undefined], [5, 'int8', undefined, 320]] as Array<[number, KVCacheDType, number | undefined, number | undefined]>) {
      const b = build({ nKv: 2, G: 4, D: 64, Tk: 700, Tq, dtype, seed: 41 + Tq });
      const W = 64, S = 64;
      const q = Tensor.from(b.pr.q, [Tq, 8, 64]);
      const scores = Array.from({ length: Tq * 2 }, (_, it) => blockScoresRef(b.pr, Math.floor(it / 2), it % 2, W, S));
      forEachIsa((isa) => {
        const opts = { positions: b.pr.qpos, topKBlocks: topK, tokenBudget: budget };
        const { blocks, k } = attentionSelect(q, b.cache, opts);
        expect(k).toBe(budget !== undefined ? Math.floor((budget - S - W) / 64) : topK);
        const ref = attentionRef(b.pr, dynamicVisible(b.pr, W, S, blocks, k));
        const stats: Record<string, number> = {};
        const e = relMaxErr(run(b, { ...opts, stats }), ref);
        expect({ isa, Tq, e: e <= TOL ? 'ok' : e }).toEqual({ isa, Tq, e: 'ok' });
        expect(stats.selected).toBe(k);
        // selection: the chosen blocks are the best by the float64 bound (ties within 1e-4 relative)
        for (let i = 0; i < Tq; i++) {
          for (let g = 0; g < 2; g++) {
            const sc = scores[i * 2 + g];
            const chosen = Array.from(blocks.slice((i * 2 + g) * k, (i * 2 + g + 1) * k)).filter((x) => x >= 0);
            expect(chosen.length).toBe(Math.min(k, sc.size));
            const tol = 1e-4 * Math.max(1, ...Array.from(sc.values()).map(Math.abs));
            const worstChosen = Math.min(...chosen.map((x) => sc.get(x) as number));
            const bestOther = Math.max(-Infinity, ...Array.from(sc.entries()).filter(([x]) => !chosen.includes(x)).map(([, s]) => s));
            if (!(worstChosen >= bestOther - tol)) throw new Error(`${isa} query ${i} kv ${g}: chose ${chosen} (${worstChosen}) over a block scoring ${bestOther}`);
          }
        }
      });
      b.cache.dispose();
    }
  });

  // Uniform noise of standard deviation `std` from an inline xorshift32: 8M values of randn()
  // take ~15 s under jest, this takes well under one.
  function noise(n: number, seed: number, std: number): Float32Array {
    const a = new Float32Array(n), w = (2 * Math.sqrt(3) * std) / 4294967296, h = Math.sqrt(3) * std;
    let x = (seed * 2654435761) >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      a[i] = (x >>> 0) * w - h;
    }
    return a;
  }

  // The scale: a 2K-token budget out of a 32K context (64 sinks + 64 window + k = 30 of
  // 512 blocks). Two KV
  // heads of 4 query heads each at head dim 64 keep it to a few seconds on every ISA path.
  test('dynamic selection keeps cosine >= 0.99 to dense at a 2K-token budget of a 32K context where distant blocks hold the relevant keys', () => {
    const nKv = 2, G = 4, D = 64, Tk = 32768, budget = 2048, nHead = nKv * G;
    const k = noise(Tk * nKv * D, 1, 0.3), v = noise(Tk * nKv * D, 2, 1);
    const q = randn(nHead * D, 3, 1);
    // a few distant blocks (far outside any local window, spread over the context) carry keys
    // aligned with the group's queries: 20 tokens each, a different run of tokens per block
    const needles = [7, 133, 290, 401];
    for (const [n, b] of needles.entries()) {
      for (let j = b * 64 + 5 + 9 * n; j < b * 64 + 25 + 9 * n; j++) {
        for (let g = 0; g < nKv; g++) {
          for (let c = 0; c < D; c++) {
            let s = 0;
            for (let h = 0; h < G; h++) s += q[(g * G + h) * D + c];
            k[(j * nKv + g) * D + c] += 5 * s / G;
          }
        }
      }
    }
    const cache = new KVCache({ nKvHead: nKv, headDim: D, dtype: 'f16' });
    cache.append(Tensor.from(k, [Tk, nKv, D]), Tensor.from(v, [Tk, nKv, D]));
    expect(cache.length).toBe(32768);
    const qt = Tensor.from(q, [1, nHead, D]);
    forEachIsa((isa) => {
      const dense = attention(qt, cache).toArray();
      const stats: Record<string, number> = {};
      const sparse = attention(qt, cache, { tokenBudget: budget, stats }).toArray();
      const cos = cosine(sparse, dense);
      expect({ isa, cos: cos >= 0.99 ? 'ok' : cos }).toEqual({ isa, cos: 'ok' });
      expect(stats.selected).toBe((budget - 128) / 64); // default sinks 64 and window 64 count in the budget
      expect(stats.tokens).toBeLessThanOrEqual(nKv * budget);
      const sel = attentionSelect(qt, cache, { tokenBudget: budget });
      expect(sel.k).toBe((budget - 128) / 64);
      for (let g = 0; g < nKv; g++) for (const nb of needles) expect(Array.from(sel.blocks.slice(g * sel.k, (g + 1) * sel.k))).toContain(nb);
    });
    cache.dispose();
  });
});

// Context shift. The reference: the original (unrotated) keys k0 rotated in float64 to their new
// positions, RoPE(k0, p - discard), with the same scaling (magnitude included); the cache held
// RoPE(k0, p) rounded to its dtype. Tolerances relative to the largest |K|: f32 a few ulp of the
// two roundings (1e-5); f16 two f16 roundings (2 * 2^-11 -> 1.5e-3); int8 two row quantizations
// (2 * max|row| / 254 -> 1e-2). V rows must come back bit for bit.
describe('KVCache.shift', () => {
  const SHIFT_TOL: Record<KVCacheDType, number> = { f32: 1e-5, f16: 1.5e-3, int8: 1e-2 };
  const cases: { name: string; D: number; nKv: number; n: number; keep: number; discard: number; mode: 'normal' | 'neox';
    dims?: number; sc: RopeScalingRef; base: number; pos0: number }[] = [
    { name: 'keep=1,discard=15,n=40', D: 64, nKv: 1, n: 40, keep: 1, discard: 15, mode: 'normal', sc: {}, base: 10000, pos0: 0 },
    { name: 'keep=0,discard=64,n=200,neox', D: 128, nKv: 2, n: 200, keep: 0, discard: 64, mode: 'neox', sc: {}, base: 1e6, pos0: 0 },
    { name: 'keep=70,discard=100,n=300,yarn', D: 64, nKv: 2, n: 300, keep: 70, discard: 100, mode: 'neox', base: 10000, pos0: 5,
      sc: { freqScale: 0.25, extFactor: 1, attnFactor: 1.1, origCtx: 64 } },
    { name: 'keep=64,discard=1,n=129,partial dims,freqFactors', D: 80, nKv: 1, n: 129, keep: 64, discard: 1, mode: 'normal', dims: 32,
      base: 500000, pos0: 3, sc: { freqScale: 0.5, freqFactors: Array.from({ length: 16 }, (_, i) => 1 + i / 4) } },
    { name: 'keep=3,discard=all but 3,n=90', D: 64, nKv: 3, n: 90, keep: 3, discard: 87, mode: 'normal', sc: {}, base: 10000, pos0: 0 },
    { name: 'keep=2,discard=40,n=100', D: 256, nKv: 1, n: 100, keep: 2, discard: 40, mode: 'neox', sc: {}, base: 1e6, pos0: 0 },
  ];
  for (const cs of cases) {
    for (const dtype of ['f32', 'f16', 'int8'] as KVCacheDType[]) {
      test(`shift(${cs.name},D=${cs.D},nKv=${cs.nKv},${dtype}) on every ISA vs float64; a fork keeps the old content`, () => {
        forEachIsa(() => {
          const { D, nKv, n, keep, discard, mode, base, sc } = cs;
          const nDims = cs.dims ?? D;
          const k0 = randn(n * nKv * D, 31, 1), v = randn(n * nKv * D, 32, 1);
          const pos = Int32Array.from({ length: n }, (_, i) => cs.pos0 + i + (i > 50 ? 7 : 0)); // a gap: positions need not be contiguous
          const kRot = Float32Array.from(ropeRef(k0, pos, n, nKv, D, nDims, mode, base, sc));
          const cache = new KVCache({ nKvHead: nKv, headDim: D, dtype });
          cache.append(Tensor.from(kRot, [n, nKv, D]), Tensor.from(v, [n, nKv, D]), pos);
          const before = cache.read();
          const fork = cache.fork();
          const rope = { mode, base, dims: cs.dims, freqScale: sc.freqScale, extFactor: sc.extFactor, attnFactor: sc.attnFactor,
            origCtx: sc.origCtx, freqFactors: sc.freqFactors ? Float32Array.from(sc.freqFactors) : undefined };
          expect(cache.shift(keep, discard, rope)).toBe(cache);
          const m = n - discard, row = nKv * D;
          expect(cache.length).toBe(m);
          const after = cache.read();
          const newPos = Int32Array.from({ length: m }, (_, j) => (j < keep ? pos[j] : pos[j + discard] - discard));
          expect(Array.from(after.positions)).toEqual(Array.from(newPos));
          const k0Kept = new Float32Array(m * row);
          k0Kept.set(k0.subarray(0, keep * row));
          k0Kept.set(k0.subarray((keep + discard) * row), keep * row);
          const want = ropeRef(k0Kept, newPos, m, nKv, D, nDims, mode, base, sc);
          expect(relMaxErr(after.k.toArray(), want)).toBeLessThanOrEqual(SHIFT_TOL[dtype]);
          // kept keys are untouched, values move bit for bit
          const bk = before.k.toArray() as Float32Array, bv = before.v.toArray() as Float32Array;
          expect(Array.from((after.k.toArray() as Float32Array).subarray(0, keep * row))).toEqual(Array.from(bk.subarray(0, keep * row)));
          expect(Array.from(after.v.toArray())).toEqual([...Array.from(bv.subarray(0, keep * row)), ...Array.from(bv.subarray((keep + discard) * row))]);
          // the fork still holds the old content
          expect(fork.read().k.toArray()).toEqual(bk);
          expect(Array.from(fork.read().positions)).toEqual(Array.from(pos));
          // the shifted cache works as one built from its content: attention, selection (block summaries), appends
          const fresh = new KVCache({ nKvHead: nKv, headDim: D, dtype: 'f32' });
          fresh.append(after.k, after.v, after.positions);
          const f32 = dtype === 'f32' ? cache : (() => { const c = new KVCache({ nKvHead: nKv, headDim: D, dtype: 'f32' }); c.append(after.k, after.v, after.positions); return c; })();
          const G = 2, last = newPos[m - 1];
          const q = Tensor.from(randn(2 * nKv * G * D, 33), [2, nKv * G, D]);
          const opts = { positions: [last, last + 1], topKBlocks: 1, window: 8, sinks: 1 };
          expect(attention(q, cache, opts).toArray()).toEqual(attention(q, dtype === 'f32' ? fresh : cache, opts).toArray());
          if (dtype === 'f32') expect(Array.from(attentionSelect(q, cache, opts).blocks)).toEqual(Array.from(attentionSelect(q, fresh, opts).blocks));
          cache.append(Tensor.from(k0.subarray(0, row), [1, nKv, D]), Tensor.from(v.subarray(0, row), [1, nKv, D]));
          expect(cache.length).toBe(m + 1);
          expect(cache.lastPosition).toBe(last + 1);
          if (f32 !== cache) f32.dispose();
          fresh.dispose(); fork.dispose(); cache.dispose();
        });
      });
    }
  }

  test('keep covers every page boundary: shift equals a cache rebuilt from the shifted content (f32, exact)', () => {
    for (const keep of [0, 1, 63, 64, 65, 127, 128]) {
      const n = 200, discard = 9, D = 64;
      const k = randn(n * D, 40 + keep), v = randn(n * D, 41);
      const c = new KVCache({ nKvHead: 1, headDim: D, dtype: 'f32' });
      c.append(Tensor.from(k, [n, 1, D]), Tensor.from(v, [n, 1, D]));
      c.shift(keep, discard, { dims: 2 }); // pair 0 rotates, the rest pass through
      const r = c.read();
      const kk = r.k.toArray() as Float32Array;
      for (let j = 0; j < n - discard; j++) {
        const s = j < keep ? j : j + discard;
        expect(Array.from(kk.subarray(j * D + 2, (j + 1) * D))).toEqual(Array.from(k.subarray(s * D + 2, (s + 1) * D)));
      }
      expect(Array.from(r.positions)).toEqual(Array.from({ length: n - discard }, (_, i) => i));
      c.dispose();
    }
  });

  test('errors name the argument, the expectation and what was received; a failed shift changes nothing', () => {
    const c = new KVCache({ nKvHead: 1, headDim: 64 });
    expect(() => c.shift(0, 1)).toThrow(new RangeError('KVCache.shift: Expected at least 1 token to shift for cache.length but received 0'));
    c.append(Tensor.zeros([10, 1, 64]), Tensor.zeros([10, 1, 64]));
    expect(() => c.shift(10, 1)).toThrow(new RangeError('KVCache.shift: Expected integer in [0, 9] for keep but received 10'));
    expect(() => c.shift(4, 7)).toThrow(new RangeError('KVCache.shift: Expected integer in [1, 6] for discard but received 7'));
    expect(() => c.shift(4, 0)).toThrow(new RangeError('KVCache.shift: Expected integer in [1, 6] for discard but received 0'));
    expect(() => c.shift(1.5, 1)).toThrow(/for keep/);
    expect(() => c.shift(1, 2, { dims: 3 })).toThrow(new RangeError('KVCache.shift: Expected an even integer in [2, 64] for rope.dims but received 3'));
    expect(() => c.shift(1, 2, { extFactor: 1 })).toThrow(/rope\.origCtx/);
    expect(() => c.shift(1, 2, { bogus: 1 } as never)).toThrow(TypeError);
    expect(() => c.shift(1, 2, { bogus: 1 } as never)).toThrow(/bogus/);
    expect(() => c.shift(1, 2, { freqFactors: new Float32Array(3) })).toThrow(/rope\.freqFactors\.length/);
    expect(c.length).toBe(10);
    c.dispose();
    expect(() => c.shift(0, 1)).toThrow(new Error('KVCache.shift: Expected a live KVCache for cache but received a disposed KVCache'));
  });
});
