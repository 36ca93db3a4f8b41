// float64 references for family `norm`.
export function rmsnormRef(x: Float32Array, w: Float32Array | null, rows: number, dim: number, eps: number): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] * x[r * dim + i];
    const s = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[r * dim + i] = x[r * dim + i] * s * (w ? w[i] : 1);
  }
  return out;
}

/** row softmax of scale * x in float64; a row of only -inf gives zeros */
export function softmaxRef(x: ArrayLike<number>, rows: number, dim: number, scale: number): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let i = 0; i < dim; i++) m = Math.max(m, scale * x[r * dim + i]);
    if (m === -Infinity) continue;
    let s = 0;
    for (let i = 0; i < dim; i++) s += Math.exp(scale * x[r * dim + i] - m);
    for (let i = 0; i < dim; i++) out[r * dim + i] = Math.exp(scale * x[r * dim + i] - m) / s;
  }
  return out;
}
