// float64 references for family `lut`: an independent decode of the documented
// layout (csrc/include/fuselm/blocks.h), the product, and the uniform 3-bit baseline.
import { f16ToF32, LutTensor } from '../../lib';

/** code of weight j (0..31) in one block, straight from the layout comment */
export function lutCode(codes: Uint8Array, off: number, bits: number, j: number): number {
  if (bits === 4) return j < 16 ? codes[off + j] & 15 : codes[off + j - 16] >> 4;
  // 96-bit little-endian integer, code j at bits [3j, 3j+3)
  let c = 0;
  for (let b = 0; b < 3; b++) {
    const bit = 3 * j + b;
    c |= ((codes[off + (bit >> 3)] >> (bit & 7)) & 1) << b;
  }
  return c;
}

/** W [N, K] as float64: table[code] + CSR residual (the residual added in f32, as the kernels do) */
export function lutDecode(q: LutTensor): Float64Array {
  const [n, k] = q.shape;
  const bits = q.bits, bb = bits === 4 ? 16 : 12, rb = (k / 32) * bb;
  const codes = q.codes.bytes();
  const table = new Uint16Array(q.table.buffer, q.table.byteOffset, n << bits);
  const out = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < k; i++) {
      const c = lutCode(codes, r * rb + (i >> 5) * bb, bits, i & 31);
      out[r * k + i] = f16ToF32(table[(r << bits) + c]);
    }
    for (let e = q.rowPtr[r]; e < q.rowPtr[r + 1]; e++) {
      const i = r * k + q.col[e];
      out[i] = Math.fround(out[i] + f16ToF32(q.val[e]));
    }
  }
  return out;
}

/** out [M, N] = x [M, K] · W^T + bias in float64, and Σ|x·w| per output (the error scale) */
export function matmulRef(x: Float32Array, w: Float64Array, m: number, n: number, k: number, bias?: Float32Array | null): { out: Float64Array; mag: Float64Array } {
  const out = new Float64Array(m * n), mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j] : 0, a = bias ? Math.abs(bias[j]) : 0;
      for (let t = 0; t < k; t++) {
        const p = x[i * k + t] * w[j * k + t];
        s += p;
        a += Math.abs(p);
      }
      out[i * n + j] = s;
      mag[i * n + j] = a;
    }
  }
  return { out, mag };
}

/**
 * The baseline: plain per-32-block 3-bit uniform absmax quantization (Q4_0's rule at 3 bits:
 * d = the block's signed max-magnitude value / -4, q = clamp(round(w/d) + 4, 0, 7), w' = (q - 4)·d,
 * d kept in fp16: 3.5 bits per weight).
 */
export function uniform3Ref(w: Float32Array): Float64Array {
  const out = new Float64Array(w.length);
  for (let b = 0; b < w.length; b += 32) {
    let amax = 0, max = 0;
    for (let j = b; j < b + 32; j++) if (Math.abs(w[j]) > amax) { amax = Math.abs(w[j]); max = w[j]; }
    const d = max / -4;
    const id = d !== 0 ? 1 / d : 0;
    for (let j = b; j < b + 32; j++) {
      const q = Math.min(7, Math.max(0, Math.round(w[j] * id) + 4));
      out[j] = (q - 4) * d;
    }
  }
  return out;
}

/** Student-t samples with integer nu: z / sqrt(chi²_nu / nu) */
export function studentT(n: number, nu: number, g: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let chi = 0;
    for (let j = 0; j < nu; j++) { const z = g(); chi += z * z; }
    out[i] = (g() / Math.sqrt(chi / nu)) * scale;
  }
  return out;
}

export function mse(a: ArrayLike<number>, b: ArrayLike<number>, wts?: ArrayLike<number>, k?: number): number {
  let s = 0, ws = 0;
  for (let i = 0; i < a.length; i++) {
    const h = wts ? wts[i % (k as number)] : 1;
    s += h * (a[i] - b[i]) ** 2;
    ws += h;
  }
  return s / ws;
}
