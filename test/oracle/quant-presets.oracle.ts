// fuselm's quantization presets against llama.cpp's `llama-quantize in out <PRESET>`:
// synthetic F32 models whose shapes force the fallbacks (hidden 896 and 576: rows no
// 256-block holds; an MoE with expert FFN 1408; tied and untied embeddings; an 8-expert
// MoE for llama.cpp's n_expert == 8 rules) are quantized by llama-quantize, and for every
// tensor of its output (1) quantPlan gives the same type and (2) `fuselm quantize` of the
// same input writes byte-identical data. Skips when the binary is absent (LLAMA_QUANTIZE).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { SyntheticSpec, writeSyntheticModel } from '../../lib/models/synthetic';
import { ggufTensorBytes, readGguf } from '../../lib/formats/gguf';
import { QUANT_PRESETS, quantPlan } from '../../lib/formats/quant-plan';
import { quantize as quantizeCommand } from '../../lib/commands/models';

const BIN = process.env.LLAMA_QUANTIZE ?? '/work/llama.cpp-src/llama.cpp/build/bin/llama-quantize';
const have = fs.existsSync(BIN);
const maybe = have ? describe : describe.skip;
const env = { ...process.env, LD_LIBRARY_PATH: path.dirname(BIN) };

const PRESETS = (process.env.PRESETS ?? 'Q4_K_M,Q5_0,Q4_1,Q4_K_S,Q5_K_M,Q5_K_S,Q3_K_M,Q3_K_L,Q2_K,IQ4_XS,IQ4_NL,Q5_1,MXFP4_MOE').split(',');

const MODELS: Record<string, SyntheticSpec> = {
  // hidden 896, GQA 7, untied: attn_q/k/v/o and ffn_gate/up rows of 896 (896 % 256 = 128)
  'qwen2-896-untied': { arch: 'qwen2', dim: 896, nLayer: 4, nHead: 14, nHeadKv: 2, ffDim: 256, seed: 21 },
  // hidden 576, GQA 3, tied embeddings, 8 layers (use_more_bits on layers 0, 3, 6, 7)
  'llama-576-tied': { arch: 'llama', dim: 576, nLayer: 8, nHead: 9, nHeadKv: 3, ffDim: 256, untied: false, seed: 22 },
  // MoE, 4 experts of FFN 1408 (ffn_down_exps rows of 1408 = 5.5 x 256)
  'qwen3moe-1408': { arch: 'qwen3moe', dim: 256, nLayer: 2, nHead: 4, nHeadKv: 2, ffDim: 512, nExpert: 4, nExpertUsed: 2, expertFf: 1408, seed: 23 },
  // 8 experts (attn_v/attn_k to Q8_0, attn_output Q5_K) and a shared expert of FFN 1408, tied
  'qwen2moe-8x-shexp': { arch: 'qwen2moe', dim: 256, nLayer: 2, nHead: 4, nHeadKv: 4, ffDim: 256, nExpert: 8, nExpertUsed: 2, expertFf: 256, sharedExpertFf: 1408, untied: false, seed: 24 },
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-qpresets-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

maybe('quantization presets: fuselm quantize vs llama-quantize', () => {
  for (const [model, spec] of Object.entries(MODELS)) {
    const src = path.join(tmp, `${model}.gguf`);
    beforeAll(() => writeSyntheticModel(src, spec));
    const ref = (preset: string) => path.join(tmp, `${model}-${preset}-llama.gguf`);
    test.each(PRESETS)(`${model} %s: quantPlan gives llama-quantize's type and size for every tensor`, (preset) => {
      expect(QUANT_PRESETS[preset]).toBeDefined();
      const r = spawnSync(BIN, [src, ref(preset), preset, '2'], { encoding: 'utf8', timeout: 300000, env });
      expect({ status: r.status, err: r.status === 0 ? '' : (r.stderr + r.stdout).slice(-2000) }).toEqual({ status: 0, err: '' });
      const a = readGguf(src), b = readGguf(ref(preset));
      const plan = new Map(quantPlan(a, preset).map((e) => [e.name, e]));
      const want = Object.fromEntries(b.tensors.map((t) => [t.name, t.typeName]));
      const got = Object.fromEntries(b.tensors.map((t) => [t.name, String(plan.get(t.name)?.to).toUpperCase()]));
      expect(got).toEqual(want);
      for (const t of b.tensors) expect({ name: t.name, bytes: plan.get(t.name)!.bytes }).toEqual({ name: t.name, bytes: t.byteSize });
    });
    test.each(PRESETS)(`${model} %s: fuselm quantize writes byte-identical tensors`, async (preset) => {
      const ours = path.join(tmp, `${model}-${preset}-fuselm.gguf`);
      const log = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try { expect(await quantizeCommand.run([src, ours, preset])).toBe(0); } finally { log.mockRestore(); }
      const b = readGguf(ref(preset)), c = readGguf(ours);
      for (const t of b.tensors) {
        const u = c.tensors.find((x) => x.name === t.name)!;
        const x = ggufTensorBytes(b, t), y = ggufTensorBytes(c, u);
        let diff = x.length === y.length ? -1 : 0;
        for (let i = 0; diff < 0 && i < x.length; i++) if (x[i] !== y[i]) diff = i;
        expect({ name: t.name, type: u.typeName, len: y.length, diff }).toEqual({ name: t.name, type: t.typeName, len: x.length, diff: -1 });
      }
      expect(c.metadata.get('general.file_type')?.value).toBe(b.metadata.get('general.file_type')?.value);
      fs.rmSync(ref(preset)); fs.rmSync(ours);
    });
  }
});
