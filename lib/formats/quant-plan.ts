// llama.cpp's quantization presets (`llama-quantize in out Q4_K_M`): which type each
// tensor of a file gets. The rules are those of llama.cpp's src/llama-quant.cpp
// (llama_tensor_get_type and its fallbacks), written anew from its facts: a default
// type per preset; output.weight (and a tied token_embd) to Q6_K or Q8_0; attn_v,
// ffn_down and attn_output raised on some layers (use_more_bits: the first and last
// eighth and every third layer between); 8-expert models' attn_v/attn_k to Q8_0;
// a type whose block does not divide a row falls back (Q4_K -> Q5_0, Q5_K -> Q5_1,
// Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0, IQ4_XS -> IQ4_NL, then F16). No importance matrix:
// the presets that need one are refused by name. `--pure` and manual overrides are not
// offered.
import { DTYPES, DType } from '../dtype';
import { GgufFile, GgufTensorInfo } from './gguf';

export interface QuantPreset {
  /** llama.cpp's llama_ftype value, written to general.file_type */
  ftype: number;
  /** the default type of the preset's quantized tensors */
  type: DType;
}

/** The presets fuselm offers, by llama-quantize's names. */
export const QUANT_PRESETS: Record<string, QuantPreset> = {
  Q4_0: { ftype: 2, type: 'q4_0' },
  Q4_1: { ftype: 3, type: 'q4_1' },
  Q8_0: { ftype: 7, type: 'q8_0' },
  Q5_0: { ftype: 8, type: 'q5_0' },
  Q5_1: { ftype: 9, type: 'q5_1' },
  Q2_K: { ftype: 10, type: 'q2_k' },
  Q3_K_S: { ftype: 11, type: 'q3_k' },
  Q3_K_M: { ftype: 12, type: 'q3_k' },
  Q3_K_L: { ftype: 13, type: 'q3_k' },
  Q4_K_S: { ftype: 14, type: 'q4_k' },
  Q4_K_M: { ftype: 15, type: 'q4_k' },
  Q5_K_S: { ftype: 16, type: 'q5_k' },
  Q5_K_M: { ftype: 17, type: 'q5_k' },
  Q6_K: { ftype: 18, type: 'q6_k' },
  IQ4_NL: { ftype: 25, type: 'iq4_nl' },
  IQ4_XS: { ftype: 30, type: 'iq4_xs' },
  MXFP4_MOE: { ftype: 38, type: 'mxfp4' },
};

/** llama.cpp presets that need an importance matrix (fuselm computes none): refused by name. */
export const IMATRIX_PRESETS = ['IQ1_S', 'IQ1_M', 'IQ2_XXS', 'IQ2_XS', 'IQ2_S', 'IQ2_M', 'Q2_K_S', 'IQ3_XXS'];

export interface QuantPlanEntry {
  name: string;
  /** the tensor's type in the input (GGML name, e.g. 'F32') */
  from: string;
  /** the type it gets (fuselm dtype, or the input's when kept) */
  to: DType | string;
  /** true when `to` differs from the input's type */
  convert: boolean;
  /** bytes of the tensor in the output */
  bytes: number;
}

