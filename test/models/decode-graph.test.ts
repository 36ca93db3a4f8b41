// The recorded decode step (csrc/napi/graph.h, lib/exec/replay.ts, lib/models/forward.ts decode()): a
// token's kernel calls captured once and replayed in one native call. Replays must give
// the logits of the kernel-by-kernel pass bit for bit, on every architecture and ISA, and
// the graph's native API must refuse misuse with clear errors (freed graphs, detached
// buffers, disposed caches, nested or async captures) instead of touching freed memory.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeSyntheticModel, SyntheticSpec } from '../../lib/models/synthetic';
import { load, Model } from '../../lib/models/model';
import { native } from '../../lib/native';
// the addon untyped: these calls pass wrong arguments on purpose
const loose = native as unknown as Record<string, (...a: unknown[]) => unknown>;
import { quantize, QuantFormat } from '../../lib/ops/qgemm';
import { rmsnorm, rmsnormAsync } from '../../lib/ops/norm';
import { attention, KVCache } from '../../lib/ops/attention';
import { gather } from '../../lib/ops/embed';
import { Tensor } from '../../lib/tensor';
import { forEachIsaAsync, maxElemRelErr, randn } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-graph-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const base: SyntheticSpec = { arch: 'llama', dim: 128, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 256, seed: 11 };
const q = (x: Tensor, t: string) => quantize(x, t as QuantFormat);
const moe = { nExpert: 4, nExpertUsed: 2, expertFf: 128 };
const CASES: [string, Partial<SyntheticSpec>][] = [
  ['llama f32', {}],
  ['llama q4_0 (repacked, fused)', { type: 'q4_0', quantize: q }],
  ['qwen2 q8_0 (q/k/v biases)', { arch: 'qwen2', type: 'q8_0', quantize: q }],
  ['qwen3 (per-head q/k norms)', { arch: 'qwen3' }],
  ['olmoe (whole q/k norms, routed experts)', { arch: 'olmoe', ...moe }],
  ['llama MoE q8_0', { ...moe, type: 'q8_0', quantize: q }],
  ['qwen2moe (shared expert)', { arch: 'qwen2moe', ...moe, sharedExpertFf: 128 }],
];
const files = new Map<string, string>();
function fileFor(name: string, extra: Partial<SyntheticSpec>): string {
  if (!files.has(name)) {
    const f = path.join(tmp, `${files.size}.gguf`);
    writeSyntheticModel(f, { ...base, ...extra } as SyntheticSpec);
    files.set(name, f);
  }
  return files.get(name)!;
}

/** prefill 6 tokens, then decode 8 one by one; every logits row */
async function run(m: Model): Promise<Float32Array[]> {
  const out = await m.evaluate([3, 9, 27, 81, 40, 12], { logits: 'all' });
  for (let i = 0; i < 8; i++) out.push(...await m.evaluate([(i * 37 + 5) % 200], { reset: false }));
  return out;
}

const stateOf = (m: Model) => (m as unknown as { state: { replay?: { replay: { disposed: boolean } }; caches: KVCache[] } }).state;

