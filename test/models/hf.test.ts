// Hugging Face checkpoints (config.json + safetensors) against GGUF: the test writes
// one synthetic model twice, as GGUF with the project's writer and as an HF
// checkpoint converted back the way convert_hf_to_gguf.py would have read it (HF
// tensor names, per-expert matrices, llama's q/k rows in HF's rotate-half order),
// loads both and asserts identical logits. Same bytes reach the same kernels, so
// the logits must be bit-identical, not merely close.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DType } from '../../lib/dtype';
import { QUANT_FORMATS } from '../../lib/ops/qgemm';
import { readGguf } from '../../lib/formats/gguf';
import { GgufTensorInput, gguf, writeGguf } from '../../lib/formats/gguf-writer';
import { SafetensorsInput, readSafetensors, safetensorsTensor, writeSafetensors } from '../../lib/formats/safetensors';
import { syntheticModel, SyntheticSpec } from '../../lib/models/synthetic';
import { load, Model } from '../../lib/models/model';
import { hfConfig, permuteRopeRows, readHf, hfTensorSource } from '../../lib/models/hf';
import { loadWeights } from '../../lib/models/transformer';
import { readConfig } from '../../lib/models/config';
import { Tokenizer } from '../../lib/tokenizer';
import { quantize } from '../../lib/ops/qgemm';
import { Tensor } from '../../lib/tensor';
import { sparseSafetensors } from '../formats/sparse';
import { spmTokenizerJson } from '../tokenizer/spm-json';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-hf-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ST: Record<string, string> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };
const bytesOf = (t: GgufTensorInput) => (t.data instanceof Tensor ? t.data.bytes() : t.data);

/** HF row order from GGUF's, written independently of lib/models/hf.ts: HF row h*hd + j*hd/2 + i = GGUF row h*hd + 2i + j. */
function unpermute(b: Uint8Array, nHead: number, rowBytes: number): Uint8Array {
  const rows = b.byteLength / rowBytes, hd = rows / nHead, out = new Uint8Array(b.byteLength);
  for (let r = 0; r < rows; r++) {
    const h = Math.floor(r / hd), w = r % hd, i = w >> 1, j = w & 1;
    const dst = (h * hd + j * (hd / 2) + i) * rowBytes;
    out.set(b.subarray(r * rowBytes, (r + 1) * rowBytes), dst);
  }
  return out;
}

const HF_MT: Record<string, string> = { llama: 'llama', qwen2: 'qwen2', qwen3: 'qwen3', qwen2moe: 'qwen2_moe', qwen3moe: 'qwen3_moe', olmoe: 'olmoe' };

