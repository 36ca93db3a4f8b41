// Synthetic GGUF models: seeded random weights in the exact tensor layout and
// metadata llama.cpp expects, with a tiny tokenizer (SPM with byte fallback, or
// GPT-2 byte-level BPE). Used by the oracle tests, the demo and the benchmarks.
// Weights are scaled so logits spread over several units (a real top-1 margin)
// without saturating softmax.
import { DType } from '../dtype';
import { Tensor, toHalf } from '../tensor';
import { GgufMetaInput, GgufTensorInput, gguf, writeGguf } from '../formats/gguf-writer';
import { Arch } from './config';
import { TokenType, GPT2_BYTE_TO_CHAR } from '../tokenizer';

export interface SyntheticSpec {
  arch: Arch;
  dim: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  ffDim: number;
  /** routed experts (0: dense) */
  nExpert?: number;
  nExpertUsed?: number;
  expertFf?: number;
  /** shared expert width (qwen2moe) */
  sharedExpertFf?: number;
  ctxLen?: number;
  ropeBase?: number;
  rmsEps?: number;
  /** 'llama' (SPM) or 'gpt2' (BPE); default: llama for arch llama, gpt2 otherwise */
  tokenizer?: 'llama' | 'gpt2';
  /** extra normal tokens beyond the byte tokens and a few words (rounds the vocab) */
  extraTokens?: number;
  /** weight type of the 2-D matrices (default f32); norms stay f32 */
  type?: DType;
  /** per-tensor type overrides by name suffix, e.g. { 'ffn_down.weight': 'q6_k' } */
  typeOverrides?: Record<string, DType>;
  /** write output.weight (default true); false ties it to token_embd */
  untied?: boolean;
  seed?: number;
  /**
   * weight matrices from a cheap uniform generator of the same variance instead of Gaussians
   * (about 20x faster: for benchmark models of a billion weights, where only speed is measured)
   */
  fastWeights?: boolean;
  /** more metadata, written as given after the rest (e.g. `{arch}.rope.scaling.type` and the other RoPE scaling keys) */
  extraMetadata?: Record<string, GgufMetaInput>;
  /** llama3-style per-pair RoPE factors, written as the f32 tensor rope_freqs.weight [headDim/2] */
  ropeFreqs?: Float32Array;
  /** quantizer for quantized types: (f32 [rows, cols], type) => Tensor of raw blocks */
  quantize?: (x: Tensor, type: DType) => Tensor;
}

