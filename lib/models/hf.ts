// Hugging Face checkpoints: config.json + safetensors (single file or sharded),
// mapped to the same Config and Weights the GGUF path produces, the way
// llama.cpp's convert_hf_to_gguf.py maps them:
//   - config.json fields -> the {arch}.* hyperparameters (model_type llama/mistral
//     and mixtral -> llama, qwen2, qwen3, qwen2_moe -> qwen2moe, qwen3_moe -> qwen3moe, olmoe);
//   - tensor names model.layers.N.self_attn.q_proj.weight -> blk.N.attn_q.weight, ...;
//     per-expert matrices stacked into [E, rows, cols] (ffn_*_exps);
//   - llama's q_proj/k_proj rows permuted per head from HF's rotate-half layout (dims
//     (i, i + d/2) rotate together) to GGUF's interleaved layout ((2i, 2i+1)), which is
//     what rope mode 'normal' expects. The neox-rope architectures are not permuted.
// Weights stay in the checkpoint's F32/F16/BF16 (zero-copy when aligned) or are
// quantized on load to any fuselm format; 1-D tensors (norms, biases) become f32.
import * as fs from 'fs';
import * as path from 'path';
import { DType, DTYPES } from '../dtype';
import { Tensor } from '../tensor';
import { dequantize, quantize, QuantFormat, QUANT_FORMATS } from '../ops/qgemm';
import {
  SafetensorsCheckpoint, SafetensorsReadOptions, SAFETENSORS_FUSELM, readCheckpoint, safetensorsTensor,
} from '../formats/safetensors';
import { ARCH_TRAITS, Arch, Config, NO_ROPE_SCALING, RopeScalingConfig, ropeScalingFrom } from './config';
import { TensorSource } from './weights';

/** HF model_type -> the llama.cpp architecture it converts to. */
export const HF_MODEL_TYPES: Readonly<Record<string, Arch>> = {
  llama: 'llama', mistral: 'llama', mixtral: 'llama', qwen2: 'qwen2', qwen3: 'qwen3',
  qwen2_moe: 'qwen2moe', qwen3_moe: 'qwen3moe', olmoe: 'olmoe',
};

// transformers' defaults for rms_norm_eps when config.json leaves it out
const RMS_EPS_DEFAULT: Record<string, number> = { mixtral: 1e-5, olmoe: 1e-5 };