/** Writes spec's model as GGUF and as an HF checkpoint (optionally sharded); returns both paths. */
function writeBoth(name: string, spec: SyntheticSpec, o: { shards?: number; ggufType?: DType; tokenizerJson?: boolean | 'metaspace-first'; ropeScaling?: Record<string, unknown> } = {}) {
  const m = syntheticModel(spec);
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const a = spec.arch;
  const mixtral = a === 'llama' && (spec.nExpert ?? 0) > 0;
  const mt = mixtral ? 'mixtral' : HF_MT[a];
  const hd = spec.dim / spec.nHead;
  const hf: SafetensorsInput[] = [];
  for (const t of m.tensors) {
    const dt = ST[t.type as string];
    let b = bytesOf(t);
    const shape = [...t.shape];
    const n = t.name;
    const L = /^blk\.(\d+)\.(.+)$/.exec(n);
    const p = L ? `model.layers.${L[1]}.` : '';
    const rest = L ? L[2] : n;
    const put = (hn: string, bytes = b, sh = shape) => hf.push({ name: hn, dtype: dt, shape: sh, data: bytes });
    const perm = (heads: number) => (a === 'llama' ? unpermute(b, heads, b.byteLength / (heads * hd)) : b);
    if (n === 'token_embd.weight') put('model.embed_tokens.weight');
    else if (n === 'output.weight') put('lm_head.weight');
    else if (n === 'output_norm.weight') put('model.norm.weight');
    else if (rest === 'attn_norm.weight') put(p + 'input_layernorm.weight');
    else if (rest === 'ffn_norm.weight') put(p + 'post_attention_layernorm.weight');
    else if (/^attn_[qkv]\.(weight|bias)$/.test(rest)) {
      const [x, kind] = rest.slice(5).split('.');
      put(`${p}self_attn.${x}_proj.${kind}`, x === 'q' ? perm(spec.nHead) : x === 'k' ? perm(spec.nHeadKv) : b);
    } else if (rest === 'attn_output.weight') put(p + 'self_attn.o_proj.weight');
    else if (rest === 'attn_q_norm.weight') put(p + 'self_attn.q_norm.weight');
    else if (rest === 'attn_k_norm.weight') put(p + 'self_attn.k_norm.weight');
    else if (/^ffn_(gate|up|down)\.weight$/.test(rest)) put(`${p}mlp.${rest.split('.')[0].slice(4)}_proj.weight`);
    else if (rest === 'ffn_gate_inp.weight') put(mixtral ? p + 'block_sparse_moe.gate.weight' : p + 'mlp.gate.weight');
    else if (/_exps\.weight$/.test(rest)) {
      const which = rest.slice(4, rest.indexOf('_exps'));
      const E = shape[0], per = b.byteLength / E;
      for (let e = 0; e < E; e++) {
        const hn = mixtral ? `${p}block_sparse_moe.experts.${e}.${{ gate: 'w1', up: 'w3', down: 'w2' }[which]}.weight` : `${p}mlp.experts.${e}.${which}_proj.weight`;
        put(hn, b.slice(e * per, (e + 1) * per), shape.slice(1));
      }
    } else if (rest === 'ffn_gate_inp_shexp.weight') put(p + 'mlp.shared_expert_gate.weight', b, [1, shape[0]]);
    else if (/_shexp\.weight$/.test(rest)) put(`${p}mlp.shared_expert.${rest.slice(4, rest.indexOf('_shexp'))}_proj.weight`);
    else if (n === 'rope_freqs.weight') continue; // the converter computes it from config.json's rope_scaling
    else throw new Error(`test: no HF name for ${n}`);
  }
  const md = m.metadata as Record<string, unknown>;
  const vocab = ((md['tokenizer.ggml.tokens'] as { value: { items: string[] } }).value.items);
  const cfg: Record<string, unknown> = {
    model_type: mt, hidden_size: spec.dim, num_hidden_layers: spec.nLayer, num_attention_heads: spec.nHead,
    num_key_value_heads: spec.nHeadKv, intermediate_size: spec.ffDim, vocab_size: vocab.length,
    max_position_embeddings: spec.ctxLen ?? 2048, rope_theta: spec.ropeBase ?? 10000, rms_norm_eps: spec.rmsEps ?? 1e-5,
    hidden_act: 'silu', tie_word_embeddings: false, torch_dtype: 'float32',
  };
  if (o.ropeScaling) cfg.rope_scaling = o.ropeScaling;
  if (mixtral) Object.assign(cfg, { num_local_experts: spec.nExpert, num_experts_per_tok: spec.nExpertUsed });
  else if ((spec.nExpert ?? 0) > 0) Object.assign(cfg, { num_experts: spec.nExpert, num_experts_per_tok: spec.nExpertUsed });
  if (a === 'qwen2moe' || a === 'qwen3moe') cfg.moe_intermediate_size = spec.expertFf;
  if (a === 'qwen2moe') cfg.shared_expert_intermediate_size = spec.sharedExpertFf;
  if (a === 'qwen3moe') cfg.norm_topk_prob = true;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  const shards = o.shards ?? 1;
  if (shards === 1) writeSafetensors(path.join(dir, 'model.safetensors'), hf, { format: 'pt' });
  else {
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < shards; s++) {
      const fn = `model-0000${s + 1}-of-0000${shards}.safetensors`;
      const part = hf.filter((_, i) => i % shards === s);
      writeSafetensors(path.join(dir, fn), part);
      for (const t of part) weightMap[t.name] = fn;
    }
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  }
  if (o.tokenizerJson && md['tokenizer.ggml.model'] === 'llama') {
    // SentencePiece-style (Llama 2 / Mistral), merges derived from the scores as HF's converter does
    const types = Array.from((md['tokenizer.ggml.token_type'] as { value: { items: Int32Array } }).value.items);
    const scores = Array.from((md['tokenizer.ggml.scores'] as { value: { items: Float32Array } }).value.items);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(spmTokenizerJson({ tokens: vocab, types, scores }, o.tokenizerJson === 'metaspace-first' ? 'metaspace-first' : 'normalizer')));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({
      bos_token: { content: '<s>', lstrip: false, normalized: false, rstrip: false, single_word: false }, eos_token: '</s>', unk_token: '<unk>',
      add_bos_token: true, add_eos_token: false, legacy: true, chat_template: "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{% endfor %}",
    }));
  } else if (o.tokenizerJson) {
    const types = (md['tokenizer.ggml.token_type'] as { value: { items: Int32Array } }).value.items;
    const merges = (md['tokenizer.ggml.merges'] as { value: { items: string[] } }).value.items;
    const v: Record<string, number> = {};
    const added: object[] = [];
    vocab.forEach((t, i) => { if (types[i] === 3) added.push({ id: i, content: t, special: true }); else v[t] = i; });
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({
      added_tokens: added, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split' }, { type: 'ByteLevel' }] },
      model: { type: 'BPE', vocab: v, merges: merges.map((x) => x.split(' ')) },
    }));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: null, eos_token: '<|im_end|>', add_bos_token: false }));
  }
  // the GGUF: the same tensors, optionally quantized as the HF loader would (every matrix but the router)
  const gt = o.ggufType;
  const tensors = !gt ? m.tensors : m.tensors.map((t) => {
    if (t.shape.length < 2 || t.name.endsWith('ffn_gate_inp.weight')) return t;
    const cols = t.shape[t.shape.length - 1];
    const x = Tensor.fromBytes(bytesOf(t), 'f32', [t.shape.reduce((x, y) => x * y, 1) / cols, cols]);
    return { ...t, type: gt, data: quantize(x, gt as 'q8_0').bytes() };
  });
  const gpath = path.join(tmp, `${name}.gguf`);
  writeGguf(gpath, { metadata: m.metadata, tensors });
  return { dir, gpath };
}

