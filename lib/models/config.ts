// Config: a model's hyperparameters, read from GGUF metadata the way llama.cpp
// reads them (llama-model.cpp, llm_load_hparams): `{arch}.<key>`, with llama.cpp's
// defaults where a key is optional, and its per-architecture constants (rope type,
// whether routed expert weights are renormalized).
import { GgufFile, GgufType, ggufGet, ggufPlain } from '../formats/gguf';

export type Arch = 'llama' | 'qwen2' | 'qwen3' | 'qwen2moe' | 'qwen3moe' | 'olmoe';
export const ARCHS: readonly Arch[] = ['llama', 'qwen2', 'qwen3', 'qwen2moe', 'qwen3moe', 'olmoe'];

/** How rotary embeddings pair dimensions: 'normal' rotates (2i, 2i+1), 'neox' rotates (i, i + d/2). */
export type RopeType = 'normal' | 'neox';

/** Per-architecture constants llama.cpp hard-codes. */
export interface ArchTraits {
  /** llama_model_rope_type */
  rope: RopeType;
  /** build_moe_ffn's norm_w: renormalize the top-k routing weights (the default of expert_weights_norm) */
  normTopkProb: boolean;
  /**
   * the layer tensors (blk.N.<name>) the architecture needs beyond those every one has (llama.cpp
   * refuses a file without them); each group is one problem when any of it is missing
   */
  layerTensors: readonly (readonly string[])[];
  /** true when the model may carry rope_freqs.weight (llama3-style RoPE factors; llama.cpp's llama graph only) */
  ropeFreqs: boolean;
}

const QK_NORMS = [['attn_q_norm.weight', 'attn_k_norm.weight']] as const;

export const ARCH_TRAITS: Readonly<Record<Arch, ArchTraits>> = {
  llama: { rope: 'normal', normTopkProb: true, layerTensors: [], ropeFreqs: true }, // Mixtral renormalizes the top-k softmax weights
  qwen2: { rope: 'neox', normTopkProb: false, layerTensors: [['attn_q.bias']], ropeFreqs: false },
  qwen3: { rope: 'neox', normTopkProb: false, layerTensors: QK_NORMS, ropeFreqs: false },
  qwen2moe: { rope: 'neox', normTopkProb: false, layerTensors: [['attn_q.bias']], ropeFreqs: false },
  qwen3moe: { rope: 'neox', normTopkProb: true, layerTensors: QK_NORMS, ropeFreqs: false },
  olmoe: { rope: 'neox', normTopkProb: false, layerTensors: QK_NORMS, ropeFreqs: false },
};

/**
 * RoPE scaling as llama.cpp derives its context parameters from the GGUF keys (src/llama-model.cpp
 * load_hparams: rope.scaling.type, rope.scaling.factor / rope.scale_linear, rope.scaling.attn_factor,
 * rope.scaling.original_context_length; src/llama-context.cpp, the llama_context constructor: freq_scale,
 * yarn_ext_factor, yarn_attn_factor), in the rope kernel's terms (lib/ops/rope.ts). The per-pair factors of
 * llama3-style scaling are a tensor (Weights.ropeFreqs), not part of the Config.
 */
export interface RopeScalingConfig {
  /** rope.scaling.type: 'none' (no scaling), 'linear' (llama.cpp's default), 'yarn' */
  type: 'none' | 'linear' | 'yarn';
  /** 1 / rope.scaling.factor (1 when the factor is absent or 0, or the type is 'none') */
  freqScale: number;
  /** 1 for 'yarn', else 0 */
  extFactor: number;
  /** the magnitude the kernel puts on cos/sin besides YaRN's own 1 + 0.1 ln(1/freqScale) */
  attnFactor: number;
  betaFast: number;
  betaSlow: number;
  /** rope.scaling.original_context_length, default context_length */
  origCtx: number;
  /** HF checkpoints with rope_type 'llama3' only: the parameters from which the loader computes the
   *  rope_freqs factors as llama.cpp's converter does (lib/models/hf.ts llama3RopeFactors); GGUF files carry
   *  the factors as the rope_freqs.weight tensor instead */
  llama3?: { factor: number; lowFreqFactor: number; highFreqFactor: number; origCtx: number };
}

