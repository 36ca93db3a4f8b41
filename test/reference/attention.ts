// float64 references for family `attention`: naive softmax(Q K^T * scale + mask) V
// with the mask made explicit as a predicate, and the dynamic block selection.
export interface AttnProblem {
  q: Float32Array; // [Tq, nHead, D]
  k: Float32Array; // [Tk, nKv, D] (the cache's stored, dequantized values, or the originals)
  v: Float32Array; // [Tk, nKv, D]
  kpos: Int32Array; // [Tk]
  qpos: Int32Array; // [Tq]
  nHead: number;
  nKv: number;
  D: number;
  scale: number;
  softcap?: number;
}

/** visible(i, h, j): may query i (head h) see key j (cache index)? Causality is the caller's to include. */
export type Visible = (i: number, h: number, j: number) => boolean;

export function attentionRef(pr: AttnProblem, visible: Visible): Float64Array {
  const { q, k, v, kpos, qpos, nHead, nKv, D, scale } = pr;
  const Tq = qpos.length, Tk = kpos.length, G = nHead / nKv;
  const out = new Float64Array(Tq * nHead * D);
  const s = new Float64Array(Tk);
  for (let i = 0; i < Tq; i++) {
    for (let h = 0; h < nHead; h++) {
      const g = Math.floor(h / G);
      const qo = (i * nHead + h) * D;
      let mx = -Infinity;
      for (let j = 0; j < Tk; j++) {
        if (!visible(i, h, j)) { s[j] = -Infinity; continue; }
        let dot = 0;
        const ko = (j * nKv + g) * D;
        for (let c = 0; c < D; c++) dot += q[qo + c] * k[ko + c];
        dot *= scale;
        if (pr.softcap) dot = pr.softcap * Math.tanh(dot / pr.softcap);
        s[j] = dot;
        if (dot > mx) mx = dot;
      }
      if (mx === -Infinity) continue; // no visible key: zeros
      let l = 0;
      for (let j = 0; j < Tk; j++) { s[j] = s[j] === -Infinity ? 0 : Math.exp(s[j] - mx); l += s[j]; }
      for (let j = 0; j < Tk; j++) {
        if (s[j] === 0) continue;
        const w = s[j] / l, vo = (j * nKv + g) * D;
        for (let c = 0; c < D; c++) out[qo + c] += w * v[vo + c];
      }
    }
  }
  return out;
}

export const causal = (pr: AttnProblem): Visible => (i, _h, j) => pr.kpos[j] <= pr.qpos[i];

export function windowMask(pr: AttnProblem, window: number, sinks: number): Visible {
  return (i, _h, j) => pr.kpos[j] <= pr.qpos[i] && (j < sinks || pr.qpos[i] - pr.kpos[j] < window);
}

export function blockMaskVisible(pr: AttnProblem, mask: Uint8Array, cols: number): Visible {
  return (i, _h, j) => pr.kpos[j] <= pr.qpos[i] && mask[Math.floor(pr.qpos[i] / 64) * cols + Math.floor(j / 64)] !== 0;
}

/** dynamic mode with an explicit selection sel [Tq, nKv, k] (-1 padded) */
export function dynamicVisible(pr: AttnProblem, window: number, sinks: number, sel: Int32Array, kSel: number): Visible {
  const G = pr.nHead / pr.nKv;
  return (i, h, j) => {
    if (pr.kpos[j] > pr.qpos[i]) return false;
    if (j < sinks || pr.qpos[i] - pr.kpos[j] < window) return true;
    const g = Math.floor(h / G), b = Math.floor(j / 64), o = (i * pr.nKv + g) * kSel;
    for (let t = 0; t < kSel; t++) if (sel[o + t] === b) return true;
    return false;
  };
}

/**
 * float64 block scores for query i, KV head g: for each candidate block (some causal key
 * not kept by sinks/window), sum over the group's heads and channels of max(q*min, q*max),
 * with min/max over the block's stored keys. Returns block -> score.
 */
export function blockScoresRef(pr: AttnProblem, i: number, g: number, window: number, sinks: number): Map<number, number> {
  const { q, k, kpos, qpos, nHead, nKv, D } = pr;
  const G = nHead / nKv, Tk = kpos.length, p = qpos[i];
  const res = new Map<number, number>();
  for (let b = 0; b * 64 < Tk; b++) {
    const j0 = b * 64, j1 = Math.min(Tk, j0 + 64);
    let cand = false;
    for (let j = j0; j < j1; j++) if (kpos[j] <= p && !(j < sinks || p - kpos[j] < window)) cand = true;
    if (!cand) continue;
    let s = 0;
    for (let c = 0; c < D; c++) {
      let mn = Infinity, mx = -Infinity;
      for (let j = j0; j < j1; j++) { const x = k[(j * nKv + g) * D + c]; mn = Math.min(mn, x); mx = Math.max(mx, x); }
      for (let hh = 0; hh < G; hh++) {
        const qq = q[(i * nHead + g * G + hh) * D + c];
        s += Math.max(qq * mn, qq * mx);
      }
    }
    res.set(b, s);
  }
  return res;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb + 1e-300);
}
