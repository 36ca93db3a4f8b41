// Models: Config as llama.cpp reads it, Weights binding with gathered errors,
// the sampler, and (once every kernel a model needs is in the build) the
// Model API: evaluate, KV reuse, seeded generation, stop strings, abort,
// event-loop responsiveness, dispose. Numerics against llama.cpp: test/oracle.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import { parseGguf } from '../../lib/formats/gguf';
import { encodeGguf, gguf, writeGguf } from '../../lib/formats/gguf-writer';
import { readConfig } from '../../lib/models/config';
import { syntheticModel, writeSyntheticModel, SyntheticSpec } from '../../lib/models/synthetic';
import { loadWeights } from '../../lib/models/weights';
import { Sampler, argmax } from '../../lib/generate/sampler';
import { load } from '../../lib/models/model';
import { quantize, QuantFormat } from '../../lib/ops/qgemm';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-models-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const small = { dim: 64, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 128 };

describe('Config', () => {
  test.each([
    ['llama', {}, { ropeType: 'normal', headDim: 32, nHeadKv: 1, nExpert: 0, normTopkProb: true }],
    ['llama', { nExpert: 8, nExpertUsed: 2 }, { nExpert: 8, nExpertUsed: 2, expertFf: 128 }],
    ['qwen2', {}, { ropeType: 'neox' }],
    ['qwen3', {}, { ropeType: 'neox' }],
    ['qwen2moe', { nExpert: 4, nExpertUsed: 2, expertFf: 64, sharedExpertFf: 128 }, { expertFf: 64, sharedExpertFf: 128, normTopkProb: false }],
    ['qwen3moe', { nExpert: 4, nExpertUsed: 2, expertFf: 64 }, { normTopkProb: true }],
    ['olmoe', { nHeadKv: 2, nExpert: 4, nExpertUsed: 2 }, { ropeType: 'neox', normTopkProb: false, expertFf: 128 }],
  ] as const)('%s %j', (arch, extra, want) => {
    const f = parseGguf(encodeGguf(syntheticModel({ arch, ...small, ...extra } as SyntheticSpec)));
    const c = readConfig(f);
    expect(c).toMatchObject({ arch, dim: 64, nLayer: 2, nHead: 2, ctxLen: 2048, ropeBase: 10000, ropeDim: 32, ...want });
    expect(c.rmsEps).toBeCloseTo(1e-5, 10);
    expect(() => loadWeights(f, c)).not.toThrow();
  });

  test('problems are gathered into one message; llama.cpp types are enforced', () => {
    const bad = parseGguf(encodeGguf({ metadata: {
      'general.architecture': 'llama', 'llama.embedding_length': gguf.u32(64), 'llama.block_count': gguf.f32(2),
      'llama.attention.head_count': gguf.u32(3), 'llama.context_length': gguf.u32(16),
    } }));
    expect(() => readConfig(bad)).toThrow(/llama.block_count has type f32, expected u32 or i32 or u64 or u16 or u8[\s\S]*missing llama.attention.layer_norm_rms_epsilon/);
    expect(() => readConfig(parseGguf(encodeGguf({ metadata: { 'general.architecture': 'gpt-neox' } }))))
      .toThrow("model: architecture 'gpt-neox' is not supported (supported: llama, qwen2, qwen3, qwen2moe, qwen3moe, olmoe)");
  });

  test('weights: wrong shapes and missing tensors listed together', () => {
    const m = syntheticModel({ arch: 'qwen2', ...small });
    const tensors = m.tensors.filter((t) => t.name !== 'blk.1.attn_q.bias' && t.name !== 'output_norm.weight');
    const f = parseGguf(encodeGguf({ metadata: m.metadata, tensors }));
    expect(() => loadWeights(f, readConfig(f))).toThrow(/qwen2 needs blk.1.attn_q.bias[\s\S]*missing tensor output_norm.weight/);
  });

  test('tied embeddings: no output.weight uses token_embd', () => {
    const f = parseGguf(encodeGguf(syntheticModel({ arch: 'llama', ...small, untied: false })));
    const w = loadWeights(f, readConfig(f));
    expect(w.tied).toBe(true);
    expect(w.output).toBe(w.tokEmbd);
  });
});