/** Unscaled RoPE. */
export const NO_ROPE_SCALING: Readonly<RopeScalingConfig> = Object.freeze({
  type: 'none', freqScale: 1, extFactor: 0, attnFactor: 1, betaFast: 32, betaSlow: 1, origCtx: 0,
});

/**
 * llama.cpp's rule (llama-context.cpp) from the type, the factor (0 when absent), rope.scaling.attn_factor
 * (default 1) and the original context: type 'none' never scales; yarn_ext_factor is 1 for 'yarn', 0
 * otherwise; with YaRN, yarn_attn_factor = get_mscale(factor) / (1 + 0.1 ln factor) (get_mscale(s) =
 * s <= 1 ? 1 : 1 + 0.1 ln s: the division cancels the factor ggml's rope_yarn applies itself, so the
 * net magnitude is get_mscale(factor)); then times rope.scaling.attn_factor. beta_fast 32, beta_slow 1:
 * llama.cpp reads the rope.scaling.yarn_* keys only for grok, never for the architectures fuselm runs.
 */
export function ropeScalingFrom(type: RopeScalingConfig['type'], factor: number, ropeAttnFactor: number, origCtx: number): RopeScalingConfig {
  const freqScale = type === 'none' || factor === 0 ? 1 : Math.fround(1 / factor);
  const extFactor = type === 'yarn' ? 1 : 0;
  let attnFactor = 1;
  if (extFactor !== 0) {
    const f = 1 / freqScale;
    const mscale = f <= 1 ? 1 : 0.1 * Math.log(f) + 1;
    attnFactor = mscale / (1 + 0.1 * Math.log(f));
  }
  attnFactor *= ropeAttnFactor;
  return { type, freqScale, extFactor, attnFactor, betaFast: 32, betaSlow: 1, origCtx };
}

export interface Config {
  arch: Arch;
  /** n_embd: the residual stream width */
  dim: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  /** per-head width of q and k (attention.key_length, default dim / nHead) */
  headDim: number;
  /** per-head width of v (attention.value_length, default headDim) */
  headDimV: number;
  /** dense FFN hidden width (0 in MoE-only models) */
  ffDim: number;
  vocabSize: number;
  /** context the model was trained with (context_length) */
  ctxLen: number;
  ropeBase: number;
  /** rotated dims per head (rope.dimension_count, default headDim) */
  ropeDim: number;
  ropeType: RopeType;
  /** RoPE scaling (linear, YaRN); undefined is none. llama3-style per-pair factors are Weights.ropeFreqs. */
  ropeScaling?: RopeScalingConfig;
  rmsEps: number;
  /** 0 for a dense model */
  nExpert: number;
  nExpertUsed: number;
  /** routed expert FFN width (expert_feed_forward_length, default ffDim) */
  expertFf: number;
  /** shared expert FFN width (expert_shared_feed_forward_length, 0 when none) */
  sharedExpertFf: number;
  /** renormalize the top-k routing weights to sum to 1 */
  normTopkProb: boolean;
  /**
   * pooling_type (llama.cpp's LLAMA_POOLING_TYPE_*: 0 none, 1 mean, 2 cls, 3 last, 4 rank) as
   * Model.embed's default pooling; undefined when the file has none
   */
  pooling?: 'none' | 'mean' | 'cls' | 'last';
}

function num(f: GgufFile, key: string, types: GgufType[]): number | undefined {
  const kv = f.metadata.get(key);
  if (!kv) return undefined;
  if (kv.type === GgufType.ARRAY) {
    // per-layer arrays (e.g. feed_forward_length): fuselm needs them uniform
    const items = ggufPlain(kv.value) as number[];
    if (items.length === 0 || items.some((x) => x !== items[0])) {
      throw new RangeError(`model: ${key} varies per layer ([${items.slice(0, 8).join(', ')}${items.length > 8 ? ', ...' : ''}]), which fuselm does not support`);
    }
    return Number(items[0]);
  }
  if (!types.includes(kv.type)) {
    const names = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'];
    throw new TypeError(`model: ${key} has type ${names[kv.type]}, expected ${types.map((t) => names[t]).join(' or ')} (as llama.cpp reads it)`);
  }
  return Number(ggufPlain(kv.value));
}