describe('decode replay: replays equal the kernel-by-kernel pass bit for bit', () => {
  test.each(CASES)('%s', async (name, extra) => {
    const f = fileFor(name, extra);
    const g = await load(f), k = await load(f, { decodeReplay: false });
    const a = await run(g), b = await run(k);
    expect(stateOf(g).replay).toBeDefined();
    expect(stateOf(k).replay).toBeUndefined();
    expect(a.length).toBe(14);
    a.forEach((row, i) => expect({ i, same: Buffer.compare(Buffer.from(row.buffer), Buffer.from(b[i].buffer)) === 0 }).toEqual({ i, same: true }));
    const graph = stateOf(g).replay!.replay;
    g.dispose();
    expect(graph.disposed).toBe(true);   // the model's dispose frees its recording
    k.dispose();
  });

  test('every ISA (q4_0), async replays (budget 0) and sync replays (budget Infinity) alike', async () => {
    const f = fileFor(CASES[1][0], CASES[1][1]);
    await forEachIsaAsync(async () => {
      const ref = await run(await load(f, { decodeReplay: false, eventLoopBudgetMs: Infinity }));
      for (const eventLoopBudgetMs of [0, Infinity]) {
        const m = await load(f, { eventLoopBudgetMs });
        const rows = await run(m);
        rows.forEach((row, i) => expect(Buffer.compare(Buffer.from(row.buffer), Buffer.from(ref[i].buffer))).toBe(0));
        m.dispose();
      }
    });
  });

  test('generation past the context (a context shift, in place in the caches): the replay goes on, same tokens as kernel by kernel', async () => {
    const f = path.join(tmp, 'short.gguf');
    writeSyntheticModel(f, { ...base, ctxLen: 24, seed: 4 });
    const opts = { maxTokens: 40, temperature: 0 };
    const g = await load(f), k = await load(f, { decodeReplay: false });
    const a = [], b = [];
    for await (const p of g.generate([1, 50, 60, 70], opts)) a.push(p.token);
    for await (const p of k.generate([1, 50, 60, 70], opts)) b.push(p.token);
    expect(g.lastStats!.shiftedTokens).toBeGreaterThan(0);
    expect(a).toEqual(b);
    expect(a.length).toBe(40);
    g.dispose();
    k.dispose();
  });

  test('a replay returns a view of its output buffer: evaluate copies each row out, so earlier rows stay as they were', async () => {
    const f = fileFor(CASES[0][0], CASES[0][1]);
    const m = await load(f);
    await m.evaluate([3, 9, 27]);
    const rows: Float32Array[] = [];
    for (let i = 0; i < 4; i++) rows.push(...await m.evaluate([10 + i], { reset: false }));
    const copies = rows.map((r) => r.slice());
    await m.evaluate([20], { reset: false });
    rows.forEach((r, i) => expect(r).toEqual(copies[i]));
    expect(new Set(rows.map((r) => r.buffer)).size).toBe(4);
    // one-token chunks (maxBatch 1) decode through the replay too: 'all' gives every chunk's row, as kernel by kernel
    const whole = await (await load(f, { maxBatch: 1, decodeReplay: false })).evaluate([3, 9, 27, 81, 5], { logits: 'all' });
    const chunked = await (await load(f, { maxBatch: 1 })).evaluate([3, 9, 27, 81, 5], { logits: 'all' });
    expect(chunked).toEqual(whole);
    m.dispose();
  });

  test('two models decoding at once (async replays interleave on the executor): outputs as when run alone', async () => {
    const f = fileFor(CASES[5][0], CASES[5][1]);
    const m1 = await load(f, { eventLoopBudgetMs: 0 }), m2 = await load(f, { eventLoopBudgetMs: 0 });
    const opts = { maxTokens: 10, temperature: 0.8, seed: 2 };
    const alone = [await m1.complete([1, 5, 9], opts), await m1.complete([1, 7, 7, 7], opts)];
    const both = await Promise.all([m1.complete([1, 5, 9], { ...opts, reuseCache: false }), m2.complete([1, 7, 7, 7], opts)]);
    expect(both).toEqual(alone);
    m1.dispose();
    m2.dispose();
  });

  test('attention options with stats: decode runs kernel by kernel, so the stats describe each token', async () => {
    const stats: Record<string, number> = {};
    const m = await load(fileFor(CASES[0][0], CASES[0][1]), { attention: () => ({ window: 4, sinks: 1, stats }) });
    await m.evaluate([1, 2, 3, 4, 5, 6]);
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) { await m.evaluate([7 + i], { reset: false }); seen.push(stats.tokens); }
    expect(stateOf(m).replay).toBeUndefined();
    // the context sits in one 64-token block, read whole: each token's call reads the context so far
    expect(seen).toEqual([7, 8, 9, 10]);
    m.dispose();
  });

  test('profile timings come from the replay: per-kernel milliseconds by the kernels\' names', async () => {
    const m = await load(fileFor(CASES[0][0], CASES[0][1]));
    await m.evaluate([1, 2, 3]);
    await m.evaluate([4], { reset: false }); // records
    m.timings = {};
    for (let i = 0; i < 3; i++) await m.evaluate([5 + i], { reset: false });
    expect(Object.keys(m.timings).sort()).toEqual(['attention', 'embedding', 'kvAppend', 'matmul', 'rmsnorm', 'rope', 'swiglu']);
    for (const v of Object.values(m.timings)) expect(v).toBeGreaterThan(0);
    m.dispose();
  });
});