const small = { dim: 256, nLayer: 2, nHead: 4, nHeadKv: 2, ffDim: 96, seed: 11 }; // head dim 64: the attention kernel's smallest
const TOKS = [1, 40, 300, 7, 99, 250, 3, 180, 42, 17, 260, 5];

async function logits(m: Model, toks = TOKS): Promise<Float32Array[]> {
  const r = await m.evaluate(toks, { logits: 'all' });
  m.dispose();
  return r;
}

const gtok = (g: string) => Tokenizer.fromGguf(readGguf(g));

describe('HF checkpoint = GGUF, bit-identical logits', () => {
  const cases: [string, SyntheticSpec, Parameters<typeof writeBoth>[2]][] = [
    ['llama f32, GQA, 3 shards', { arch: 'llama', ...small }, { shards: 3 }],
    ['llama f32, SentencePiece tokenizer.json', { arch: 'llama', ...small, seed: 3 }, { tokenizerJson: true }],
    ['llama bf16', { arch: 'llama', ...small, type: 'bf16' }, {}],
    ['mixtral f16 (llama MoE, 4 experts top-2), Metaspace tokenizer.json', { arch: 'llama', ...small, type: 'f16', nExpert: 4, nExpertUsed: 2 }, { tokenizerJson: 'metaspace-first' }],
    ['qwen2 f32 (qkv bias), tokenizer.json', { arch: 'qwen2', ...small }, { tokenizerJson: true }],
    ['qwen3 f32 (per-head q/k norm)', { arch: 'qwen3', ...small }, {}],
    ['qwen2moe f32 (shared expert)', { arch: 'qwen2moe', ...small, nExpert: 4, nExpertUsed: 2, expertFf: 64, sharedExpertFf: 96 }, { shards: 2 }],
    ['qwen3moe f32', { arch: 'qwen3moe', ...small, nExpert: 4, nExpertUsed: 2, expertFf: 64 }, {}],
    ['olmoe f32', { arch: 'olmoe', ...small, nHeadKv: 4, nExpert: 4, nExpertUsed: 2 }, {}],
  ];
  test.each(cases)('%s', async (name, spec, o) => {
    const { dir, gpath } = writeBoth(name.replace(/\W+/g, '_'), spec, o);
    const g = await load(gpath);
    const h = await load(dir, o?.tokenizerJson ? {} : { tokenizer: gtok(gpath) });
    expect(h.config).toEqual(g.config);
    const unfused = await load(dir, { fuse: false, tokenizer: h.tokenizer });
    expect(unfused.mapped).toBe(true); // F32/F16/BF16 weights used in place from the mmap
    unfused.dispose();
    const toks = TOKS.map((t) => t % g.config.vocabSize);
    if (o?.tokenizerJson) {
      for (const s of ['hello world, the quick brown fox', ' jumps  over\nthe lazy dog 123', '<|im_start|>user\nhi<|im_end|>', '<s>[user] héllo 😀</s>']) {
        expect(h.tokenizer.encode(s, { parseSpecial: true })).toEqual(g.tokenizer.encode(s, { parseSpecial: true }));
        expect(h.tokenizer.decode(h.tokenizer.encode(s))).toBe(g.tokenizer.decode(g.tokenizer.encode(s)));
      }
      if (g.tokenizer.model === 'llama') {
        expect(h.tokenizer.model).toBe('llama');
        expect(h.tokenizer.chatTemplate).toContain('[{{ m[\'role\'] }}]');
        expect([h.tokenizer.bos, h.tokenizer.eos, h.tokenizer.addBos]).toEqual([1, 2, true]);
      }
    }
    const [lg, lh] = [await logits(g, toks), await logits(h, toks)];
    expect(lh).toEqual(lg);
  });

  test.each(['q8_0', 'q4_0'] as const)('quantize-on-load to %s = a GGUF quantized from the same weights', async (fmt) => {
    const spec: SyntheticSpec = { arch: 'llama', ...small, nExpert: 4, nExpertUsed: 2 };
    const { dir, gpath } = writeBoth(`q_${fmt}`, spec, { ggufType: fmt });
    const g = await load(gpath);
    const h = await load(dir, { tokenizer: gtok(gpath), quantize: fmt });
    // q4_0 / q8_0 projections are repacked for the GEMV at load (LoadOptions.repack)
    expect([fmt, `${fmt}x16`]).toContain(h.weights.layers[0].wq.dtype);
    expect([fmt, `${fmt}x16`]).toContain(h.weights.layers[0].wGateExps!.dtype);
    expect(h.weights.layers[0].wRouter!.dtype).toBe('f32');
    expect(await logits(h)).toEqual(await logits(g));
  });
});

