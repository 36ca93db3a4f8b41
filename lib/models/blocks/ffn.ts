// The dense feed-forward block of a pre-norm decoder layer: x + W_down · (silu(W_gate h) ⊙ W_up h), h = norm(x).
import { Tensor } from '../../tensor';
import { Exec } from '../../exec/exec';
import type { Config } from '../config';
import type { LayerWeights } from '../weights';

/** x [T, dim] -> x + ffn(norm(x)) [T, dim] */
export async function denseFfn(ex: Exec, c: Config, L: LayerWeights, x: Tensor): Promise<Tensor> {
  const T = x.shape[0], D = c.dim;
  const h = await ex.rmsnorm(x, L.ffnNorm, c.rmsEps);                       // [T, dim]
  if (T === 1 && L.wGateUp) {
    // decode: one GEMV over the fused gate/up rows; the residual is the down projection's bias
    const gu = await ex.matmul(h, L.wGateUp);                               // [1, 2 * ffDim]
    const f = c.ffDim;
    const g = new Tensor(gu.buffer, gu.byteOffset, 'f32', [1, f]), u = new Tensor(gu.buffer, gu.byteOffset + 4 * f, 'f32', [1, f]);
    return ex.matmul(await ex.swiglu(g, u), L.wDown!, x.reshape([D]));     // x + down(.)
  }
  const g = await ex.matmul(h, L.wGate!);                                   // [T, ffDim]
  const u = await ex.matmul(h, L.wUp!);                                     // [T, ffDim]
  return ex.add(x, await ex.matmul(await ex.swiglu(g, u), L.wDown!));
}
