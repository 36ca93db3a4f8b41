// The Qwen family (llama.cpp src/models/qwen2.cpp, qwen3.cpp, qwen2moe.cpp, qwen3moe.cpp):
// llama's decoder with RoPE 'neox'; qwen2 and qwen2moe add q/k/v biases, qwen3 and qwen3moe
// RMSNorm q and k per head; the MoEs route by softmax then top-k, qwen2moe with a
// sigmoid-gated shared expert.
import { Family } from './family';
import { attentionBlock } from './blocks/attention';
import { denseFfn } from './blocks/ffn';
import { moeFfn } from './blocks/moe';

export const qwen: Family = {
  layer: async (ex, c, L, x, cache, layer, st) => {
    x = await attentionBlock(ex, c, L, x, cache, layer, st);
    return c.nExpert === 0 ? denseFfn(ex, c, L, x) : moeFfn(ex, c, L, x, layer, st, 'softmax_topk');
  },
};