/** Reads config.json into a Config (the vocabulary size from vocab_size); gathers every problem into one error. */
export function hfConfig(json: unknown, source = 'config.json'): Config {
  const fail = (msg: string): never => { throw new RangeError(`model: ${source}: ${msg}`); };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('expected a JSON object');
  const j = json as Record<string, unknown>;
  const mt = j.model_type;
  if (typeof mt !== 'string') return fail('no model_type string; is this a Hugging Face config.json?');
  const arch = HF_MODEL_TYPES[mt];
  if (!arch) return fail(`model_type '${mt}' is not supported (supported: ${Object.keys(HF_MODEL_TYPES).join(', ')})`);
  const problems: string[] = [];
  const int = (k: string, required: boolean, dflt = 0): number => {
    const v = j[k];
    if (v === undefined || v === null) { if (required) problems.push(`missing ${k}`); return dflt; }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) { problems.push(`${k} must be a non-negative integer, got ${JSON.stringify(v)}`); return dflt; }
    return v;
  };
  const flt = (k: string, dflt: number | undefined): number => {
    const v = j[k];
    if (v === undefined || v === null) { if (dflt === undefined) problems.push(`missing ${k}`); return dflt ?? 0; }
    if (typeof v !== 'number' || !Number.isFinite(v)) { problems.push(`${k} must be a number, got ${JSON.stringify(v)}`); return dflt ?? 0; }
    return v;
  };
  const dim = int('hidden_size', true);
  const nLayer = int('num_hidden_layers', true);
  const nHead = int('num_attention_heads', true);
  const nHeadKv = int('num_key_value_heads', false, nHead);
  const headDim = int('head_dim', false, nHead > 0 ? dim / nHead : 0);
  const moe = mt === 'mixtral' || mt === 'qwen2_moe' || mt === 'qwen3_moe' || mt === 'olmoe';
  const nExpert = moe ? int(mt === 'mixtral' ? 'num_local_experts' : 'num_experts', true) : 0;
  const ffDim = int('intermediate_size', !moe || mt === 'mixtral' || mt === 'olmoe');
  const qwenMoe = mt === 'qwen2_moe' || mt === 'qwen3_moe';
  const act = j.hidden_act ?? 'silu';
  if (act !== 'silu') problems.push(`hidden_act '${String(act)}' is not supported (fuselm runs SwiGLU: silu)`);
  const rp = (j.rope_parameters ?? j.rope_scaling) as Record<string, unknown> | null | undefined;
  const ropeScaling = hfRopeScaling(rp, arch, int('max_position_embeddings', false), problems);
  if (j.partial_rotary_factor !== undefined && j.partial_rotary_factor !== 1) problems.push('partial_rotary_factor is not supported');
  if (qwenMoe && (int('decoder_sparse_step', false, 1) !== 1 || (Array.isArray(j.mlp_only_layers) && j.mlp_only_layers.length > 0))) {
    problems.push('a mix of dense and MoE layers (decoder_sparse_step / mlp_only_layers) is not supported');
  }
  const ntp = j.norm_topk_prob;
  const cfg: Config = {
    arch, dim, nLayer, nHead, nHeadKv, headDim, headDimV: headDim, ffDim,
    vocabSize: int('vocab_size', true),
    ctxLen: int('max_position_embeddings', true),
    // GGUF stores these as f32 and llama.cpp reads them so: round the same way
    ropeBase: Math.fround(rp && typeof rp === 'object' && typeof rp.rope_theta === 'number' ? rp.rope_theta : flt('rope_theta', 10000)),
    ropeDim: headDim,
    ropeType: ARCH_TRAITS[arch].rope,
    ...(ropeScaling ? { ropeScaling } : {}),
    rmsEps: Math.fround(flt('rms_norm_eps', RMS_EPS_DEFAULT[mt] ?? 1e-6)),
    nExpert,
    nExpertUsed: moe ? int('num_experts_per_tok', true) : 0,
    expertFf: qwenMoe ? int('moe_intermediate_size', true) : ffDim,
    sharedExpertFf: mt === 'qwen2_moe' ? int('shared_expert_intermediate_size', false) : 0,
    normTopkProb: typeof ntp === 'boolean' && mt !== 'mixtral' ? ntp : ARCH_TRAITS[arch].normTopkProb,
  };
  if (problems.length === 0) {
    const check = (ok: boolean, msg: string) => { if (!ok) problems.push(msg); };
    check(dim > 0 && nLayer > 0 && nHead > 0, `dimensions must be positive (hidden_size=${dim}, num_hidden_layers=${nLayer}, num_attention_heads=${nHead})`);
    check(nHeadKv > 0 && nHead % nHeadKv === 0, `num_attention_heads (${nHead}) must be a multiple of num_key_value_heads (${nHeadKv})`);
    check(Number.isInteger(headDim) && headDim > 0 && headDim % 2 === 0, `head dim ${headDim} must be a positive even integer`);
    check(cfg.rmsEps > 0, `rms_norm_eps must be positive, got ${cfg.rmsEps}`);
    check(nExpert === 0 || (cfg.nExpertUsed >= 1 && cfg.nExpertUsed <= nExpert), `num_experts_per_tok ${cfg.nExpertUsed} must be in [1, ${nExpert}]`);
    check(nExpert === 0 || cfg.expertFf > 0, 'an MoE model needs its expert width (intermediate_size / moe_intermediate_size)');
    check(nExpert > 0 || ffDim > 0, 'intermediate_size must be positive');
    check(cfg.vocabSize > 0 && cfg.ctxLen > 0, 'vocab_size and max_position_embeddings must be positive');
  }
  if (problems.length) throw new RangeError(`model: the ${mt} config in ${source} is not usable:\n  - ${problems.join('\n  - ')}`);
  return cfg;
}

