// Norm variants: RMSNorm of the residual stream, and of q or k per head (qwen3) or over the
// whole projection (olmoe).
import { Tensor } from '../../tensor';
import { Exec } from '../../exec/exec';

/**
 * RMSNorm of q or k [T, heads * headDim]: per head when `w` is f32 [headDim] (qwen3: each head
 * normalized on its own, as [T * heads, headDim] rows), over the whole row when `w` is
 * f32 [heads * headDim] (olmoe).
 */
export async function qkNorm(ex: Exec, x: Tensor, w: Tensor, heads: number, headDim: number, eps: number): Promise<Tensor> {
  return w.shape[0] === headDim ? ex.rmsnorm(x.reshape([x.shape[0] * heads, headDim]), w, eps) : ex.rmsnorm(x, w, eps);
}