const BLOCK_256: ReadonlySet<string> = new Set(['q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'iq4_xs']);
const block = (t: DType) => DTYPES[t].blockElems;

// the names llama.cpp never quantizes (besides 1-D tensors, norms and names not ending in 'weight')
const KEEP_SUBSTRINGS = ['ffn_gate_inp.weight', 'ffn_gate_tid2eid.weight', 'altup', 'laurel', 'per_layer_model_proj',
  'ssm_conv1d', 'shortconv.conv.weight', 'indexer.k_proj.weight', 'indexer.q_proj.weight', 'time_mix_first.weight',
  'time_mix_w0.weight', 'time_mix_w1.weight', 'time_mix_w2.weight', 'time_mix_v0.weight', 'time_mix_v1.weight',
  'time_mix_v2.weight', 'time_mix_a0.weight', 'time_mix_a1.weight', 'time_mix_a2.weight', 'time_mix_g1.weight',
  'time_mix_g2.weight', 'time_mix_decay_w1.weight', 'time_mix_decay_w2.weight', 'time_mix_lerp_fused.weight',
  'attn_rel_b.weight', '.position_embd', 'sam.pos_embd', 'sam.neck.', 'sam.net_', '.rel_pos', '.patch_embd',
  '.patch_merger', 'a.rvq.codebook', 'mm.a.code_embd'];

function nDims(ne: readonly number[]): number {
  let n = ne.length;
  while (n > 1 && ne[n - 1] === 1) n--;
  return n;
}

function allowsQuantization(t: GgufTensorInfo): boolean {
  const name = t.name;
  if (nDims(t.ne) < 2 || !name.endsWith('weight') || name.includes('_norm.weight')) return false;
  if (name === 'position_embd.weight' || name === 'token_types.weight') return false;
  return !KEEP_SUBSTRINGS.some((s) => name.includes(s));
}

type Category = 'output' | 'token_embd' | 'attn_v' | 'attn_k' | 'attn_q' | 'attn_output' | 'ffn_up' | 'ffn_gate' | 'ffn_down' | 'other';

function category(name: string): Category {
  if (name === 'output.weight') return 'output';
  if (name === 'token_embd.weight' || name === 'per_layer_token_embd.weight') return 'token_embd';
  // attn_qkv and attn_kv_b count as attn_v (more sensitive to quantization)
  if (name.includes('attn_qkv.weight') || name.includes('attn_kv_b.weight') || name.includes('attn_v.weight')) return 'attn_v';
  if (name.includes('attn_k.weight')) return 'attn_k';
  if (name.includes('attn_q.weight')) return 'attn_q';
  if (name.includes('attn_output.weight')) return 'attn_output';
  if (name.includes('ffn_up')) return 'ffn_up';
  if (name.includes('ffn_gate')) return 'ffn_gate';
  if (name.includes('ffn_down')) return 'ffn_down';
  return 'other';
}

const layerOf = (name: string): number => {
  const m = /^blk\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
};

/** llama.cpp's tensor order (weights_map): by layer (non-layer tensors first), then by name. */
function llamaOrder(a: GgufTensorInfo, b: GgufTensorInfo): number {
  const la = layerOf(a.name), lb = layerOf(b.name);
  if (la !== lb) return la - lb;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function metaNumber(f: GgufFile, key: string): number | undefined {
  const kv = f.metadata.get(key);
  if (!kv) return undefined;
  const v = kv.value as unknown;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && 'items' in (v as object)) {
    const it = (v as { items: ArrayLike<number | bigint> }).items;
    return it.length ? Number(it[0]) : undefined;
  }
  return undefined;
}

/** a row of ncols can not be stored in `type`: llama.cpp's fallback chain (tensor_type_fallback) */
function fallback(type: DType, ncols: number): DType {
  if (ncols % block(type) === 0) return type;
  let r: DType;
  switch (type) {
    case 'iq4_xs': r = 'iq4_nl'; break;
    case 'q2_k': case 'q3_k': r = 'q4_0'; break;
    case 'q4_k': r = 'q5_0'; break;
    case 'q5_k': r = 'q5_1'; break;
    case 'q6_k': r = 'q8_0'; break;
    default:
      if (BLOCK_256.has(type) || block(type) > 32) throw new Error(`quantPlan: no fallback type for ${type}`);
      r = type;
  }
  return ncols % block(r) === 0 ? r : 'f16';
}

/**
 * The type llama.cpp's `llama-quantize <in> <out> <preset>` gives each tensor of `f`
 * (without an importance matrix), in the file's tensor order.
 */
export function quantPlan(f: GgufFile, preset: string): QuantPlanEntry[] {
  const fn = 'quantPlan';
  if (IMATRIX_PRESETS.includes(preset)) throw new RangeError(`${fn}: preset ${preset} needs an importance matrix, which fuselm does not compute`);
  const p = QUANT_PRESETS[preset];
  if (!p) throw new RangeError(`${fn}: Expected one of ${Object.keys(QUANT_PRESETS).join(', ')} for preset but received ${String(preset)}`);
  const arch = String(f.metadata.get('general.architecture')?.value ?? '');
  const nLayer = metaNumber(f, `${arch}.block_count`);
  if (nLayer === undefined) throw new Error(`${fn}: the file has no ${arch}.block_count`);
  const nHead = metaNumber(f, `${arch}.attention.head_count`) ?? 0;
  const nHeadKv = metaNumber(f, `${arch}.attention.head_count_kv`) ?? nHead;
  const nGqa = nHeadKv > 0 ? Math.trunc(nHead / nHeadKv) : 0;
  const nExpert = metaNumber(f, `${arch}.expert_count`) ?? 0;
  const nExpertL = Math.max(1, nExpert);
  const falcon = arch === 'falcon';
  // llama.cpp's LLM_TYPE_70B: a llama of 80 layers with grouped-query attention
  const is70B = arch === 'llama' && nLayer === 80 && nHead !== nHeadKv;
  const ft = preset;
  const tied = !f.tensors.some((t) => t.name === 'output.weight');
  const nAttnV = f.tensors.filter((t) => category(t.name) === 'attn_v').length;
  const moreBits = (i: number, n: number) => i < Math.trunc(n / 8) || i >= Math.trunc((7 * n) / 8) || (i - Math.trunc(n / 8)) % 3 === 2;
  let iAttnV = 0, iFfnDown = 0, iFfnGate = 0, iFfnUp = 0;
  const layerInfo = (i: number, name: string): [number, number] => {
    if (nExpertL > 1) {
      const l = layerOf(name);
      if (l < 0 || l >= nLayer) throw new Error(`${fn}: bad layer for tensor ${name}`);
      return [l, nLayer];
    }
    return [i, nLayer];
  };

  const rule = (t: GgufTensorInfo, type: DType, cat: Category): DType => {
    const name = t.name;
    if (cat === 'output' || (tied && cat === 'token_embd')) {
      if (ft === 'MXFP4_MOE' || falcon || t.ne[0] % block(type) !== 0) return 'q8_0';
      return type !== 'q8_0' ? 'q6_k' : type;
    }
    if (ft === 'MXFP4_MOE') return (t.ne[2] ?? 1) > 1 ? 'mxfp4' : 'q8_0';
    if (cat === 'token_embd') return type;
    if (cat === 'attn_v') {
      if (ft === 'Q2_K') type = nGqa >= 4 ? 'q4_k' : 'q3_k';
      else if (ft === 'Q3_K_M') type = iAttnV < 2 ? 'q5_k' : 'q4_k';
      else if (ft === 'Q3_K_L') type = 'q5_k';
      else if ((ft === 'IQ4_NL' || ft === 'IQ4_XS') && nGqa >= 4) type = 'q5_k';
      else if ((ft === 'Q4_K_M' || ft === 'Q5_K_M') && moreBits(iAttnV, nAttnV)) type = 'q6_k';
      else if (ft === 'Q4_K_S' && iAttnV < 4) type = 'q5_k';
      if (is70B && (type === 'q3_k' || type === 'q4_k')) type = 'q5_k';
      if (nExpert === 8) type = 'q8_0';
      iAttnV++;
      return type;
    }
    if (cat === 'attn_k') return nExpert === 8 ? 'q8_0' : type;
    if (cat === 'ffn_down') {
      const [i, n] = layerInfo(iFfnDown, name);
      if (ft === 'Q2_K') type = 'q3_k';
      else if (ft === 'Q3_K_M') type = i < Math.trunc(n / 16) ? 'q5_k' : !falcon || moreBits(i, n) ? 'q4_k' : 'q3_k';
      else if (ft === 'Q3_K_L') type = falcon ? 'q4_k' : 'q5_k';
      else if (ft === 'Q4_K_M') {
        if (falcon) type = i < Math.trunc(n / 16) ? 'q6_k' : moreBits(i, n) ? 'q5_k' : 'q4_k';
        else if (moreBits(i, n)) type = 'q6_k';
      } else if (i < Math.trunc(n / 8) && (ft === 'IQ4_NL' || ft === 'IQ4_XS')) type = 'q5_k';
      else if (ft === 'Q5_K_M' && moreBits(i, n)) type = 'q6_k';
      else if (ft === 'Q4_K_S' && !falcon && i < Math.trunc(n / 8)) type = 'q5_k';
      iFfnDown++;
      return type;
    }
    if (cat === 'attn_output') {
      if (!falcon) {
        if (nExpert === 8) {
          if (['Q2_K', 'Q3_K_S', 'Q3_K_M', 'IQ4_NL', 'Q4_K_S', 'Q4_K_M', 'IQ4_XS'].includes(ft)) type = 'q5_k';
        } else if (ft === 'Q2_K') type = 'q3_k';
        else if (ft === 'Q3_K_M') type = 'q4_k';
        else if (ft === 'Q3_K_L') type = 'q5_k';
      } else if (ft === 'Q3_K_L') type = 'q4_k';
      return type;
    }
    if (cat === 'ffn_gate') { layerInfo(iFfnGate++, name); return type; }
    if (cat === 'ffn_up') { layerInfo(iFfnUp++, name); return type; }
    return type;
  };

  const chosen = new Map<string, DType | string>();
  for (const t of [...f.tensors].sort(llamaOrder)) {
    if (!allowsQuantization(t)) { chosen.set(t.name, t.dtype ?? t.typeName); continue; }
    chosen.set(t.name, fallback(rule(t, p.type, category(t.name)), t.ne[0]));
  }
  return f.tensors.map((t) => {
    const to = chosen.get(t.name)!;
    const convert = to !== (t.dtype ?? t.typeName);
    const bytes = convert ? (t.numel / block(to as DType)) * DTYPES[to as DType].blockBytes : t.byteSize;
    return { name: t.name, from: t.typeName, to, convert, bytes };
  });
}
