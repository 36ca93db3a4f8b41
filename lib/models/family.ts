// A model family: what one architecture (or a few close ones) computes in a decoder layer of
// the shared skeleton of lib/models/forward.ts. Adding an architecture: one file like
// llama.ts (its layer, built from lib/models/blocks), its line in lib/models/families.ts, its
// hyperparameters and tensor requirements in lib/models/config.ts (ARCHS, ARCH_TRAITS), and
// an oracle case.
import { Tensor } from '../tensor';
import { Exec } from '../exec/exec';
import { AttentionOptions, KVCache } from '../ops/attention';
import { RopeOptions } from '../ops/rope';
import type { Config } from './config';
import type { LayerWeights } from './weights';

/** Per-layer attention options: dense (undefined) or a sparse form of the attention kernel. */
export type LayerAttention = Omit<AttentionOptions, 'positions'> | undefined;

/** What every layer of one forward pass shares: the tokens' positions and the pass's options. */
export interface Step {
  /** tokens in this pass */
  T: number;
  /** position of the first one (tokens already cached) */
  t0: number;
  /** i32 [T]: positions, as the KV cache takes them and as a tensor for rope */
  pos: Int32Array;
  posT: Tensor;
  /** the rope kernel's options for this model (lib/models/state.ts ropeOptionsOf) */
  rope: RopeOptions;
  /** the attention kernel's options for layer l */
  attention: (layer: number) => LayerAttention;
  /** diagnostics: each MoE layer's router logits f32 [T, E], with the position of row 0 */
  onRouter?: (layer: number, pos0: number, logits: Tensor) => void;
}

/** One decoder layer: the residual stream x [T, dim] in, x [T, dim] out. */
export type Layer = (ex: Exec, c: Config, L: LayerWeights, x: Tensor, cache: KVCache, layer: number, st: Step) => Promise<Tensor>;

export interface Family {
  /** one decoder layer (lib/models/families.ts says which architectures run it) */
  layer: Layer;
}