describe('HF rope_scaling = the converted GGUF', () => {
  const spec = { arch: 'llama' as const, ...small, ropeBase: 500, ctxLen: 256 };
  // convert_hf_to_gguf.py's llama3 factors (conversion/llama.py generate_extra_tensors), written out again here
  const llama3 = (base: number, dim: number, factor: number, low: number, high: number, old: number) => Float32Array.from(
    { length: dim / 2 }, (_, i) => {
      const wl = (2 * Math.PI) / Math.fround(1 / Math.fround(Math.pow(base, Math.fround((2 * i) / dim))));
      if (wl < old / high) return 1;
      if (wl > old / low) return factor;
      const sm = (old / wl - low) / (high - low);
      return 1 / ((1 - sm) / factor + sm);
    });
  const toks = Array.from({ length: 24 }, (_, i) => (i * 53 + 3) % 300);
  test.each([
    ['linear x4 (llama)', spec, { rope_type: 'linear', factor: 4 }, { 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': 4 }],
    ['yarn x4 (qwen2)', { ...spec, arch: 'qwen2' as const }, { type: 'yarn', factor: 4, original_max_position_embeddings: 64 },
      { 'qwen2.rope.scaling.type': 'yarn', 'qwen2.rope.scaling.factor': 4, 'qwen2.rope.scaling.original_context_length': 64 }],
  ] as const)('%s: same Config and bit-identical logits', async (name, sp, rs, keys) => {
    const md: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(keys)) md[k] = typeof v === 'number' ? (k.endsWith('length') ? gguf.u32(v) : gguf.f32(v)) : v;
    const { dir, gpath } = writeBoth(name.replace(/\W+/g, '_'), { ...sp, extraMetadata: md as SyntheticSpec['extraMetadata'] }, { ropeScaling: rs as Record<string, unknown> });
    const g = await load(gpath);
    const h = await load(dir, { tokenizer: gtok(gpath) });
    expect(g.config.ropeScaling).toBeDefined();
    expect(h.config).toEqual(g.config);
    expect(await logits(h, toks)).toEqual(await logits(g, toks));
  });
  test('llama3 (factor 8, low 1, high 4, original 64): the factors become rope_freqs, bit-identical logits', async () => {
    const ff = llama3(500, 64, 8, 1, 4, 64);
    expect(ff[0]).toBe(1);            // fast pairs: unscaled
    expect(ff[31]).toBe(8);           // slow pairs: the whole factor
    expect(ff.some((v) => v > 1 && v < 8)).toBe(true); // and a smooth band between
    const { dir, gpath } = writeBoth('llama3', { ...spec, ropeFreqs: ff },
      { ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } });
    const g = await load(gpath);
    const h = await load(dir, { tokenizer: gtok(gpath) });
    expect(Array.from(h.weights.ropeFreqs!.toArray())).toEqual(Array.from(ff));
    expect(await logits(h, toks)).toEqual(await logits(g, toks));
  });
  test('config.json rope_scaling: mapping and errors', () => {
    const base = { model_type: 'llama', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 96, vocab_size: 300, max_position_embeddings: 128 };
    expect(hfConfig({ ...base, rope_scaling: { rope_type: 'default' } }).ropeScaling).toBeUndefined();
    expect(hfConfig({ ...base, rope_scaling: { type: 'linear', factor: 2 } }).ropeScaling).toMatchObject({ type: 'linear', freqScale: 0.5, extFactor: 0 });
    expect(hfConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8, original_max_position_embeddings: 8192 } }).ropeScaling)
      .toMatchObject({ freqScale: 1, extFactor: 0, llama3: { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, origCtx: 8192 } });
    // transformers' newer rope_parameters, with rope_theta inside
    expect(hfConfig({ ...base, rope_parameters: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32, rope_theta: 1e6 } }))
      .toMatchObject({ ropeBase: 1e6, ropeScaling: { type: 'yarn', freqScale: 0.25, extFactor: 1, origCtx: 32 } });
    expect(() => hfConfig({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } })).toThrow(/yarn needs original_max_position_embeddings/);
    expect(() => hfConfig({ ...base, rope_scaling: { rope_type: 'linear' } })).toThrow(/rope_type 'linear' needs a factor/);
    expect(() => hfConfig({ ...base, model_type: 'qwen2', rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(/llama3 rope scaling applies to llama models only/);
    expect(() => hfConfig({ ...base, rope_scaling: { rope_type: 'longrope', factor: 8 } }))
      .toThrow(/rope_scaling \{"rope_type":"longrope","factor":8\} is not supported \(fuselm runs rope_type linear, yarn, llama3 and default\)/);
  });
});

