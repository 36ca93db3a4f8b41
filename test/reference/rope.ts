// float64 reference for family `rope`: llama.cpp's formulas, theta_i = freqScale * pos * base^(-2i/nDims).
export function ropeRef(x: ArrayLike<number>, pos: ArrayLike<number>, tokens: number, heads: number, headDim: number,
  nDims: number, mode: 'normal' | 'neox', base: number, freqScale: number): Float64Array {
  const out = Float64Array.from(x as ArrayLike<number>);
  const half = nDims / 2;
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const o = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const th = freqScale * pos[t] * Math.pow(base, (-2 * i) / nDims);
        const c = Math.cos(th), s = Math.sin(th);
        const [ia, ib] = mode === 'normal' ? [o + 2 * i, o + 2 * i + 1] : [o + i, o + i + half];
        const a = x[ia], b = x[ib];
        out[ia] = a * c - b * s;
        out[ib] = a * s + b * c;
      }
    }
  }
  return out;
}
