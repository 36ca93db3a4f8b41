// float64 references for family `embed`.
/** rows ids[t] of a [V, D] table given as its exact float values */
export function gatherRef(table: ArrayLike<number>, D: number, ids: ArrayLike<number>): Float64Array {
  const out = new Float64Array(ids.length * D);
  for (let t = 0; t < ids.length; t++) for (let j = 0; j < D; j++) out[t * D + j] = table[ids[t] * D + j];
  return out;
}

/** first index of the max per row; first NaN wins; all -inf -> 0 */
export function argmaxRef(x: ArrayLike<number>, rows: number, D: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let m = x[r * D];
    for (let j = 0; j < D; j++) {
      const v = x[r * D + j];
      if (Number.isNaN(v)) { best = j; break; }
      if (v > m) { m = v; best = j; }
    }
    out[r] = best;
  }
  return out;
}
