// float64 reference for family `rope`: llama.cpp's ggml_rope_ext formulas (ggml-cpu/ops.cpp: rope_yarn,
// rope_yarn_ramp, ggml_rope_cache_init; ggml.c: ggml_rope_yarn_corr_dims), written out per element.

/** ggml_rope_ext's scaling arguments; omitted fields are plain RoPE (ggml's defaults). */
export interface RopeScalingRef {
  freqScale?: number;
  freqFactors?: ArrayLike<number>;
  extFactor?: number;
  attnFactor?: number;
  betaFast?: number;
  betaSlow?: number;
  origCtx?: number;
}

/** ggml_rope_yarn_corr_dims: [max(0, floor d(betaFast)), min(nDims - 1, ceil d(betaSlow))]. */
export function yarnCorrDims(nDims: number, origCtx: number, base: number, betaFast: number, betaSlow: number): [number, number] {
  const d = (beta: number) => (nDims * Math.log(origCtx / (beta * 2 * Math.PI))) / (2 * Math.log(base));
  return [Math.max(0, Math.floor(d(betaFast))), Math.min(nDims - 1, Math.ceil(d(betaSlow)))];
}

/** cos/sin (with the magnitude) of pair `i` at position `p`, as rope_yarn computes them. */
export function ropeAngle(p: number, i: number, nDims: number, base: number, sc: RopeScalingRef = {}): { c: number; s: number } {
  const freqScale = sc.freqScale ?? 1, ext = sc.extFactor ?? 0;
  let mscale = sc.attnFactor ?? 1;
  const thetaExtrap = (p * Math.pow(base, (-2 * i) / nDims)) / (sc.freqFactors ? sc.freqFactors[i] : 1);
  const thetaInterp = freqScale * thetaExtrap;
  let theta = thetaInterp;
  if (ext !== 0) {
    const [lo, hi] = yarnCorrDims(nDims, sc.origCtx ?? 0, base, sc.betaFast ?? 32, sc.betaSlow ?? 1);
    const y = (i - lo) / Math.max(0.001, hi - lo);
    const rampMix = (1 - Math.min(1, Math.max(0, y))) * ext;
    theta = thetaInterp * (1 - rampMix) + thetaExtrap * rampMix;
    mscale *= 1 + 0.1 * Math.log(1 / freqScale);
  }
  return { c: Math.cos(theta) * mscale, s: Math.sin(theta) * mscale };
}

export function ropeRef(x: ArrayLike<number>, pos: ArrayLike<number>, tokens: number, heads: number, headDim: number,
  nDims: number, mode: 'normal' | 'neox', base: number, scaling: number | RopeScalingRef = 1): Float64Array {
  const sc: RopeScalingRef = typeof scaling === 'number' ? { freqScale: scaling } : scaling;
  const out = Float64Array.from(x as ArrayLike<number>);
  const half = nDims / 2;
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const o = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const { c, s } = ropeAngle(pos[t], i, nDims, base, sc);
        const [ia, ib] = mode === 'normal' ? [o + 2 * i, o + 2 * i + 1] : [o + i, o + i + half];
        const a = x[ia], b = x[ib];
        out[ia] = a * c - b * s;
        out[ib] = a * s + b * c;
      }
    }
  }
  return out;
}