/**
 * config.json's rope_scaling (or rope_parameters) as llama.cpp's convert_hf_to_gguf.py converts it
 * (conversion/base.py set_gguf_parameters; conversion/llama.py generate_extra_tensors) and llama.cpp then reads
 * the GGUF: rope_type (or type) 'linear' with a factor -> rope.scaling.type linear; 'yarn' with a factor ->
 * yarn with original_max_position_embeddings (the converter also writes extrapolation_factor, attention_factor,
 * beta_fast, beta_slow as rope.scaling.yarn_* keys, which llama.cpp reads for grok only, so they change nothing
 * here either); 'llama3' (llama only) -> no scaling type and the rope_freqs factors; 'default' -> none.
 */
function hfRopeScaling(rp: Record<string, unknown> | null | undefined, arch: Arch, ctxLen: number, problems: string[]): RopeScalingConfig | undefined {
  if (!rp || typeof rp !== 'object') return undefined;
  const type = rp.rope_type ?? rp.type;
  if (type === undefined || type === 'default') return undefined;
  const desc = `rope_scaling ${JSON.stringify(rp)}`;
  const num = (k: string, dflt?: number): number | undefined => {
    const v = rp[k];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) { problems.push(`${desc}: ${k} must be a positive number, got ${JSON.stringify(v)}`); return undefined; }
    return v;
  };
  if (type === 'linear' || type === 'yarn') {
    const factor = num('factor');
    if (factor === undefined) { problems.push(`${desc}: rope_type '${type}' needs a factor`); return undefined; }
    if (type === 'linear') return ropeScalingFrom('linear', Math.fround(factor), 1, ctxLen);
    const orig = rp.original_max_position_embeddings;
    if (typeof orig !== 'number' || !Number.isSafeInteger(orig) || orig < 1) {
      problems.push(`${desc}: yarn needs original_max_position_embeddings (a positive integer)`);
      return undefined;
    }
    return ropeScalingFrom('yarn', Math.fround(factor), 1, orig);
  }
  if (typeof type === 'string' && type.toLowerCase() === 'llama3') {
    if (arch !== 'llama') { problems.push(`${desc}: llama3 rope scaling applies to llama models only`); return undefined; }
    const llama3 = {
      factor: num('factor', 8) ?? 8, lowFreqFactor: num('low_freq_factor', 1) ?? 1, highFreqFactor: num('high_freq_factor', 4) ?? 4,
      origCtx: num('original_max_position_embeddings', 8192) ?? 8192,
    };
    if (llama3.lowFreqFactor === llama3.highFreqFactor) problems.push(`${desc}: low_freq_factor and high_freq_factor must differ`);
    return { ...NO_ROPE_SCALING, type: 'linear', llama3 };
  }
  problems.push(`${desc} is not supported (fuselm runs rope_type linear, yarn, llama3 and default)`);
  return undefined;
}

/**
 * llama3's per-pair RoPE factors as convert_hf_to_gguf.py computes them (conversion/llama.py,
 * generate_extra_tensors): freq_i = 1 / base^(2i/dim) in f32; wavelength 2 pi / freq_i; below
 * origCtx / highFreqFactor the factor is 1, above origCtx / lowFreqFactor it is `factor`, between them
 * 1 / ((1 - smooth) / factor + smooth) with smooth = (origCtx / wavelength - low) / (high - low).
 * ggml divides each pair's angle by its factor.
 */
