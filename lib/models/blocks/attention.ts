// The attention block of a pre-norm decoder layer: x + Wo · Attn(RoPE(q), RoPE(k), v) over
// norm(x), with the optional q/k/v biases (qwen2) and q/k norms (qwen3, olmoe) its weights carry.
import { Tensor } from '../../tensor';
import { Exec } from '../../exec/exec';
import { KVCache } from '../../ops/attention';
import type { Config } from '../config';
import type { LayerWeights } from '../weights';
import type { Step } from '../family';
import { qkNorm } from './norm';

/** f32 elements [o, o + prod(shape)) of t's row, zero-copy */
const at = (t: Tensor, o: number, shape: number[]) => new Tensor(t.buffer, t.byteOffset + 4 * o, 'f32', shape);

/** x [T, dim] -> x + attention(norm(x)) [T, dim]; appends this pass's K/V to `cache`. */
export async function attentionBlock(ex: Exec, c: Config, L: LayerWeights, x: Tensor, cache: KVCache, layer: number, st: Step): Promise<Tensor> {
  const { T, pos, posT } = st;
  const eps = c.rmsEps, D = c.dim;
  const h = await ex.rmsnorm(x, L.attnNorm, eps);                          // [T, dim]
  let q: Tensor, k: Tensor, v: Tensor;
  let rotated = false;
  if (T === 1 && L.wQkv) {
    // decode: one GEMV over the fused rows; q, k, v are views of its one output row
    const qkv = await ex.matmul(h, L.wQkv, L.bQkv);                        // [1, qd + kd + vd]
    const nq = L.wq.shape[0], nk = L.wk.shape[0];
    q = at(qkv, 0, [1, nq]); k = at(qkv, nq, [1, nk]); v = at(qkv, nq + nk, [1, L.wv.shape[0]]);
    if (!L.qNorm && !L.kNorm) {
      // q's and k's heads are adjacent in the row: one rope call rotates both
      const r = await ex.rope(at(qkv, 0, [1, c.nHead + c.nHeadKv, c.headDim]), posT, st.rope);
      q = at(r, 0, [1, nq]); k = at(r, nq, [1, nk]);
      rotated = true;
    }
  } else {
    q = await ex.matmul(h, L.wq, L.bq);                                    // [T, nHead * headDim]
    k = await ex.matmul(h, L.wk, L.bk);                                    // [T, nHeadKv * headDim]
    v = await ex.matmul(h, L.wv, L.bv);                                    // [T, nHeadKv * headDimV]
  }
  if (L.qNorm) q = await qkNorm(ex, q, L.qNorm, c.nHead, c.headDim, eps);
  if (L.kNorm) k = await qkNorm(ex, k, L.kNorm, c.nHeadKv, c.headDim, eps);
  const q3 = rotated ? q.reshape([T, c.nHead, c.headDim]) : await ex.rope(q.reshape([T, c.nHead, c.headDim]), posT, st.rope);
  const k3 = rotated ? k.reshape([T, c.nHeadKv, c.headDim]) : await ex.rope(k.reshape([T, c.nHeadKv, c.headDim]), posT, st.rope);
  await ex.kvAppend(cache, k3, v.reshape([T, c.nHeadKv, c.headDimV]), pos);
  const a = await ex.attention(q3, cache, { positions: pos, ...st.attention(layer) }); // [T, nHead, headDimV]
  const ao = a.reshape([T, c.nHead * c.headDimV]);
  // decode: the residual is the GEMV's bias (x + Wo·a, the same sum as add's), one call fewer
  return T === 1 ? ex.matmul(ao, L.wo, x.reshape([D])) : ex.add(x, await ex.matmul(ao, L.wo));
}
