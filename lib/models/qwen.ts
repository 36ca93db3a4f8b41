// The Qwen family (llama.cpp src/models/qwen2.cpp, qwen3.cpp, qwen2moe.cpp, qwen3moe.cpp):
// llama's decoder with RoPE 'neox'; qwen2 and qwen2moe add q/k/v biases, qwen3 and qwen3moe
// RMSNorm q and k per head; the MoEs route by softmax then top-k, qwen2moe with a
// sigmoid-gated shared expert.
import { Arch } from './config';
import { Family } from './family';
import { attentionBlock } from './blocks/attention';
import { denseFfn } from './blocks/ffn';
import { moeFfn } from './blocks/moe';

const BIASED: readonly Arch[] = ['qwen2', 'qwen2moe'];

export const qwen: Family = {
  archs: ['qwen2', 'qwen3', 'qwen2moe', 'qwen3moe'],
  checkLayer: (arch, p, has) => {
    if (BIASED.includes(arch)) return has('attn_q.bias') ? [] : [`${arch} needs ${p}attn_q.bias`];
    return has('attn_q_norm.weight') && has('attn_k_norm.weight') ? [] : [`${arch} needs ${p}attn_q_norm/attn_k_norm`];
  },
  ropeFreqs: false,
  layer: async (ex, c, L, x, cache, layer, st) => {
    x = await attentionBlock(ex, c, L, x, cache, layer, st);
    return c.nExpert === 0 ? denseFfn(ex, c, L, x) : moeFfn(ex, c, L, x, layer, st, 'softmax_topk');
  },
};
