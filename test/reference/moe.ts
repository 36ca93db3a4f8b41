// Plain TypeScript / float64 references for family `moe`. Independent of the
// native code: selection compares the float32 values the router sees (so ties
// are the same ties), everything else is float64.
export type Scoring = 'softmax_topk' | 'topk_softmax' | 'sigmoid_group';

export interface RouteRefOptions {
  k: number;
  scoring: Scoring;
  norm?: boolean;
  nGroup?: number;
  topkGroup?: number;
  bias?: Float32Array | null;
  scale?: number;
}

/** indices of the k largest of v among allowed, best first, lower index on ties */
function topk(v: ArrayLike<number>, k: number, allowed?: boolean[]): number[] {
  const idx: number[] = [];
  for (let i = 0; i < v.length; i++) if (!allowed || allowed[i]) idx.push(i);
  idx.sort((a, b) => (v[b] !== v[a] ? v[b] - v[a] : a - b));
  return idx.slice(0, k);
}

export function moeRouteRef(logits: Float32Array, T: number, E: number, o: RouteRefOptions): { ids: Int32Array; weights: Float64Array } {
  const { k } = o;
  const ids = new Int32Array(T * k);
  const weights = new Float64Array(T * k);
  const scale = o.scale ?? 1;
  for (let t = 0; t < T; t++) {
    const l = Array.from(logits.subarray(t * E, (t + 1) * E));
    let sel: number[];
    let w: number[];
    if (o.scoring === 'sigmoid_group') {
      const s = l.map((v) => 1 / (1 + Math.exp(-v)));
      // selection on float32 values, as the model computes them
      const sc = s.map((v, e) => Math.fround(Math.fround(v) + (o.bias ? o.bias[e] : 0)));
      const nGroup = o.nGroup ?? 1, topkGroup = o.topkGroup ?? 1;
      let allowed: boolean[] | undefined;
      if (nGroup > 1 && topkGroup < nGroup) {
        const gs = E / nGroup;
        const gscore: number[] = [];
        for (let g = 0; g < nGroup; g++) {
          const vals = sc.slice(g * gs, (g + 1) * gs).sort((a, b) => b - a);
          gscore.push(gs > 1 ? Math.fround(vals[0] + vals[1]) : vals[0]);
        }
        const keep = new Set(topk(gscore, topkGroup));
        allowed = sc.map((_, e) => keep.has(Math.floor(e / gs)));
      }
      sel = topk(sc, k, allowed);
      w = sel.map((e) => s[e]);
      if (o.norm) {
        const den = w.reduce((a, b) => a + b, 0);
        w = w.map((v) => (den > 0 ? v / den : 0));
      }
    } else {
      sel = topk(l, k);
      const m = l[sel[0]];
      if (m === -Infinity) {
        w = sel.map(() => 0);
      } else {
        const ex = sel.map((e) => Math.exp(l[e] - m));
        let den: number;
        if (o.scoring === 'topk_softmax' || o.norm) den = ex.reduce((a, b) => a + b, 0);
        else den = l.reduce((a, v) => a + Math.exp(v - m), 0);
        w = ex.map((v) => v / den);
      }
    }
    for (let j = 0; j < k; j++) {
      ids[t * k + j] = sel[j];
      weights[t * k + j] = w[j] * scale;
    }
  }
  return { ids, weights };
}

export function moePermuteRef(ids: Int32Array, T: number, k: number, E: number, pad = 1) {
  const counts = new Int32Array(E);
  for (const e of ids) counts[e]++;
  const offsets = new Int32Array(E + 1);
  for (let e = 0; e < E; e++) offsets[e + 1] = offsets[e] + Math.ceil(counts[e] / pad) * pad;
  const pairs = new Int32Array(offsets[E]).fill(-1);
  const inverse = new Int32Array(T * k);
  const cur = offsets.slice(0, E);
  for (let p = 0; p < T * k; p++) {
    const r = cur[ids[p]]++;
    pairs[r] = p;
    inverse[p] = r;
  }
  return { counts, offsets, pairs, inverse, total: offsets[E] };
}