const INT = [GgufType.UINT32, GgufType.INT32, GgufType.UINT64, GgufType.UINT16, GgufType.UINT8];
const FLOAT = [GgufType.FLOAT32, GgufType.FLOAT64];

/** Reads the Config; gathers every problem into one error. */
export function readConfig(f: GgufFile): Config {
  const problems: string[] = [];
  const archV = ggufGet(f, 'general.architecture');
  if (typeof archV !== 'string') throw new RangeError('model: the file has no general.architecture string; is it a model file?');
  if (!ARCHS.includes(archV as Arch)) {
    throw new RangeError(`model: architecture '${archV}' is not supported (supported: ${ARCHS.join(', ')})`);
  }
  const arch = archV as Arch;
  const get = (k: string, types: GgufType[], required: boolean, dflt?: number): number => {
    let v: number | undefined;
    try { v = num(f, `${arch}.${k}`, types); } catch (e) { problems.push((e as Error).message); return dflt ?? 0; }
    if (v === undefined) {
      if (required) problems.push(`missing ${arch}.${k}`);
      return dflt ?? 0;
    }
    return v;
  };
  const dim = get('embedding_length', INT, true);
  const nLayer = get('block_count', INT, true);
  const nHead = get('attention.head_count', INT, true);
  const nHeadKv = get('attention.head_count_kv', INT, false, nHead);
  const headDim = get('attention.key_length', INT, false, nHead > 0 ? dim / nHead : 0);
  const headDimV = get('attention.value_length', INT, false, headDim);
  const nExpert = get('expert_count', INT, false, 0);
  const ffDim = get('feed_forward_length', INT, nExpert === 0, 0);
  const cfg: Config = {
    arch, dim, nLayer, nHead, nHeadKv, headDim, headDimV, ffDim,
    vocabSize: 0,
    ctxLen: get('context_length', INT, true),
    ropeBase: get('rope.freq_base', FLOAT, false, 10000),
    ropeDim: get('rope.dimension_count', INT, false, headDim),
    ropeType: ARCH_TRAITS[arch].rope,
    rmsEps: get('attention.layer_norm_rms_epsilon', FLOAT, true),
    nExpert,
    nExpertUsed: get('expert_used_count', INT, nExpert > 0, 0),
    // llama.cpp sizes llama (Mixtral) and olmoe experts by feed_forward_length, the Qwen MoEs by expert_feed_forward_length
    expertFf: arch === 'llama' || arch === 'olmoe' ? ffDim : get('expert_feed_forward_length', INT, false, ffDim),
    sharedExpertFf: get('expert_shared_feed_forward_length', INT, false, 0),
    normTopkProb: ARCH_TRAITS[arch].normTopkProb,
  };
  cfg.ropeScaling = readRopeScaling(f, arch, cfg.ctxLen, problems);
  const pt = get('pooling_type', INT, false, -1);
  if (pt >= 0) {
    const POOLINGS = ['none', 'mean', 'cls', 'last'] as const;
    if (pt < POOLINGS.length) cfg.pooling = POOLINGS[pt];
    else problems.push(`pooling_type ${pt} is not supported (0 none, 1 mean, 2 cls, 3 last)`);
  }
  const wn = f.metadata.get(`${arch}.expert_weights_norm`);
  if (wn && typeof wn.value === 'boolean') cfg.normTopkProb = wn.value;
  const tokens = f.metadata.get('tokenizer.ggml.tokens');
  const vs = num(f, `${arch}.vocab_size`, INT);
  cfg.vocabSize = vs ?? (tokens && tokens.type === GgufType.ARRAY ? (tokens.value as { items: unknown[] }).items.length : 0);
  if (problems.length === 0) {
    const check = (ok: boolean, msg: string) => { if (!ok) problems.push(msg); };
    check(dim > 0 && nLayer > 0 && nHead > 0, `dimensions must be positive (embedding_length=${dim}, block_count=${nLayer}, head_count=${nHead})`);
    check(nHeadKv > 0 && nHead % nHeadKv === 0, `head_count (${nHead}) must be a multiple of head_count_kv (${nHeadKv})`);
    check(Number.isInteger(headDim) && headDim > 0, `head dim ${headDim} (embedding_length / head_count) is not a positive integer`);
    check(cfg.ropeDim > 0 && cfg.ropeDim <= headDim && cfg.ropeDim % 2 === 0, `rope.dimension_count ${cfg.ropeDim} must be even and <= the head dim ${headDim}`);
    const rs = cfg.ropeScaling;
    check(!rs || (rs.freqScale > 0 && Number.isFinite(rs.freqScale) && rs.attnFactor > 0 && Number.isFinite(rs.attnFactor)),
      `rope scaling gives freq_scale ${rs?.freqScale} and attn_factor ${rs?.attnFactor}; both must be finite and > 0`);
    check(!rs || rs.extFactor === 0 || rs.origCtx >= 1, `rope.scaling.original_context_length must be >= 1 for YaRN, got ${rs?.origCtx}`);
    check(cfg.rmsEps > 0, `attention.layer_norm_rms_epsilon must be positive, got ${cfg.rmsEps}`);
    check(nExpert === 0 || (cfg.nExpertUsed >= 1 && cfg.nExpertUsed <= nExpert), `expert_used_count ${cfg.nExpertUsed} must be in [1, expert_count=${nExpert}]`);
    check(nExpert === 0 || cfg.expertFf > 0, 'an MoE model needs expert_feed_forward_length (or feed_forward_length)');
    check(cfg.vocabSize > 0, 'no vocabulary: tokenizer.ggml.tokens is missing');
  }
  if (problems.length) {
    throw new RangeError(`model: the ${arch} hyperparameters in ${f.source ?? 'this file'} are not usable:\n  - ${problems.join('\n  - ')}`);
  }
  return cfg;
}