describe('Sampler', () => {
  const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i * 1.7) * 3);
  test('greedy at temperature 0; seeded draws repeat; options validated', () => {
    expect(new Sampler({ temperature: 0 }).sample(logits, [])).toBe(argmax(logits));
    const a = new Sampler({ seed: 5, temperature: 1, topK: 0, topP: 1, minP: 0 });
    const b = new Sampler({ seed: 5, temperature: 1, topK: 0, topP: 1, minP: 0 });
    const xs = Array.from({ length: 20 }, () => a.sample(logits, []));
    expect(Array.from({ length: 20 }, () => b.sample(logits, []))).toEqual(xs);
    expect(new Set(xs).size).toBeGreaterThan(1);
    expect(() => new Sampler({ topP: 2 })).toThrow('generate: Expected a number in [0, 1] for opts.topP but received 2');
  });
  test('topK 3 only ever picks the 3 best; repeat penalty moves the argmax', () => {
    const s = new Sampler({ seed: 1, temperature: 5, topK: 3, topP: 1, minP: 0 });
    const best3 = Array.from(logits.keys()).sort((x, y) => logits[y] - logits[x]).slice(0, 3);
    for (let i = 0; i < 50; i++) expect(best3).toContain(s.sample(logits, []));
    const top = argmax(logits);
    expect(new Sampler({ temperature: 0, repeatPenalty: 100 }).sample(logits, [top])).not.toBe(top);
  });
});

const spec: SyntheticSpec = { arch: 'llama', dim: 128, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 256, seed: 3 };
const file = path.join(tmp, 'llama.gguf');
writeSyntheticModel(file, spec);

test('load(), dispose() is idempotent, a disposed model refuses work', async () => {
  const m = await load(file);
  expect(m.config.arch).toBe('llama');
  expect(m.tokenizer.vocabSize).toBe(m.config.vocabSize);
  m.dispose();
  m.dispose();
  expect(m.disposed).toBe(true);
  await expect(m.evaluate([1])).rejects.toThrow('Model.evaluate: the model is disposed');
});

test('decode fusions (q/k/v, gate/up in one GEMV) give the same logits as separate matmuls', async () => {
  for (const [arch, extra] of [['llama', {}], ['qwen2', {}], ['qwen2moe', { nExpert: 4, nExpertUsed: 2, expertFf: 128, sharedExpertFf: 128 }]] as const) {
    const f = path.join(tmp, `fuse-${arch}.gguf`);
    writeSyntheticModel(f, { ...spec, arch, ...extra, type: 'q8_0', quantize: (x, t) => quantize(x, t as QuantFormat) });
    const run = async (fuse: boolean) => {
      const m = await load(f, { fuse });
      const out: Float32Array[] = [];
      out.push(...await m.evaluate([5, 6, 7, 8, 9, 10, 11, 12, 13, 14], { logits: 'all' })); // prefill: per-matrix views
      for (const t of [20, 21, 22]) out.push(...await m.evaluate([t], { reset: false })); // decode: the fused GEMV
      const fused = m.weights.layers[0].wQkv !== undefined;
      m.dispose();
      return { out, fused };
    };
    const a = await run(true), b = await run(false);
    expect(a.fused).toBe(true);
    expect(b.fused).toBe(false);
    expect(a.out).toEqual(b.out);
  }
});