export function llama3RopeFactors(base: number, dim: number, p: NonNullable<RopeScalingConfig['llama3']>): Float32Array {
  const out = new Float32Array(dim / 2);
  const lowWavelen = p.origCtx / p.lowFreqFactor, highWavelen = p.origCtx / p.highFreqFactor;
  for (let i = 0; i < dim / 2; i++) {
    const freq = Math.fround(1 / Math.fround(Math.pow(base, Math.fround((2 * i) / dim))));
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = p.factor;
    else {
      const smooth = (p.origCtx / wavelen - p.lowFreqFactor) / (p.highFreqFactor - p.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / p.factor + smooth);
    }
  }
  return out;
}

/** Which format each weight matrix gets on load: one for all, or per GGUF tensor name (undefined: keep). */
export type QuantizeSpec = QuantFormat | ((ggufName: string, shape: readonly number[]) => QuantFormat | undefined);

export interface HfWeightOptions {
  /** quantize weight matrices on load (the router and 1-D tensors are never quantized) */
  quantize?: QuantizeSpec;
  /**
   * permute llama's q/k rows from HF's rotate-half layout to GGUF's interleaved one (default true;
   * false keeps HF's layout, which is then right only with rope mode 'neox')
   */
  permute?: boolean;
}

/**
 * GGUF row order from HF's for one q/k projection (llama.cpp's LlamaModel.permute): within each
 * head of `headDim` rows, GGUF row 2i+j is HF row j*headDim/2 + i. Rows are `rowBytes` wide.
 */
export function permuteRopeRows(src: Uint8Array, nHead: number, rowBytes: number): Uint8Array {
  const rows = src.byteLength / rowBytes;
  if (!Number.isInteger(rows) || rows % nHead !== 0 || (rows / nHead) % 2 !== 0) {
    throw new RangeError(`permuteRopeRows: ${rows} rows do not split into ${nHead} heads of an even size`);
  }
  const hd = rows / nHead, half = hd / 2;
  const out = new Uint8Array(src.byteLength);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < half; i++) {
      for (let jj = 0; jj < 2; jj++) {
        const from = (h * hd + jj * half + i) * rowBytes, to = (h * hd + 2 * i + jj) * rowBytes;
        out.set(src.subarray(from, from + rowBytes), to);
      }
    }
  }
  return out;
}

interface Mapped { hf: string[]; shape: number[]; stacked: boolean; permuteHeads: number; vector: boolean; router: boolean }

/**
 * A safetensors checkpoint as a TensorSource under GGUF names. Tensors of the checkpoint
 * that no GGUF name maps to are reported as problems (silently dropping weights would give
 * wrong outputs), except rotary_emb.inv_freq buffers.
 */