describe('graph native API', () => {
  const err = (f: () => unknown): string => {
    try { f(); } catch (e) { return `${(e as Error).name}: ${(e as Error).message}`; }
    return 'no error';
  };
  const x = Tensor.from(randn(4 * 32, 1), [4, 32]);
  const w = Tensor.from(randn(32, 2), [32]);

  test('record, seal, replay: the replay reads the buffers\' current contents', () => {
    const g = native.graphCreate();
    const y = native.graphCapture(g, 'rmsnorm', () => rmsnorm(x, w)) as Tensor;
    expect(native.graphSeal(g)).toBe(1);
    expect(native.graphLabels(g)).toEqual(['rmsnorm']);
    const first = Float32Array.from(y.toArray() as Float32Array);
    (x.bytes() as Uint8Array).set(new Uint8Array(Float32Array.from(randn(4 * 32, 7)).buffer));
    native.graphRun(g, null);
    expect(Array.from(y.toArray())).toEqual(Array.from(rmsnorm(x, w).toArray()));
    expect(Array.from(y.toArray())).not.toEqual(Array.from(first));
    const ms = new Float64Array(1);
    native.graphRun(g, ms);
    expect(ms[0]).toBeGreaterThanOrEqual(0);
    native.graphFree(g);
    native.graphFree(g);
    expect(err(() => native.graphRun(g, null))).toBe('Error: graphRun: Expected a live graph for graph but received a freed graph');
  });

  test('misuse gets clear errors', () => {
    expect(err(() => loose.graphRun({}, null))).toBe('TypeError: graphRun: Expected a graph handle for graph but received an object');
    expect(err(() => loose.graphRun(new KVCache({ nKvHead: 1, headDim: 64 }).handle('t'), null))).toMatch(/^TypeError: graphRun: Expected a graph handle for graph but received another external value/);
    const g = native.graphCreate();
    expect(err(() => native.graphRun(g, null))).toMatch(/not sealed/);
    expect(err(() => loose.graphCapture(g, 'x', 5))).toBe('TypeError: graphCapture: Expected a function for fn but received 5');
    // nested captures, a graph run inside a capture
    expect(err(() => native.graphCapture(g, 'a', () => native.graphCapture(g, 'b', () => 0)))).toMatch(/do not nest/);
    const g2 = native.graphCreate();
    native.graphCapture(g2, 'n', () => rmsnorm(x, w));
    native.graphSeal(g2);
    expect(err(() => native.graphCapture(native.graphCreate(), 'r', () => native.graphRun(g2, null)))).toMatch(/inside a graph capture/);
    // the nested attempt threw inside g's capture: g is unusable and says why
    expect(err(() => native.graphSeal(g))).toMatch(/^Error: graphSeal: the recording is unusable: a captured call threw/);
    // a wrong timings buffer
    expect(err(() => native.graphRun(g2, new Float64Array(0)))).toMatch(/^RangeError: graphRun: Expected a buffer of at least 8 bytes for timings/);
    expect(err(() => native.graphCapture(g2, 'late', () => 0))).toMatch(/sealed/);
    native.graphFree(g2);
    native.graphFree(g);
  });

  test('an async call inside a capture breaks the recording', async () => {
    const g = native.graphCreate();
    let p: Promise<unknown> | undefined;
    native.graphCapture(g, 'a', () => { p = rmsnormAsync(x, w); });
    await p;
    expect(err(() => native.graphSeal(g))).toMatch(/rmsnorm is an async call: a graph records synchronous kernel calls only/);
    native.graphFree(g);
  });

  test('a recorded buffer detached since: the replay refuses', () => {
    const xs = Tensor.from(randn(2 * 32, 3), [2, 32]);
    const g = native.graphCreate();
    native.graphCapture(g, 'rmsnorm', () => rmsnorm(xs, w));
    native.graphSeal(g);
    native.graphRun(g, null);
    structuredClone(xs.buffer, { transfer: [xs.buffer as ArrayBuffer] });
    expect(err(() => native.graphRun(g, null))).toBe('Error: graphRun: a buffer the graph recorded was detached or resized since; record the graph again');
    native.graphFree(g);
  });

  test('a replay whose data breaks an op\'s invariant fails cleanly, naming the op', () => {
    const table = Tensor.from(randn(10 * 8, 4), [10, 8]);
    const ids = Int32Array.of(3);
    const g = native.graphCreate();
    native.graphCapture(g, 'embedding', () => gather(table, ids));
    native.graphSeal(g);
    ids[0] = 10;
    expect(err(() => native.graphRun(g, null))).toBe('RangeError: graphRun: op 0 (gather): Expected integer in [0, 9] for ids[0] but received 10');
    native.graphFree(g);
  });

  test('KV caches a graph holds: a disposed one fails the replay, and is freed when the graph is', async () => {
    const c = new KVCache({ nKvHead: 1, headDim: 64, dtype: 'f32' });
    const k = Tensor.from(randn(64, 5), [1, 1, 64]), qv = Tensor.from(randn(64, 6), [1, 1, 64]);
    const pos = Int32Array.of(0);
    const g = native.graphCreate();
    native.graphCapture(g, 'kvAppend', () => c.append(k, k, pos));
    const y = native.graphCapture(g, 'attention', () => attention(qv, c, { positions: pos })) as Tensor;
    native.graphSeal(g);
    expect(c.length).toBe(1);
    pos[0] = 1;
    native.graphRun(g, null);
    expect(c.length).toBe(2);
    // an async replay pins the cache: synchronous calls on it refuse until it settles
    pos[0] = 2;
    const p = native.graphRunAsync(g, null);
    expect(() => c.length).toThrow(/pending async call/);
    await p;
    expect(c.length).toBe(3);
    // one key, appended three times: attention returns its value (up to the rounding of the average)
    expect(maxElemRelErr(y.toArray(), k.toArray())).toBeLessThan(1e-6);
    c.dispose();
    pos[0] = 3;
    expect(err(() => native.graphRun(g, null))).toBe('RangeError: graphRun: Expected a live KVCache (one the graph recorded) for cache but received a disposed KVCache');
    native.graphFree(g);
  });

  test('freeing a graph during its async replay: the replay completes, the graph goes after', async () => {
    const g = native.graphCreate();
    const y = native.graphCapture(g, 'rmsnorm', () => rmsnorm(x, w)) as Tensor;
    native.graphSeal(g);
    const p = native.graphRunAsync(g, null);
    native.graphFree(g);
    await p;
    expect(Array.from(y.toArray())).toEqual(Array.from(rmsnorm(x, w).toArray()));
    expect(err(() => native.graphRun(g, null))).toMatch(/freed graph/);
  });
});
