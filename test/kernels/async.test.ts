// Native async kernels (`<op>Async`): the same checks as the synchronous op, the
// kernel on the addon's executor thread, results identical to the synchronous
// call on every ISA path, FIFO order for calls not awaited one by one, the
// KVCache's rules while a call is pending, and the event loop running meanwhile.
import {
  KVCache, Tensor, add, addAsync, attention, attentionAsync, gather, gatherAsync, matmul, matmulAsync, moeFfn, moeFfnAsync,
  moeRoute, moeRouteAsync, quantize, rmsnorm, rmsnormAsync, rope, ropeAsync, swiglu, swigluAsync,
} from '../../lib';
import { native } from '../../lib/native';
import { forEachIsaAsync, randn } from '../helpers';

const same = (a: Tensor, b: Tensor) => expect(Array.from(a.toArray())).toEqual(Array.from(b.toArray()));

describe('async kernels', () => {
  test('every async twin gives the synchronous result, bit for bit, on every ISA', async () => {
    const T = 5, D = 96, N = 48, F = 33;
    const x = Tensor.from(randn(T * D, 1), [T, D]);
    const w = Tensor.from(randn(D, 2), [D]);
    const W = quantize(Tensor.from(randn(N * D, 3, 0.1), [N, D]), 'q4_0');
    const g = Tensor.from(randn(T * F, 4), [T, F]), u = Tensor.from(randn(T * F, 5), [T, F]);
    const tab = quantize(Tensor.from(randn(40 * D, 6), [40, D]), 'q8_0');
    const ids = Int32Array.from([3, 0, 39, 7, 7]);
    const q = Tensor.from(randn(T * 4 * 64, 7), [T, 4, 64]);
    const pos = Int32Array.from({ length: T }, (_, i) => i);
    const E = 4, FF = 64;
    const gate = quantize(Tensor.from(randn(E * FF * D, 8, 0.1), [E * FF, D]), 'q8_0').reshape([E, FF, D]);
    const up = quantize(Tensor.from(randn(E * FF * D, 9, 0.1), [E * FF, D]), 'q8_0').reshape([E, FF, D]);
    const down = quantize(Tensor.from(randn(E * D * FF, 10, 0.1), [E * D, FF]), 'q8_0').reshape([E, D, FF]);
    const logits = Tensor.from(randn(T * E, 11), [T, E]);
    const checked: string[] = [];
    await forEachIsaAsync(async (isa) => {
      same(await rmsnormAsync(x, w, { eps: 1e-5 }), rmsnorm(x, w, { eps: 1e-5 }));
      same(await matmulAsync(x, W), matmul(x, W));
      same(await addAsync(x, w), add(x, w));
      same(await swigluAsync(g, u), swiglu(g, u));
      same(await gatherAsync(tab, ids), gather(tab, ids));
      same(await ropeAsync(q, pos, { base: 1e4 }), rope(q, pos, { base: 1e4 }));
      const r1 = await moeRouteAsync(logits, { k: 2 }), r0 = moeRoute(logits, { k: 2 });
      same(r1.ids, r0.ids); same(r1.weights, r0.weights);
      same(await moeFfnAsync(x, r0, { gate, up, down }), moeFfn(x, r0, { gate, up, down }));
      const c0 = new KVCache({ nKvHead: 2, headDim: 64 }), c1 = new KVCache({ nKvHead: 2, headDim: 64 });
      const k = Tensor.from(randn(T * 2 * 64, 12), [T, 2, 64]), v = Tensor.from(randn(T * 2 * 64, 13), [T, 2, 64]);
      c0.append(k, v, pos);
      expect(await c1.appendAsync(k, v, pos)).toBe(c1);
      same(await attentionAsync(q, c1, { positions: pos }), attention(q, c0, { positions: pos }));
      c0.dispose(); c1.dispose();
      checked.push(isa);
    });
    expect(checked.length).toBeGreaterThan(0);
  });

  test('argument errors reject with the synchronous message; kernel errors reject with the native one', async () => {
    const x = Tensor.zeros([2, 8]);
    await expect(rmsnormAsync(x, Tensor.zeros([7]))).rejects.toThrow(new RangeError('rmsnormAsync: Expected [8] for w.shape but received [7]'));
    await expect(matmulAsync(x, Tensor.zeros([4, 9]))).rejects.toThrow(RangeError);
    // the cache checks positions natively, when the call runs
    const c = new KVCache({ nKvHead: 1, headDim: 64 });
    const kv = Tensor.zeros([1, 1, 64]);
    await c.appendAsync(kv, kv, [5]);
    await expect(c.appendAsync(kv, kv, [3])).rejects.toThrow(/KVCache.append/);
    expect(c.length).toBe(1);
    c.dispose();
    // the raw export checks its arguments before anything is queued
    expect(() => native.rmsnormAsync(new Float32Array(4), new Float32Array(4), null, 1, 8, 1e-5)).toThrow(/Expected a buffer of at least 32 bytes for out/);
  });

  test('calls not awaited one by one run in the order they were made', async () => {
    const n = 1 << 16;
    const a = Tensor.from(randn(n, 20), [n]);
    const one = Tensor.from(new Float32Array(n).fill(1), [n]);
    const acc = Tensor.zeros([n]);
    const pending: Promise<Tensor>[] = [];
    for (let i = 0; i < 20; i++) pending.push(addAsync(acc, i % 2 ? one : a, acc)); // each reads the previous one's output
    await Promise.all(pending);
    const want = new Float32Array(n);
    const av = a.toArray() as Float32Array;
    for (let i = 0; i < 20; i++) for (let j = 0; j < n; j++) want[j] = Math.fround(want[j] + (i % 2 ? 1 : av[j]));
    expect(Array.from(acc.toArray())).toEqual(Array.from(want));
  });

  test('a pending call holds its KVCache: sync calls refuse, dispose waits for it', async () => {
    const c = new KVCache({ nKvHead: 2, headDim: 64 });
    const T = 256;
    const kv = Tensor.from(randn(T * 2 * 64, 30), [T, 2, 64]);
    const pos = Int32Array.from({ length: T }, (_, i) => i);
    c.append(kv, kv, pos);
    const q = Tensor.from(randn(T * 8 * 64, 31), [T, 8, 64]);
    const want = attention(q, c, { positions: pos });
    const p = attentionAsync(q, c, { positions: pos });
    expect(() => c.length).toThrow(/pending async call/);
    expect(() => attention(q, c, { positions: pos })).toThrow(/pending async call/);
    c.dispose();                    // freed once the pending call settles
    same(await p, want);
    expect(c.disposed).toBe(true);
    await expect(attentionAsync(q, c)).rejects.toThrow(/disposed/);
  });

  test('the event loop runs while a long kernel does', async () => {
    const M = 256, K = 2048, N = 4096;
    const fill = (n: number, s: number) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = ((i * s) % 17 - 8) / 64; return a; };
    const x = Tensor.from(fill(M * K, 7), [M, K]);
    const W = Tensor.from(fill(N * K, 5), [N, K]); // f32: about 4 GFLOP
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 1);
    const t0 = performance.now();
    const y = await matmulAsync(x, W);
    const ms = performance.now() - t0;
    clearInterval(timer);
    // the timer fired while the GEMM ran (a synchronous call lets it fire at most after it)
    expect({ ticks: ticks > 0, ms: ms > 0 }).toEqual({ ticks: true, ms: true });
    same(y, matmul(x, W));
  });
});