describe('llama q/k permutation', () => {
  test('permuteRopeRows on a hand-worked head: GGUF row 2i+j is HF row j*hd/2+i', () => {
    // 2 heads of 4 rows, one byte per row: HF [a0 a1 b0 b1 | c0 c1 d0 d1] -> GGUF [a0 b0 a1 b1 | c0 d0 c1 d1]
    const hfRows = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(permuteRopeRows(hfRows, 2, 1))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    expect(() => permuteRopeRows(new Uint8Array(6), 2, 1)).toThrow('permuteRopeRows: 6 rows do not split into 2 heads of an even size');
  });

  test("HF's layout with neox (rotate-half) rope computes what the permuted layout does with normal rope", async () => {
    // independent of the permutation's inverse in this test file: run the checkpoint's own
    // rows unpermuted under neox rope (HF's math) and compare with the loader's result
    const spec: SyntheticSpec = { arch: 'llama', ...small, seed: 5 };
    const { dir, gpath } = writeBoth('neox_check', spec);
    const tokenizer = gtok(gpath);
    const h = await load(dir, { tokenizer });
    const hf = readHf(dir);
    const neox = { ...hf.config, ropeType: 'neox' as const };
    const raw = new Model({ config: neox, tokenizer, weights: loadWeights(hfTensorSource(hf.checkpoint, neox, 'llama', { permute: false }), neox) });
    const [a, b] = [await logits(h), await logits(raw)];
    let worst = 0;
    for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i].length; j++) worst = Math.max(worst, Math.abs(a[i][j] - b[i][j]));
    expect(worst).toBeLessThan(2e-3); // same math, dot products summed in another order
    // and the unpermuted weights with normal rope are measurably wrong (the permutation matters)
    const wrong = new Model({ config: hf.config, tokenizer, weights: loadWeights(hfTensorSource(hf.checkpoint, hf.config, 'llama', { permute: false }), hf.config) });
    const c = await logits(wrong);
    let diff = 0;
    for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i].length; j++) diff = Math.max(diff, Math.abs(a[i][j] - c[i][j]));
    expect(diff).toBeGreaterThan(0.05);
  });
});