export function hfTensorSource(ck: SafetensorsCheckpoint, c: Config, modelType: string, opts: HfWeightOptions = {}): TensorSource {
  const used = new Set<string>();
  const mixtral = modelType === 'mixtral';
  const permute = (opts.permute ?? true) && c.arch === 'llama';
  const qspec = opts.quantize;
  if (typeof qspec === 'string' && !(QUANT_FORMATS as readonly string[]).includes(qspec)) {
    throw new TypeError(`load: Expected one of ${QUANT_FORMATS.join(', ')} for opts.quantize but received ${qspec}`);
  }
  const infoOf = (n: string) => ck.index.get(n)?.tensors.get(n);

  const map = (name: string): Mapped | undefined => {
    const one = (hf: string, o: Partial<Mapped> = {}): Mapped | undefined => {
      const i = infoOf(hf);
      if (!i) return undefined;
      return { hf: [hf], shape: i.shape.slice(), stacked: false, permuteHeads: 0, vector: i.shape.length === 1, router: false, ...o };
    };
    if (name === 'token_embd.weight') return one('model.embed_tokens.weight');
    if (name === 'output_norm.weight') return one('model.norm.weight');
    if (name === 'output.weight') return one('lm_head.weight');
    const m = /^blk\.(\d+)\.(.+)$/.exec(name);
    if (!m) return undefined;
    const p = `model.layers.${m[1]}.`;
    const rest = m[2];
    const attn: Record<string, string> = { attn_q: 'q_proj', attn_k: 'k_proj', attn_v: 'v_proj', attn_output: 'o_proj' };
    const [base, kind] = rest.split(/\.(?=weight$|bias$)/);
    if (base in attn) {
      const heads = base === 'attn_q' ? c.nHead : base === 'attn_k' ? c.nHeadKv : 0;
      return one(`${p}self_attn.${attn[base]}.${kind}`, { permuteHeads: permute ? heads : 0 });
    }
    if (rest === 'attn_q_norm.weight') return one(`${p}self_attn.q_norm.weight`);
    if (rest === 'attn_k_norm.weight') return one(`${p}self_attn.k_norm.weight`);
    if (rest === 'attn_norm.weight') return one(`${p}input_layernorm.weight`);
    if (rest === 'ffn_norm.weight') return one(`${p}post_attention_layernorm.weight`);
    const dense: Record<string, string> = { ffn_gate: 'gate_proj', ffn_up: 'up_proj', ffn_down: 'down_proj' };
    if (base in dense && kind === 'weight') return one(`${p}mlp.${dense[base]}.weight`);
    if (rest === 'ffn_gate_inp.weight') return one(mixtral ? `${p}block_sparse_moe.gate.weight` : `${p}mlp.gate.weight`, { router: true });
    const ex = /^ffn_(gate|up|down)_exps\.weight$/.exec(rest);
    if (ex) {
      const names = Array.from({ length: c.nExpert }, (_, e) => (mixtral
        ? `${p}block_sparse_moe.experts.${e}.${{ gate: 'w1', up: 'w3', down: 'w2' }[ex[1]]}.weight`
        : `${p}mlp.experts.${e}.${ex[1]}_proj.weight`));
      const infos = names.map(infoOf);
      if (infos.some((i) => !i)) return undefined;
      const s0 = infos[0]!.shape, t0 = infos[0]!.dtypeName;
      if (infos.some((i) => i!.shape.length !== 2 || i!.shape[0] !== s0[0] || i!.shape[1] !== s0[1] || i!.dtypeName !== t0)) {
        throw new RangeError(`the experts of ${p}${ex[1]} differ in shape or dtype`);
      }
      return { hf: names, shape: [c.nExpert, ...s0], stacked: true, permuteHeads: 0, vector: false, router: false };
    }
    const sh = /^ffn_(gate|up|down)_shexp\.weight$/.exec(rest);
    if (sh) return one(`${p}mlp.shared_expert.${sh[1]}_proj.weight`);
    if (rest === 'ffn_gate_inp_shexp.weight') {
      const r = one(`${p}mlp.shared_expert_gate.weight`, { vector: true });
      if (r && r.shape.length === 2 && r.shape[0] === 1) r.shape = [r.shape[1]]; // HF [1, dim] -> GGUF [dim]
      return r;
    }
    return undefined;
  };

  const targetOf = (name: string, mp: Mapped): QuantFormat | undefined => {
    if (!qspec || mp.vector || mp.router || mp.shape.length < 2) return undefined;
    return typeof qspec === 'function' ? qspec(name, mp.shape) : qspec;
  };
  const cache = new Map<string, Mapped | undefined>();
  const lookup = (name: string) => {
    if (!cache.has(name)) cache.set(name, map(name));
    return cache.get(name);
  };

  // llama3: the converter's extra tensor, computed from config.json's rope parameters
  const l3 = c.ropeScaling?.llama3;
  const ropeFreqs = l3 ? Tensor.from(llama3RopeFactors(c.ropeBase, c.headDim, l3), [c.headDim / 2]) : undefined;
  return {
    source: ck.source,
    info(name) {
      if (name === 'rope_freqs.weight') return ropeFreqs ? { shape: [c.headDim / 2], dtype: 'f32', typeName: 'F32' } : undefined;
      const mp = lookup(name);
      if (!mp) return undefined;
      const i = infoOf(mp.hf[0])!;
      const src = SAFETENSORS_FUSELM[i.dtypeName];
      const dt: DType | undefined = !src ? undefined : mp.vector ? 'f32' : targetOf(name, mp) ?? src;
      return { shape: mp.shape, dtype: dt, typeName: i.dtypeName };
    },
    tensor(name) {
      if (name === 'rope_freqs.weight' && ropeFreqs) return ropeFreqs;
      const mp = lookup(name)!;
      for (const h of mp.hf) used.add(h);
      const parts = mp.hf.map((h) => safetensorsTensor(ck.index.get(h)!, h));
      if (mp.vector) {
        const t = parts[0];
        let f = t.dtype === 'f32' ? t : dequantize(t.reshape([1, t.numel]));
        f = f.reshape([t.numel]);
        if (mp.permuteHeads) f = Tensor.fromBytes(permuteRopeRows(f.bytes(), mp.permuteHeads, 4), 'f32', [t.numel]);
        return f;
      }
      const fmt = targetOf(name, mp);
      const cols = mp.shape[mp.shape.length - 1];
      const out = (t: Tensor): Uint8Array => {
        let b = t.bytes();
        if (mp.permuteHeads) b = permuteRopeRows(b, mp.permuteHeads, cols * DTYPES[t.dtype].blockBytes);
        if (!fmt || fmt === t.dtype) return b;
        const be = DTYPES[fmt].blockElems;
        if (cols % be !== 0) throw new RangeError(`cannot quantize to ${fmt}: ${cols} columns are not a multiple of its block of ${be}`);
        const rows = t.numel / cols;
        const x = t.dtype === 'f32' ? Tensor.fromBytes(b, 'f32', [rows, cols]) : dequantize(Tensor.fromBytes(b, t.dtype, [rows, cols]));
        return quantize(x, fmt).bytes();
      };
      const dtype = fmt ?? parts[0].dtype;
      if (!mp.stacked) {
        if (!fmt && !mp.permuteHeads) return parts[0];
        return Tensor.fromBytes(out(parts[0]), dtype, mp.shape);
      }
      const res = Tensor.zeros(mp.shape, dtype);
      const dst = res.bytes();
      let at = 0;
      for (const t of parts) { const b = out(t); dst.set(b, at); at += b.byteLength; }
      return res;
    },
    problems() {
      const unused = [...ck.index.keys()].filter((n) => !used.has(n) && !n.endsWith('rotary_emb.inv_freq'));
      if (unused.length === 0) return [];
      return [`the checkpoint has ${unused.length} tensor(s) a ${modelType} model in fuselm does not use `
        + `(their weights would be dropped): ${unused.slice(0, 6).join(', ')}${unused.length > 6 ? ', ...' : ''}`];
    },
  };
}

export interface HfCheckpoint {
  config: Config;
  modelType: string;
  /** config.json, parsed */
  json: Record<string, unknown>;
  checkpoint: SafetensorsCheckpoint;
  dir: string;
}

/**
 * Opens an HF checkpoint: `where` is its directory, its config.json, its index .json or a
 * .safetensors file next to config.json.
 */
export function readHf(where: string, opts: SafetensorsReadOptions = {}): HfCheckpoint {
  const isDir = fs.statSync(where).isDirectory();
  const dir = isDir ? where : path.dirname(where);
  const cfgPath = path.join(dir, 'config.json');
  if (!fs.existsSync(cfgPath)) throw new RangeError(`model: no config.json next to '${where}'; a safetensors checkpoint needs its Hugging Face config.json`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new RangeError(`model: '${cfgPath}' is not valid JSON: ${(e as Error).message}`);
  }
  const config = hfConfig(json, `'${cfgPath}'`);
  const checkpoint = readCheckpoint(isDir || path.basename(where) === 'config.json' ? dir : where, { mmap: opts.mmap, readFallback: opts.readFallback });
  return { config, modelType: String(json.model_type), json, checkpoint, dir };
}
