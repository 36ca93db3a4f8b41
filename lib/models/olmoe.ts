// OLMoE (llama.cpp src/models/olmoe.cpp): RoPE 'neox', q and k RMSNormed over the whole
// projection, routed experts by softmax then top-k (not renormalized).
import { Family } from './family';
import { attentionBlock } from './blocks/attention';
import { denseFfn } from './blocks/ffn';
import { moeFfn } from './blocks/moe';

export const olmoe: Family = {
  layer: async (ex, c, L, x, cache, layer, st) => {
    x = await attentionBlock(ex, c, L, x, cache, layer, st);
    return c.nExpert === 0 ? denseFfn(ex, c, L, x) : moeFfn(ex, c, L, x, layer, st, 'softmax_topk');
  },
};