// Math's functions held locally: under jest's vm context every `Math.x` lookup in a hot
// loop goes through the sandbox's global and costs ~20x; values are identical either way
const { imul, sqrt, log, cos, PI } = Math;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['the', 'of', 'and', 'to', 'in', 'is', 'that', 'for', 'it', 'as', 'with', 'was', 'on', 'be', 'at', 'by',
  'this', 'had', 'not', 'are', 'but', 'from', 'or', 'have', 'an', 'they', 'which', 'one', 'you', 'were', 'her', 'all',
  'hello', 'world', 'model', 'token', 'fuse', 'kernel', 'node', 'fast', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog'];

/** The tokenizer metadata of a synthetic model. */
export function syntheticTokenizer(kind: 'llama' | 'gpt2', extra = 0): Record<string, GgufMetaInput> {
  if (kind === 'llama') {
    const tokens = ['<unk>', '<s>', '</s>'];
    const types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
    const scores = [0, 0, 0];
    for (let b = 0; b < 256; b++) { tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`); types.push(TokenType.BYTE); scores.push(0); }
    const pieces = new Set<string>(['▁']);
    for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'"-:;()') pieces.add(c);
    for (const w of WORDS) {
      for (let i = 2; i <= w.length; i++) { pieces.add(w.slice(0, i)); pieces.add('▁' + w.slice(0, i)); }
      pieces.add('▁' + w[0]);
    }
    for (let i = 0; pieces.size < pieces.size + extra && i < extra; i++) pieces.add(`▁x${i}`);
    let s = -1;
    for (const p of pieces) { tokens.push(p); types.push(TokenType.NORMAL); scores.push(s); s -= 0.25 + (p.length % 3) * 0.01; }
    return {
      'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': gguf.strs(tokens), 'tokenizer.ggml.scores': gguf.f32s(scores),
      'tokenizer.ggml.token_type': gguf.i32s(types), 'tokenizer.ggml.bos_token_id': gguf.u32(1),
      'tokenizer.ggml.eos_token_id': gguf.u32(2), 'tokenizer.ggml.unknown_token_id': gguf.u32(0),
      'tokenizer.ggml.add_bos_token': true, 'tokenizer.ggml.add_eos_token': false,
    };
  }
  const G = (s: string) => Array.from(new TextEncoder().encode(s), (b) => GPT2_BYTE_TO_CHAR[b]).join('');
  const tokens = GPT2_BYTE_TO_CHAR.slice();
  const have = new Set(tokens);
  const merges: string[] = [];
  for (const w0 of WORDS) {
    for (const w of [w0, ' ' + w0]) {
      let cur = G(w[0]);
      for (const ch of w.slice(1)) {
        const nxt = G(ch);
        const m = `${cur} ${nxt}`;
        cur += nxt;
        if (!have.has(cur)) { merges.push(m); tokens.push(cur); have.add(cur); }
      }
    }
  }
  for (let i = 0; i < extra; i++) tokens.push(G(` x${i}q`));
  const eos = tokens.length;
  tokens.push('<|endoftext|>', '<|im_start|>', '<|im_end|>');
  const types = tokens.map((_, i) => (i >= eos ? TokenType.CONTROL : TokenType.NORMAL));
  return {
    'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.pre': 'qwen2', 'tokenizer.ggml.tokens': gguf.strs(tokens),
    'tokenizer.ggml.token_type': gguf.i32s(types), 'tokenizer.ggml.merges': gguf.strs(merges),
    'tokenizer.ggml.bos_token_id': gguf.u32(eos), 'tokenizer.ggml.eos_token_id': gguf.u32(eos + 2),
    'tokenizer.ggml.padding_token_id': gguf.u32(eos), 'tokenizer.ggml.add_bos_token': false,
    'tokenizer.chat_template': "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
  };
}

/** Builds the metadata and tensors of a synthetic model (see writeSyntheticModel). */
export function syntheticModel(spec: SyntheticSpec): { metadata: Record<string, GgufMetaInput>; tensors: GgufTensorInput[] } {
  if (!spec || typeof spec !== 'object') throw new TypeError('syntheticModel: Expected a spec object for spec');
  const a = spec.arch;
  if (!['llama', 'qwen2', 'qwen3', 'qwen2moe', 'qwen3moe', 'olmoe'].includes(a)) {
    throw new RangeError(`syntheticModel: Expected one of llama, qwen2, qwen3, qwen2moe, qwen3moe, olmoe for spec.arch but received ${String(a)}`);
  }
  const int = (v: unknown, name: string, lo: number, hi: number, optional = false) => {
    if (optional && v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
      throw new RangeError(`syntheticModel: Expected integer in [${lo}, ${hi}] for spec.${name} but received ${String(v)}`);
    }
  };
  int(spec.dim, 'dim', 1, 65536); int(spec.nLayer, 'nLayer', 1, 1024); int(spec.nHead, 'nHead', 1, 1024);
  int(spec.nHeadKv, 'nHeadKv', 1, spec.nHead); int(spec.ffDim, 'ffDim', 1, 1 << 20);
  int(spec.nExpert, 'nExpert', 0, 256, true); int(spec.nExpertUsed, 'nExpertUsed', 1, Math.max(1, spec.nExpert ?? 1), true);
  int(spec.expertFf, 'expertFf', 1, 1 << 20, true); int(spec.sharedExpertFf, 'sharedExpertFf', 0, 1 << 20, true);
  int(spec.extraTokens, 'extraTokens', 0, 1 << 20, true); int(spec.seed, 'seed', 0, 2 ** 32 - 1, true);
  if (spec.dim % spec.nHead !== 0 || spec.nHead % spec.nHeadKv !== 0) {
    throw new RangeError(`syntheticModel: dim (${spec.dim}) must be a multiple of nHead (${spec.nHead}), and nHead of nHeadKv (${spec.nHeadKv})`);
  }
  const tokKind = spec.tokenizer ?? (a === 'llama' ? 'llama' : 'gpt2');
  const tokMeta = syntheticTokenizer(tokKind, spec.extraTokens ?? 0);
  const vocab = ((tokMeta['tokenizer.ggml.tokens'] as { value: { items: string[] } }).value.items).length;
  const nExpert = spec.nExpert ?? 0;
  const headDim = spec.dim / spec.nHead;
  const metadata: Record<string, GgufMetaInput> = {
    'general.architecture': a, 'general.name': `fuselm synthetic ${a}`,
    [`${a}.context_length`]: gguf.u32(spec.ctxLen ?? 2048),
    [`${a}.embedding_length`]: gguf.u32(spec.dim),
    [`${a}.block_count`]: gguf.u32(spec.nLayer),
    [`${a}.feed_forward_length`]: gguf.u32(spec.ffDim),
    [`${a}.attention.head_count`]: gguf.u32(spec.nHead),
    [`${a}.attention.head_count_kv`]: gguf.u32(spec.nHeadKv),
    [`${a}.rope.freq_base`]: gguf.f32(spec.ropeBase ?? 10000),
    [`${a}.rope.dimension_count`]: gguf.u32(headDim),
    [`${a}.attention.layer_norm_rms_epsilon`]: gguf.f32(spec.rmsEps ?? 1e-5),
    ...tokMeta,
    ...(spec.extraMetadata ?? {}),
  };
  if (nExpert > 0) {
    metadata[`${a}.expert_count`] = gguf.u32(nExpert);
    metadata[`${a}.expert_used_count`] = gguf.u32(spec.nExpertUsed ?? 2);
    if (a !== 'llama' && a !== 'olmoe') metadata[`${a}.expert_feed_forward_length`] = gguf.u32(spec.expertFf ?? spec.ffDim);
    if (spec.sharedExpertFf) metadata[`${a}.expert_shared_feed_forward_length`] = gguf.u32(spec.sharedExpertFf);
  }
  const r = rng(spec.seed ?? 1);
  const gauss = () => sqrt(-2 * log(r() + 1e-12)) * cos(2 * PI * r());
  const tensors: GgufTensorInput[] = [];
  const wtype = spec.type ?? 'f32';
  const typeFor = (name: string) => {
    for (const [suf, t] of Object.entries(spec.typeOverrides ?? {})) if (name.endsWith(suf)) return t;
    return wtype;
  };
  const encode = (name: string, data: Float32Array, shape: number[], type: DType): GgufTensorInput => {
    if (type === 'f32') return { name, shape, type, data: Tensor.from(data, shape) };
    if (type === 'f16' || type === 'bf16') return { name, shape, type, data: toHalf(data, shape, type) };
    if (!spec.quantize) throw new Error(`syntheticModel: tensor '${name}' of type ${type} needs a quantizer (pass spec.quantize, e.g. fuselm's quantize)`);
    const cols = shape[shape.length - 1];
    const q = spec.quantize(Tensor.from(data, [data.length / cols, cols]), type);
    return { name, shape, type, data: q.bytes() };
  };
  // a matrix [rows, cols] with entries N(0, scale^2 / cols): unit-variance outputs for unit inputs
  const mat = (name: string, shape: number[], gain = 1, forceType?: DType) => {
    const n = shape.reduce((x, y) => x * y, 1);
    const cols = shape[shape.length - 1];
    const d = new Float32Array(n);
    const s = gain / Math.sqrt(cols);
    if (spec.fastWeights) {
      // xorshift32, uniform in [-sqrt(3) s, sqrt(3) s): variance s^2
      let x = (Math.floor(r() * 4294967295) | 1) >>> 0;
      const u = (2 * sqrt(3) * s) / 4294967296, off = sqrt(3) * s;
      for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; d[i] = (x >>> 0) * u - off; }
    } else {
      for (let i = 0; i < n; i++) d[i] = gauss() * s;
    }
    tensors.push(encode(name, d, shape, forceType ?? typeFor(name)));
  };
  const norm = (name: string, n: number) => {
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = 1 + 0.1 * gauss();
    tensors.push({ name, shape: [n], type: 'f32', data: Tensor.from(d, [n]) });
  };
  const vec = (name: string, n: number, s: number) => {
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = s * gauss();
    tensors.push({ name, shape: [n], type: 'f32', data: Tensor.from(d, [n]) });
  };
  // embeddings: unit-ish rows (rmsnorm follows); the output head spreads logits by ~3 per unit
  mat('token_embd.weight', [vocab, spec.dim], Math.sqrt(spec.dim));
  const qd = spec.nHead * headDim, kvd = spec.nHeadKv * headDim;
  for (let l = 0; l < spec.nLayer; l++) {
    const p = `blk.${l}.`;
    norm(p + 'attn_norm.weight', spec.dim);
    mat(p + 'attn_q.weight', [qd, spec.dim], 2);
    mat(p + 'attn_k.weight', [kvd, spec.dim], 2);
    mat(p + 'attn_v.weight', [kvd, spec.dim]);
    if (a === 'qwen2' || a === 'qwen2moe') {
      vec(p + 'attn_q.bias', qd, 0.2); vec(p + 'attn_k.bias', kvd, 0.2); vec(p + 'attn_v.bias', kvd, 0.2);
    }
    if (a === 'qwen3' || a === 'qwen3moe') { norm(p + 'attn_q_norm.weight', headDim); norm(p + 'attn_k_norm.weight', headDim); }
    // olmoe normalizes the whole q and k projections (llama.cpp expects [n_embd] for both: OLMoE has no GQA)
    if (a === 'olmoe') { norm(p + 'attn_q_norm.weight', qd); norm(p + 'attn_k_norm.weight', kvd); }
    mat(p + 'attn_output.weight', [spec.dim, qd], 0.7);
    norm(p + 'ffn_norm.weight', spec.dim);
    if (nExpert === 0) {
      mat(p + 'ffn_gate.weight', [spec.ffDim, spec.dim], 1.5);
      mat(p + 'ffn_up.weight', [spec.ffDim, spec.dim]);
      mat(p + 'ffn_down.weight', [spec.dim, spec.ffDim], 0.7);
    } else {
      const eff = a === 'llama' || a === 'olmoe' ? spec.ffDim : spec.expertFf ?? spec.ffDim; // llama.cpp's llama and olmoe experts use feed_forward_length
      mat(p + 'ffn_gate_inp.weight', [nExpert, spec.dim], 2, 'f32');
      mat(p + 'ffn_gate_exps.weight', [nExpert, eff, spec.dim], 1.5);
      mat(p + 'ffn_up_exps.weight', [nExpert, eff, spec.dim]);
      mat(p + 'ffn_down_exps.weight', [nExpert, spec.dim, eff], 0.7);
      if (spec.sharedExpertFf) {
        vec(p + 'ffn_gate_inp_shexp.weight', spec.dim, 1 / Math.sqrt(spec.dim));
        mat(p + 'ffn_gate_shexp.weight', [spec.sharedExpertFf, spec.dim], 1.5);
        mat(p + 'ffn_up_shexp.weight', [spec.sharedExpertFf, spec.dim]);
        mat(p + 'ffn_down_shexp.weight', [spec.dim, spec.sharedExpertFf], 0.7);
      }
    }
  }
  norm('output_norm.weight', spec.dim);
  if (spec.untied ?? true) mat('output.weight', [vocab, spec.dim], 3);
  if (spec.ropeFreqs) {
    if (spec.ropeFreqs.length !== headDim / 2) throw new RangeError(`syntheticModel: Expected ${headDim / 2} (head dim / 2) for spec.ropeFreqs.length but received ${spec.ropeFreqs.length}`);
    tensors.push({ name: 'rope_freqs.weight', shape: [headDim / 2], type: 'f32', data: Tensor.from(spec.ropeFreqs.slice(), [headDim / 2]) });
  }
  return { metadata, tensors };
}

/** Writes a synthetic model to `path` (GGUF v3). */
export function writeSyntheticModel(path: string, spec: SyntheticSpec): void {
  writeGguf(path, syntheticModel(spec));
}
