// RoPE scaling from GGUF metadata as llama.cpp derives it (llama-model.cpp load_hparams, llama-context.cpp):
// linear (rope.scaling.factor / rope.scale_linear), YaRN (ext_factor 1, attn_factor, original context),
// llama3's rope_freqs.weight tensor; unsupported types are clear errors. Numerics against llama.cpp:
// test/oracle (the rope-scaling cases).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseGguf } from '../../lib/formats/gguf';
import { encodeGguf, gguf } from '../../lib/formats/gguf-writer';
import { readConfig, ropeScalingFrom } from '../../lib/models/config';
import { syntheticModel, writeSyntheticModel, SyntheticSpec } from '../../lib/models/synthetic';
import { loadWeights } from '../../lib/models/weights';
import { load } from '../../lib/models/model';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-rope-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const small = { dim: 64, nLayer: 2, nHead: 2, nHeadKv: 1, ffDim: 128 };
const cfgOf = (spec: SyntheticSpec) => {
  const f = parseGguf(encodeGguf(syntheticModel(spec)));
  return { f, c: readConfig(f) };
};

describe('rope scaling in the Config', () => {
  test('linear: rope.scaling.factor, or the older rope.scale_linear; freq_scale = 1 / factor', () => {
    const { c } = cfgOf({ arch: 'llama', ...small, extraMetadata: { 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': gguf.f32(4) } });
    expect(c.ropeScaling).toEqual({ type: 'linear', freqScale: 0.25, extFactor: 0, attnFactor: 1, betaFast: 32, betaSlow: 1, origCtx: 2048 });
    // no type key: llama.cpp's default type is 'linear'
    expect(cfgOf({ arch: 'llama', ...small, extraMetadata: { 'llama.rope.scale_linear': gguf.f32(2) } }).c.ropeScaling).toMatchObject({ type: 'linear', freqScale: 0.5 });
    // rope.scaling.factor wins over rope.scale_linear
    expect(cfgOf({ arch: 'llama', ...small, extraMetadata: { 'llama.rope.scale_linear': gguf.f32(2), 'llama.rope.scaling.factor': gguf.f32(8) } }).c.ropeScaling)
      .toMatchObject({ freqScale: 0.125 });
    // type 'none' never scales; factor 0 is no factor; plain files have no scaling at all
    expect(cfgOf({ arch: 'llama', ...small, extraMetadata: { 'llama.rope.scaling.type': 'none', 'llama.rope.scaling.factor': gguf.f32(4) } }).c.ropeScaling).toBeUndefined();
    expect(cfgOf({ arch: 'llama', ...small, extraMetadata: { 'llama.rope.scaling.factor': gguf.f32(0) } }).c.ropeScaling).toBeUndefined();
    expect(cfgOf({ arch: 'llama', ...small }).c.ropeScaling).toBeUndefined();
    // rope.scaling.attn_factor multiplies the magnitude whatever the type
    expect(cfgOf({ arch: 'llama', ...small, extraMetadata: { 'llama.rope.scaling.attn_factor': gguf.f32(0.5) } }).c.ropeScaling)
      .toMatchObject({ freqScale: 1, extFactor: 0, attnFactor: 0.5 });
  });

  test("yarn: ext_factor 1, original context, and llama.cpp's attn_factor (get_mscale / (1 + 0.1 ln s) x rope.scaling.attn_factor)", () => {
    const { c } = cfgOf({ arch: 'qwen2', ...small, extraMetadata: {
      'qwen2.rope.scaling.type': 'yarn', 'qwen2.rope.scaling.factor': gguf.f32(4), 'qwen2.rope.scaling.original_context_length': gguf.u32(512),
    } });
    expect(c.ropeScaling).toMatchObject({ type: 'yarn', freqScale: 0.25, extFactor: 1, betaFast: 32, betaSlow: 1, origCtx: 512 });
    expect(c.ropeScaling!.attnFactor).toBeCloseTo(1, 12); // get_mscale(4) = 1 + 0.1 ln 4 cancels against ggml's own factor
    // without original_context_length: context_length; with attn_factor: multiplied in
    const d = cfgOf({ arch: 'qwen2', ...small, ctxLen: 4096, extraMetadata: {
      'qwen2.rope.scaling.type': 'yarn', 'qwen2.rope.scaling.factor': gguf.f32(2), 'qwen2.rope.scaling.attn_factor': gguf.f32(1.5),
    } }).c;
    expect(d.ropeScaling).toMatchObject({ origCtx: 4096, freqScale: 0.5 });
    expect(d.ropeScaling!.attnFactor).toBeCloseTo(1.5, 6);
    // the yarn_* keys are read by llama.cpp for grok only: ignored here as there
    const e = cfgOf({ arch: 'qwen2', ...small, extraMetadata: {
      'qwen2.rope.scaling.type': 'yarn', 'qwen2.rope.scaling.factor': gguf.f32(2), 'qwen2.rope.scaling.yarn_beta_fast': gguf.f32(8),
    } }).c;
    expect(e.ropeScaling!.betaFast).toBe(32);
    // factor < 1 (freq_scale > 1): get_mscale is 1, so attn_factor = 1 / (1 + 0.1 ln factor)
    expect(ropeScalingFrom('yarn', 0.5, 1, 100).attnFactor).toBeCloseTo(1 / (1 + 0.1 * Math.log(Math.fround(1 / Math.fround(1 / 0.5)))), 6);
  });

  test('unsupported scaling types are clear errors naming the type', () => {
    expect(() => cfgOf({ arch: 'llama', ...small, extraMetadata: { 'llama.rope.scaling.type': 'longrope' } }))
      .toThrow(/llama.rope.scaling.type 'longrope' is not supported \(fuselm runs none, linear, yarn; .*longrope's rope_long\/rope_short factors are not implemented\)/);
    expect(() => cfgOf({ arch: 'qwen2', ...small, extraMetadata: { 'qwen2.rope.scaling.type': 'ntk-by-parts' } }))
      .toThrow(/qwen2.rope.scaling.type 'ntk-by-parts' is not supported/);
    expect(() => cfgOf({ arch: 'llama', ...small, extraMetadata: { 'llama.rope.scaling.type': gguf.u32(2) } }))
      .toThrow(/llama.rope.scaling.type must be a string/);
    expect(() => cfgOf({ arch: 'llama', ...small, extraMetadata: { 'llama.rope.scaling.factor': gguf.str('4') } }))
      .toThrow(/llama.rope.scaling.factor has type string, expected f32 or f64/);
  });

  test('rope_freqs.weight: bound for llama as Weights.ropeFreqs; shape, values and architecture checked', () => {
    const ff = Float32Array.from({ length: 16 }, (_, i) => 1 + i / 2);
    const { f, c } = cfgOf({ arch: 'llama', ...small, ropeFreqs: ff });
    const w = loadWeights(f, c);
    expect(Array.from(w.ropeFreqs!.toArray())).toEqual(Array.from(ff));
    const bad = Float32Array.from(ff);
    bad[3] = 0;
    expect(() => { const x = cfgOf({ arch: 'llama', ...small, ropeFreqs: bad }); loadWeights(x.f, x.c); })
      .toThrow(/rope_freqs.weight\[3\] is 0; every factor must be finite and > 0/);
    expect(() => { const x = cfgOf({ arch: 'qwen2', ...small, ropeFreqs: ff }); loadWeights(x.f, x.c); })
      .toThrow(/rope_freqs.weight is used by the llama architecture only, not by qwen2/);
    // a partial rotary llama: the factors cover rope.dimension_count / 2 pairs
    expect(() => { const x = cfgOf({ arch: 'llama', ...small, ropeFreqs: ff, extraMetadata: { 'llama.rope.dimension_count': gguf.u32(16) } }); loadWeights(x.f, x.c); })
      .toThrow(/rope_freqs.weight has shape \[16\], expected \[8\]/);
  });
});

describe('scaled models load and run', () => {
  const spec = { arch: 'llama' as const, ...small, dim: 128, nHead: 2, ropeBase: 100, seed: 5 }; // head dim 64
  const toks = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 250);
  const run = async (name: string, s: SyntheticSpec) => {
    const p = path.join(tmp, `${name}.gguf`);
    writeSyntheticModel(p, s);
    const m = await load(p);
    const r = await m.evaluate(toks, { logits: 'all' });
    m.dispose();
    return r;
  };
  test('linear x2 = rope_freqs all 2 (both divide every angle by 2), and both differ from unscaled; yarn runs', async () => {
    const plain = await run('plain', spec);
    const lin = await run('lin2', { ...spec, extraMetadata: { 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': gguf.f32(2) } });
    const ff = await run('ff2', { ...spec, ropeFreqs: new Float32Array(32).fill(2) });
    expect(ff).toEqual(lin);
    const maxDiff = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((r, i) => Math.max(...r.map((v, j) => Math.abs(v - b[i][j])))));
    expect(maxDiff(lin, plain)).toBeGreaterThan(1e-2);
    expect(Math.max(...plain[0].map((v, j) => Math.abs(v - lin[0][j])))).toBe(0); // position 0 is never rotated
    const yarn = await run('yarn', { ...spec, extraMetadata: {
      'llama.rope.scaling.type': 'yarn', 'llama.rope.scaling.factor': gguf.f32(4), 'llama.rope.scaling.original_context_length': gguf.u32(64),
    } });
    expect(yarn.every((r) => r.every(Number.isFinite))).toBe(true);
    expect(maxDiff(yarn, plain)).toBeGreaterThan(1e-2);
    expect(maxDiff(yarn, lin)).toBeGreaterThan(1e-2);
  });
});