describe('HF config and checkpoint errors', () => {
  const base = { model_type: 'llama', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 96, vocab_size: 300, max_position_embeddings: 128 };
  test('config.json maps to the GGUF Config fields; problems gathered into one message', () => {
    expect(hfConfig(base)).toMatchObject({ arch: 'llama', nHeadKv: 4, headDim: 16, ropeBase: 10000, rmsEps: Math.fround(1e-6), ropeType: 'normal', nExpert: 0 });
    expect(hfConfig({ ...base, model_type: 'qwen3', head_dim: 32 })).toMatchObject({ arch: 'qwen3', headDim: 32, ropeDim: 32, ropeType: 'neox' });
    expect(hfConfig({ ...base, model_type: 'mixtral', num_local_experts: 8, num_experts_per_tok: 2 })).toMatchObject({ nExpert: 8, expertFf: 96, normTopkProb: true, rmsEps: Math.fround(1e-5) });
    expect(() => hfConfig({ ...base, model_type: 'gpt_neox' })).toThrow("model: config.json: model_type 'gpt_neox' is not supported");
    expect(() => hfConfig({ ...base, hidden_size: 'x', rope_scaling: { rope_type: 'dynamic', factor: 8 }, hidden_act: 'gelu' }))
      .toThrow(/hidden_size must be a non-negative integer, got "x"[\s\S]*hidden_act 'gelu' is not supported[\s\S]*rope_scaling .* is not supported/);
  });
  test('unused checkpoint tensors, missing config.json and bad tokenizers are clear errors', async () => {
    const { dir, gpath } = writeBoth('extra', { arch: 'llama', ...small });
    const tokenizer = gtok(gpath);
    fs.rmSync(path.join(dir, 'model.safetensors'));
    const again = writeBoth('extra2', { arch: 'llama', ...small });
    // add an o_proj bias fuselm's llama has no place for
    const ck = readHf(again.dir).checkpoint;
    const all: SafetensorsInput[] = [...ck.index.keys()].map((n) => {
      const f = ck.index.get(n)!, i = f.tensors.get(n)!;
      return { name: n, dtype: i.dtypeName, shape: i.shape, data: new Uint8Array(f.buffer, f.byteOffset + i.fileOffset, i.byteSize).slice() };
    });
    all.push({ name: 'model.layers.0.self_attn.o_proj.bias', dtype: 'F32', shape: [256], data: new Uint8Array(1024) });
    writeSafetensors(path.join(again.dir, 'model.safetensors'), all);
    await expect(load(again.dir, { tokenizer })).rejects.toThrow(/does not use \(their weights would be dropped\): model.layers.0.self_attn.o_proj.bias/);
    await expect(load(dir, { tokenizer })).rejects.toThrow(/no .safetensors file/);
    fs.rmSync(path.join(dir, 'config.json'));
    await expect(load(dir)).rejects.toThrow(/no config.json next to/);
    await expect(load(again.dir)).rejects.toThrow(/has no tokenizer.json; pass \{ tokenizer \} to load\(\)/);
    await expect(load(again.dir, { tokenizerSpaces: 'x' as never })).rejects.toThrow("load: Expected 'llama.cpp' or 'hf' for opts.tokenizerSpaces but received x");
    await expect(load(again.dir, { tokenizer, quantize: 'q3' as never })).rejects.toThrow(`load: Expected one of ${QUANT_FORMATS.join(', ')} for opts.quantize but received q3`);
    await expect(load(gpath, { quantize: 'q8_0' })).rejects.toThrow(/opts.quantize applies to safetensors checkpoints/);
  });
  test('a shard over 4 GiB (sparse: its tensors after a 4.5 GiB gap) loads, mmap\'d and read, with the same logits', async () => {
    const { dir, gpath } = writeBoth('over4g', { arch: 'llama', ...small, type: 'bf16' });
    const tokenizer = gtok(gpath);
    const st = path.join(dir, 'model.safetensors');
    const f = readSafetensors(st);
    const gap = 4.5 * 2 ** 30;
    const shifted = [...f.tensors.values()].map((i) => ({
      name: i.name, dtype: i.dtypeName, shape: i.shape, at: gap + i.fileOffset - f.dataOffset, data: safetensorsTensor(f, i).bytes().slice(),
    }));
    sparseSafetensors(st, shifted);
    const want = await logits(await load(gpath));
    for (const mmap of [true, false]) {
      const h = await load(dir, { tokenizer, mmap, fuse: false });
      expect(h.mapped).toBe(mmap);
      expect(fs.statSync(st).size).toBeGreaterThan(gap);
      expect(await logits(h)).toEqual(want);
    }
    fs.rmSync(dir, { recursive: true });
  });
  test('readConfig of the GGUF and hfConfig of config.json agree for every architecture (spot check qwen2moe)', () => {
    const { dir, gpath } = writeBoth('cfg_q2moe', { arch: 'qwen2moe', ...small, nExpert: 4, nExpertUsed: 2, expertFf: 64, sharedExpertFf: 96 });
    expect(readHf(dir).config).toEqual(readConfig(readGguf(gpath)));
  });
});
