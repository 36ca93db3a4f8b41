// Independent references for the legacy 32-block formats of family `qgemm` (Q5_0,
// Q4_1, Q5_1, IQ4_NL, MXFP4): ggml's quantizers ported to TypeScript (float32
// arithmetic via Math.fround, each product rounded before the add as ggml's C
// does), and dequantizers read straight from the GGUF bytes.
import { f16ToF32, f32ToF16 } from '../../lib';

const f = Math.fround;

export const LEGACY = ['q5_0', 'q4_1', 'q5_1', 'iq4_nl', 'mxfp4'] as const;
export type Legacy = (typeof LEGACY)[number];
export const BLOCK_BYTES: Record<Legacy, number> = { q5_0: 22, q4_1: 20, q5_1: 24, iq4_nl: 18, mxfp4: 17 };

// ggml-common.h
export const KVALUES_IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
export const KVALUES_MXFP4 = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/** ggml's GGML_E8M0_TO_FP32_HALF: 2^(e - 128) */
export function e8m0Half(e: number): number {
  return 2 ** (e - 128);
}

/** C's (int8_t) cast of a float in range: truncation toward zero */
const trunc8 = (v: number) => ((Math.trunc(v) << 24) >> 24);

/** ggml quantize_row_q5_0_ref / q4_1_ref / q5_1_ref / mxfp4_ref and quantize_iq4_nl (no imatrix) */
export function quantizeLegacyRef(fmt: Legacy, x: Float32Array): Uint8Array {
  const nb = x.length / 32, bb = BLOCK_BYTES[fmt];
  const out = new Uint8Array(nb * bb);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const xb = x.subarray(32 * b, 32 * b + 32), o = bb * b;
    const q = new Array<number>(32).fill(0);
    let qsAt = 0;
    if (fmt === 'q5_0') {
      let amax = 0, max = 0;
      for (const v of xb) if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
      const d = f(max / -16), id = d !== 0 ? f(1 / d) : 0;
      dv.setUint16(o, f32ToF16(d), true);
      for (let j = 0; j < 32; j++) q[j] = Math.min(31, trunc8(f(f(xb[j] * id) + 16.5)));
      qsAt = o + 6;
    } else if (fmt === 'q4_1' || fmt === 'q5_1') {
      let min = Infinity, max = -Infinity;
      for (const v of xb) { if (v < min) min = v; if (v > max) max = v; }
      const nmax = fmt === 'q4_1' ? 15 : 31;
      const d = f(f(max - min) / nmax), id = d !== 0 ? f(1 / d) : 0;
      dv.setUint16(o, f32ToF16(d), true);
      dv.setUint16(o + 2, f32ToF16(min), true);
      for (let j = 0; j < 32; j++) {
        const v = trunc8(f(f(f(xb[j] - min) * id) + 0.5));
        q[j] = fmt === 'q4_1' ? Math.min(15, v) : v & 255;
      }
      qsAt = o + (fmt === 'q4_1' ? 4 : 8);
    } else if (fmt === 'mxfp4') {
      let amax = 0;
      for (const v of xb) if (amax < Math.abs(v)) amax = Math.abs(v);
      const e = amax > 0 ? (Math.floor(f(Math.log2(amax))) - 2 + 127) & 255 : 0; // log2f: rounded to float
      const d = e8m0Half(e);
      out[o] = e;
      for (let j = 0; j < 32; j++) {
        let bi = 0, be = Math.abs(f(f(KVALUES_MXFP4[0] * d) - xb[j]));
        for (let k = 1; k < 16; k++) {
          const err = Math.abs(f(f(KVALUES_MXFP4[k] * d) - xb[j]));
          if (err < be) { bi = k; be = err; }
        }
        q[j] = bi;
      }
      qsAt = o + 1;
    } else {
      const d = iq4nlScale(xb);
      dv.setUint16(o, f32ToF16(d), true);
      const id = d !== 0 ? f(1 / d) : 0;
      for (let j = 0; j < 32; j++) q[j] = bestIndexInt8(KVALUES_IQ4NL, f(id * xb[j]));
      qsAt = o + 2;
    }
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      out[qsAt + j] = (q[j] & 15) | ((q[j + 16] & 15) << 4);
      qh |= ((q[j] >> 4) & 1) << j;
      qh |= ((q[j + 16] >> 4) & 1) << (j + 16);
    }
    if (fmt === 'q5_0') dv.setUint32(o + 2, qh >>> 0, true);
    if (fmt === 'q5_1') dv.setUint32(o + 4, qh >>> 0, true);
  }
  return out;
}