const ROPE_SCALING_TYPES = ['none', 'linear', 'yarn'] as const;

/**
 * `{arch}.rope.scaling.*` as llama.cpp reads it (src/llama-model.cpp, load_hparams): the type string
 * (default 'linear'), the factor from rope.scaling.factor or else the older rope.scale_linear,
 * rope.scaling.attn_factor (default 1), rope.scaling.original_context_length (default context_length);
 * then ropeScalingFrom. Undefined when nothing scales (so unscaled files keep the plain kernel call).
 */
function readRopeScaling(f: GgufFile, arch: Arch, ctxLen: number, problems: string[]): RopeScalingConfig | undefined {
  const key = (k: string) => `${arch}.rope.scaling.${k}`;
  const t = f.metadata.get(key('type'));
  let type: RopeScalingConfig['type'] = 'linear';
  if (t) {
    if (t.type !== GgufType.STRING) { problems.push(`${key('type')} must be a string`); return undefined; }
    const v = String(t.value);
    if (!(ROPE_SCALING_TYPES as readonly string[]).includes(v)) {
      problems.push(`${key('type')} '${v}' is not supported (fuselm runs ${ROPE_SCALING_TYPES.join(', ')}; `
        + `llama3-style scaling comes as the rope_freqs.weight tensor${v === 'longrope' ? '; longrope\'s rope_long/rope_short factors are not implemented' : ''})`);
      return undefined;
    }
    type = v as RopeScalingConfig['type'];
  }
  const read = (k: string, types: GgufType[]): number | undefined => {
    try { return num(f, k, types); } catch (e) { problems.push((e as Error).message); return undefined; }
  };
  const factor = read(key('factor'), FLOAT) ?? read(`${arch}.rope.scale_linear`, FLOAT) ?? 0;
  const attn = read(key('attn_factor'), FLOAT) ?? 1;
  const orig = read(key('original_context_length'), INT) ?? ctxLen;
  if (!Number.isFinite(factor) || factor < 0) problems.push(`rope scaling factor ${factor} must be a finite number >= 0`);
  const rs = ropeScalingFrom(type, factor, attn, orig);
  const plain = rs.freqScale === 1 && rs.extFactor === 0 && rs.attnFactor === 1;
  return plain ? undefined : rs;
}
