// The mixture-of-experts feed-forward block: x + Σ_j w_j · expert_j(h) (+ the shared expert),
// h = norm(x), the experts chosen per token by the router (lib/ops/moe.ts: route, then the
// fused expert FFN with the combine in its down projection).
import { Tensor } from '../../tensor';
import { Exec } from '../../exec/exec';
import { MoeScoring } from '../../ops/moe';
import type { Config } from '../config';
import type { LayerWeights } from '../weights';
import type { Step } from '../family';

/** x [T, dim] -> x + moe(norm(x)) [T, dim]; `scoring`: how the router's logits become weights */
export async function moeFfn(ex: Exec, c: Config, L: LayerWeights, x: Tensor, layer: number, st: Step, scoring: MoeScoring): Promise<Tensor> {
  const h = await ex.rmsnorm(x, L.ffnNorm, c.rmsEps);                       // [T, dim]
  const logits = await ex.matmul(h, L.wRouter!);                            // [T, nExpert]
  if (st.onRouter) st.onRouter(layer, st.t0, logits);
  const routing = await ex.moeRoute(logits, { k: c.nExpertUsed, scoring, normTopkProb: c.normTopkProb });
  const y = await ex.moeFfn(h, routing, {
    gate: L.wGateExps!, up: L.wUpExps!, down: L.wDownExps!,
    ...(L.wShUp ? { shared: { gate: L.wShGate!, up: L.wShUp, down: L.wShDown!, gateInp: L.wShGateInp } } : {}),
  });
  return ex.add(x, y);
}