/** ggml best_index_int8 */
function bestIndexInt8(val: readonly number[], x: number): number {
  if (x <= val[0]) return 0;
  if (x >= val[15]) return 15;
  let ml = 0, mu = 15;
  while (mu - ml > 1) {
    const mav = (ml + mu) >> 1;
    if (x < val[mav]) mu = mav; else ml = mav;
  }
  return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/** ggml quantize_row_iq4_nl_impl's scale for one block of 32, weights x², ntry = 7 */
function iq4nlScale(xb: Float32Array): number {
  const values = KVALUES_IQ4NL;
  let amax = 0, max = 0;
  for (const v of xb) if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
  if (amax < f(1e-15)) return 0;
  const w = Array.from(xb, (v) => f(v * v));
  const sums = (id: number): [number, number] => {
    let sumqx = 0, sumq2 = 0;
    for (let j = 0; j < 32; j++) {
      const q = values[bestIndexInt8(values, f(id * xb[j]))];
      sumqx = f(sumqx + f(f(w[j] * q) * xb[j]));
      sumq2 = f(sumq2 + f(f(w[j] * q) * q));
    }
    return [sumqx, sumq2];
  };
  let d = f(-max / values[0]);
  let [sumqx, sumq2] = sums(f(1 / d));
  d = sumq2 > 0 ? f(sumqx / sumq2) : 0;
  let best = f(d * sumqx);
  for (let itry = -7; itry <= 7; itry++) {
    [sumqx, sumq2] = sums(f((itry + values[0]) / max));
    if (sumq2 > 0 && f(sumqx * sumqx) > f(best * sumq2)) {
      d = f(sumqx / sumq2);
      best = f(d * sumqx);
    }
  }
  return d;
}

/** Dequantizes rows of a legacy format, read from the GGUF bytes: w = s * v(q) + m. */
export function dequantLegacyRef(fmt: Legacy, bytes: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = (o: number) => f16ToF32(dv.getUint16(o, true));
  const bb = BLOCK_BYTES[fmt];
  for (let b = 0; b < n / 32; b++) {
    const o = bb * b;
    let s: number, m = 0, qh = 0, qs: number;
    if (fmt === 'mxfp4') { s = e8m0Half(bytes[o]); qs = o + 1; }
    else { s = h(o); }
    if (fmt === 'q5_0') { qh = dv.getUint32(o + 2, true); qs = o + 6; }
    if (fmt === 'q4_1') { m = h(o + 2); qs = o + 4; }
    if (fmt === 'q5_1') { m = h(o + 2); qh = dv.getUint32(o + 4, true); qs = o + 8; }
    if (fmt === 'iq4_nl') qs = o + 2;
    for (let j = 0; j < 32; j++) {
      const byte = bytes[qs! + (j & 15)];
      const q = (j < 16 ? byte & 15 : byte >> 4) | (((qh >>> j) & 1) << 4);
      const v = fmt === 'iq4_nl' ? KVALUES_IQ4NL[q] : fmt === 'mxfp4' ? KVALUES_MXFP4[q] : fmt === 'q5_0' ? q - 16 : q;
      y[32 * b + j] = f(f(v * s) + m);
    }
  }
  return y;
}