describe('Model', () => {
  test('evaluate: all vs last, chunked with the KV cache equals one shot', async () => {
    const m = await load(file);
    const toks = m.tokenizer.encode('the quick brown fox jumps over the lazy dog');
    const all = await m.evaluate(toks, { logits: 'all' });
    const last = await m.evaluate(toks, { logits: 'last' });
    expect(all.length).toBe(toks.length);
    // 'last' runs the output head as a GEMV (M = 1), 'all' as a GEMM: same math, other rounding
    let dl = 0; for (let j = 0; j < last[0].length; j++) dl = Math.max(dl, Math.abs(last[0][j] - all[toks.length - 1][j]));
    expect(dl).toBeLessThan(1e-3);
    await m.evaluate(toks.slice(0, 4));
    const rest = await m.evaluate(toks.slice(4), { logits: 'all', reset: false });
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i], b = all[4 + i];
      let d = 0; for (let j = 0; j < a.length; j++) d = Math.max(d, Math.abs(a[j] - b[j]));
      expect(d).toBeLessThan(1e-3); // prefill (GEMM) vs chunked (GEMV) rounding
    }
    const mb = await load(file, { maxBatch: 3 });
    const chunked = await mb.evaluate(toks, { logits: 'all' });
    expect(chunked.length).toBe(toks.length);
    for (let i = 0; i < toks.length; i++) {
      let d = 0; for (let j = 0; j < chunked[i].length; j++) d = Math.max(d, Math.abs(chunked[i][j] - all[i][j]));
      expect(d).toBeLessThan(1e-3);
    }
    mb.dispose();
    await expect(load(file, { maxBatch: 0 })).rejects.toThrow('load: Expected integer >= 1 for opts.maxBatch but received 0');
    m.dispose();
  });
  test('generate: seeded, reproducible, stop strings, abort, KV reuse across calls, event loop stays responsive', async () => {
    const m = await load(file);
    const opts = { maxTokens: 12, temperature: 0.9, seed: 42 };
    const a = await m.complete('hello world', opts);
    const b = await m.complete('hello world', opts);
    expect(b).toBe(a);
    expect(m.lastStats!.reusedTokens).toBeGreaterThan(0);
    const ac = new AbortController();
    let n = 0;
    for await (const p of m.generate('the model', { maxTokens: 50, signal: ac.signal })) { n++; if (n === 3) ac.abort(); void p; }
    expect(n).toBe(3);
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    await m.complete('the kernel', { maxTokens: 20 });
    h.disable();
    expect(h.max / 1e6).toBeLessThan(1000); // generous: a shared 2-core CI box; the point is yielding at all
    if (a.length > 2) {
      const stop = a.slice(1, 2);
      const s = await m.complete('hello world', { ...opts, stop });
      expect(s).toBe(a.slice(0, a.indexOf(stop)));
    }
    m.dispose();
  });
});

describe('LoadOptions.repack: q4_0 / q8_0 projections repacked for the GEMV', () => {
  // dense q4_0 with an untied output, and a Mixtral-style MoE in q8_0 with the output tied to
  // token_embd (the embedding gather keeps the GGUF layout; the output head gets a repacked copy)
  const cases: Array<[string, SyntheticSpec]> = [
    ['dense q4_0', { arch: 'llama', dim: 128, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 256, seed: 5, type: 'q4_0' }],
    ['moe q8_0 tied', { arch: 'llama', dim: 128, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 128, nExpert: 4, nExpertUsed: 2, expertFf: 96, seed: 6, type: 'q8_0', untied: false }],
  ];
  for (const [name, sp] of cases) {
    test(`${name}: the same logits as the GGUF layout, decode (GEMV) and prefill`, async () => {
      const f = path.join(tmp, `repack-${name.replace(/ /g, '-')}.gguf`);
      writeSyntheticModel(f, { ...sp, quantize: (x, t) => quantize(x, t as QuantFormat) });
      const a = await load(f);
      const b = await load(f, { repack: false });
      const base = sp.type as string;
      expect(a.weights.layers[0].wq.dtype).toBe(`${base}x16`);
      // the output head repacks when the vocabulary is a multiple of 16 rows
      expect(a.weights.output.dtype).toBe(a.config.vocabSize % 16 === 0 ? `${base}x16` : base);
      expect(a.weights.tokEmbd.dtype).toBe(base);
      expect(a.mapped).toBe(false);
      expect(b.weights.layers[0].wq.dtype).toBe(base);
      if (sp.nExpert) expect(a.weights.layers[0].wDownExps!.dtype).toBe(`${base}x16`);
      const toks = a.tokenizer.encode('the quick brown fox jumps over the lazy dog');
      for (const maxBatch of [1, 64]) {
        const ya = await (await load(f, { maxBatch })).evaluate(toks, { logits: 'all' });
        const yb = await (await load(f, { maxBatch, repack: false })).evaluate(toks, { logits: 'all' });
        // the same int8 operands; only the f32 summation order of the GEMV differs
        for (let i = 0; i < toks.length; i++) {
          let d = 0, mag = 0;
          for (let j = 0; j < ya[i].length; j++) { d = Math.max(d, Math.abs(ya[i][j] - yb[i][j])); mag = Math.max(mag, Math.abs(yb[i][j])); }
          expect(d).toBeLessThanOrEqual(1e-4 * mag + 1e-5);
        }
      }
      a.dispose(); b.dispose();
    });
  }
});
