// float64 references for family `elementwise`. Inputs are the exact float values of the tensors.
export function siluRef(x: number): number {
  if (x === -Infinity) return -0;
  return x / (1 + Math.exp(-x));
}

// ggml's tanh approximation of GELU, in float64
export function geluRef(x: number): number {
  if (x === -Infinity) return -0;
  // 0.5 x (1 + tanh(u)) written as x / (1 + exp(-2u)): equal, and free of cancellation for x << 0
  const u = Math.sqrt(2 / Math.PI) * x * (1 + 0.044715 * x * x);
  return x / (1 + Math.exp(-2 * u));
}

export function sigmoidRef(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function mapRef(x: ArrayLike<number>, f: (v: number) => number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  return out;
}

/** a op b[i % nb] */
export function binaryRef(a: ArrayLike<number>, b: ArrayLike<number>, f: (p: number, q: number) => number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i], b[i % b.length]);
  return out;
}

/** silu(x[r, j]) * x[r, F + j] over [rows, 2F], or silu(g) * u for two arrays */
export function swigluRef(g: ArrayLike<number>, u: ArrayLike<number> | null, rows: number, f: number): Float64Array {
  const out = new Float64Array(rows * f);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < f; j++) {
      out[r * f + j] = u ? siluRef(g[r * f + j]) * u[r * f + j] : siluRef(g[r * 2 * f + j]) * g[r * 2 * f + f + j];
    }
  }
  return out;
}
