// llama (llama.cpp src/models/llama.cpp): pre-norm decoder, RoPE 'normal', SwiGLU FFN, or
// Mixtral-style routed experts (softmax over the top-k logits) when expert_count > 0; may
// carry llama3-style RoPE factors (rope_freqs.weight).
import { Family } from './family';
import { attentionBlock } from './blocks/attention';
import { denseFfn } from './blocks/ffn';
import { moeFfn } from './blocks/moe';

export const llama: Family = {
  layer: async (ex, c, L, x, cache, layer, st) => {
    x = await attentionBlock(ex, c, L, x, cache, layer, st);
    return c.nExpert === 0 ? denseFfn(ex, c, L, x) : moeFfn(ex, c, L, x, layer, st, 'topk_softmax');
  },
};
