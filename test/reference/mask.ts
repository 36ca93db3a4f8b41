// Reference for family `mask`: the definition, one element at a time.
export function maskLogitsRef(x: Float32Array, mask: Uint32Array, rows: number, n: number): Float64Array {
  const words = Math.ceil(n / 32);
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) {
      const keep = (mask[r * words + (i >> 5)] >>> (i & 31)) & 1;
      out[r * n + i] = keep ? x[r * n + i] : -Infinity;
    }
  }
  return out;
}