/** MC-MoE dynamic skipping on one token's k weights (see csrc/include/fuselm/ops/moe.h) */
export function skipRef(w: ArrayLike<number>, threshold: number): { w: number[]; dropped: boolean[] } {
  const k = w.length;
  const ww = Array.from(w);
  const dropped = new Array<boolean>(k).fill(false);
  if (!(threshold > 0)) return { w: ww, dropped };
  const S = ww.reduce((a, b) => a + b, 0);
  if (!(S > 0)) return { w: ww, dropped };
  let top = 0;
  for (let j = 1; j < k; j++) if (ww[j] > ww[top]) top = j;
  let kept = 0;
  for (let j = 0; j < k; j++) {
    if (j !== top && ww[j] / S < threshold) dropped[j] = true;
    else kept += ww[j];
  }
  return { w: ww.map((v, j) => (dropped[j] ? 0 : (v * S) / kept)), dropped };
}

const silu = (g: number) => g / (1 + Math.exp(-g));

/** One expert's dense weights, float64, row-major. */
export interface DenseExpert {
  gate: Float64Array; // [FF, D]
  up: Float64Array; // [FF, D]
  down: Float64Array; // [D, FF]
  FF: number;
}

/** y = down(silu(gate x) * up x), and mag = sum_f |down[d, f]| * |h_f|' (the output's
 *  sum of absolute products, with h_f' = |h_f| + 0.01 (|g_f| + |u_f|) as the scale of h's error) */
function ffn(xrow: Float64Array, ex: DenseExpert, D: number): { y: Float64Array; mag: Float64Array } {
  const h = new Float64Array(ex.FF), hm = new Float64Array(ex.FF);
  for (let f = 0; f < ex.FF; f++) {
    let g = 0, u = 0;
    const o = f * D;
    for (let d = 0; d < D; d++) {
      g += ex.gate[o + d] * xrow[d];
      u += ex.up[o + d] * xrow[d];
    }
    h[f] = silu(g) * u;
    hm[f] = Math.abs(h[f]) + 0.01 * (Math.abs(g) + Math.abs(u));
  }
  const y = new Float64Array(D), mag = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    let s = 0, m = 0;
    const o = d * ex.FF;
    for (let f = 0; f < ex.FF; f++) {
      s += ex.down[o + f] * h[f];
      m += Math.abs(ex.down[o + f]) * hm[f];
    }
    y[d] = s;
    mag[d] = m;
  }
  return { y, mag };
}

/** y_t = sum_j w'_tj ffn_{ids[t,j]}(x_t) + g_t ffn_shared(x_t), naive float64 loops */
export function moeFfnRef(
  x: Float32Array, T: number, D: number, ids: Int32Array, weights: Float32Array, k: number,
  experts: DenseExpert[], shared?: { ex: DenseExpert; gateInp?: Float32Array }, skipThreshold = 0,
): { y: Float64Array; mag: Float64Array; skipped: number } {
  const y = new Float64Array(T * D), mag = new Float64Array(T * D);
  let skipped = 0;
  for (let t = 0; t < T; t++) {
    const xr = Float64Array.from(x.subarray(t * D, (t + 1) * D));
    const { w, dropped } = skipRef(weights.subarray(t * k, (t + 1) * k), skipThreshold);
    for (let j = 0; j < k; j++) {
      if (dropped[j]) { skipped++; continue; }
      const r = ffn(xr, experts[ids[t * k + j]], D);
      for (let d = 0; d < D; d++) {
        y[t * D + d] += w[j] * r.y[d];
        mag[t * D + d] += Math.abs(w[j]) * r.mag[d];
      }
    }
    if (shared) {
      let g = 1;
      if (shared.gateInp) {
        let s = 0;
        for (let d = 0; d < D; d++) s += shared.gateInp[d] * xr[d];
        g = 1 / (1 + Math.exp(-s));
      }
      const r = ffn(xr, shared.ex, D);
      for (let d = 0; d < D; d++) {
        y[t * D + d] += g * r.y[d];
        mag[t * D + d] += g * r.mag[d];
      }
    }
  }
  return { y, mag, skipped };
}
