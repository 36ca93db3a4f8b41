// Config: a model's hyperparameters, read from GGUF metadata the way llama.cpp
// reads them (llama-model.cpp, llm_load_hparams): `{arch}.<key>`, with llama.cpp's
// defaults where a key is optional, and its per-architecture constants (rope type,
// whether routed expert weights are renormalized).
import { GgufFile, GgufType, ggufGet, ggufPlain } from '../formats/gguf';

export type Arch = 'llama' | 'qwen2' | 'qwen3' | 'qwen2moe' | 'qwen3moe' | 'olmoe';
export const ARCHS: readonly Arch[] = ['llama', 'qwen2', 'qwen3', 'qwen2moe', 'qwen3moe', 'olmoe'];

/** How rotary embeddings pair dimensions: 'normal' rotates (2i, 2i+1), 'neox' rotates (i, i + d/2). */
export type RopeType = 'normal' | 'neox';

/** Per-architecture constants llama.cpp hard-codes (llama_model_rope_type, build_moe_ffn's norm_w). */
export const ARCH_TRAITS: Readonly<Record<Arch, { rope: RopeType; normTopkProb: boolean }>> = {
  llama: { rope: 'normal', normTopkProb: true }, // Mixtral renormalizes the top-k softmax weights
  qwen2: { rope: 'neox', normTopkProb: false },
  qwen3: { rope: 'neox', normTopkProb: false },
  qwen2moe: { rope: 'neox', normTopkProb: false },
  qwen3moe: { rope: 'neox', normTopkProb: true },
  olmoe: { rope: 'neox', normTopkProb: false },
};

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
