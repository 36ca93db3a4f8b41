// A model family: what one architecture (or a few close ones) adds to the shared decoder
// skeleton of lib/models/forward.ts. Adding an architecture: one file like llama.ts
// (its layer, built from lib/models/blocks, and the tensors it must have), one entry in
// lib/models/families.ts, its hyperparameters in lib/models/config.ts, and an oracle case.
import { Tensor } from '../tensor';
import { Exec } from '../exec/exec';
import { AttentionOptions, KVCache } from '../ops/attention';
import { RopeOptions } from '../ops/rope';
import type { Arch, Config } from './config';
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
  /** the architectures (general.architecture) it runs */
  archs: readonly Arch[];
  /** the layer tensors `arch` needs beyond the common ones: problems for loadWeights' message */
  checkLayer(arch: Arch, prefix: string, has: (name: string) => boolean): string[];
  /** true when the model may carry rope_freqs.weight (llama3-style RoPE factors) */
  ropeFreqs: boolean;
  layer: Layer;
}
