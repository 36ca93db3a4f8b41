// Independent references for family `qgemm`: ggml's Q8_0 / Q4_0 reference
// quantizers ported to TypeScript (float32 arithmetic via Math.fround), a
// dequantizer for every block format read straight from the bytes, and a
// float64 matmul with the error bounds the kernels must meet.
import { f16ToF32, f32ToF16 } from '../../lib';
import { dequantLegacyRef, KVALUES_IQ4NL, Legacy, LEGACY } from './qgemm_legacy';

const f = Math.fround;

/** C's roundf: ties away from zero */
function roundf(v: number): number {
  return Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
}

/** ggml quantize_row_q8_0_ref: 34-byte blocks (fp16 d, 32 x int8) */
export function quantizeQ8_0Ref(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
    const d = f(amax / 127);
    const id = d !== 0 ? f(1 / d) : 0;
    dv.setUint16(34 * b, f32ToF16(d), true);
    for (let j = 0; j < 32; j++) dv.setInt8(34 * b + 2 + j, roundf(f(x[32 * b + j] * id)));
  }
  return out;
}

/** ggml quantize_row_q4_0_ref: 18-byte blocks (fp16 d, 16 bytes of nibbles, offset 8) */
export function quantizeQ4_0Ref(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    let amax = 0, max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[32 * b + j];
      if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
    }
    const d = f(max / -8);
    const id = d !== 0 ? f(1 / d) : 0;
    dv.setUint16(18 * b, f32ToF16(d), true);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.trunc(f(f(x[32 * b + j] * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(f(f(x[32 * b + 16 + j] * id) + 8.5)));
      out[18 * b + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

function scaleMinK4(s: Uint8Array, o: number, j: number): [number, number] {
  if (j < 4) return [s[o + j] & 63, s[o + j + 4] & 63];
  return [(s[o + j + 4] & 0xf) | ((s[o + j - 4] >> 6) << 4), (s[o + j + 4] >> 4) | ((s[o + j] >> 6) << 4)];
}

/** IQ4_NL / IQ4_XS levels (ggml-common.h kvalues_iq4nl), declared in qgemm_legacy.ts */
export { KVALUES_IQ4NL };

/** Dequantizes rows of any block format, read from the GGUF layouts. */
export function dequantRef(fmt: string, bytes: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = (o: number) => f16ToF32(dv.getUint16(o, true));
  const i8 = (o: number) => dv.getInt8(o);
  switch (fmt) {
    case 'f32': for (let i = 0; i < n; i++) y[i] = dv.getFloat32(4 * i, true); break;
    case 'f16': for (let i = 0; i < n; i++) y[i] = h(2 * i); break;
    case 'bf16': for (let i = 0; i < n; i++) { const u = new Uint32Array([dv.getUint16(2 * i, true) << 16]); y[i] = new Float32Array(u.buffer)[0]; } break;
    case 'q8_0':
      for (let b = 0; b < n / 32; b++) for (let j = 0; j < 32; j++) y[32 * b + j] = h(34 * b) * i8(34 * b + 2 + j);
      break;
    case 'q4_0':
      for (let b = 0; b < n / 32; b++) {
        const d = h(18 * b);
        for (let j = 0; j < 16; j++) {
          const q = bytes[18 * b + 2 + j];
          y[32 * b + j] = ((q & 15) - 8) * d;
          y[32 * b + 16 + j] = ((q >> 4) - 8) * d;
        }
      }
      break;
    case 'q4_k': case 'q5_k': {
      const q5 = fmt === 'q5_k', bb = q5 ? 176 : 144;
      for (let b = 0; b < n / 256; b++) {
        const o = bb * b, d = h(o), dmin = h(o + 2);
        const qh = o + 16, qs = o + (q5 ? 48 : 16);
        for (let c = 0; c < 4; c++) {
          const [s1, m1] = scaleMinK4(bytes, o + 4, 2 * c), [s2, m2] = scaleMinK4(bytes, o + 4, 2 * c + 1);
          for (let l = 0; l < 32; l++) {
            const q = bytes[qs + 32 * c + l];
            const h1 = q5 ? ((bytes[qh + l] >> (2 * c)) & 1) << 4 : 0, h2 = q5 ? ((bytes[qh + l] >> (2 * c + 1)) & 1) << 4 : 0;
            y[256 * b + 64 * c + l] = f(f(d * s1) * ((q & 15) | h1)) - f(dmin * m1);
            y[256 * b + 64 * c + 32 + l] = f(f(d * s2) * ((q >> 4) | h2)) - f(dmin * m2);
          }
        }
      }
      break;
    }
    case 'q6_k':
      for (let b = 0; b < n / 256; b++) {
        const o = 210 * b, d = h(o + 208);
        for (let i = 0; i < 256; i++) {
          const half = i >> 7, r = i & 127, k = r >> 5, l = r & 31;
          const ql = bytes[o + 64 * half + l + (k & 1) * 32];
          const lo = k < 2 ? ql & 15 : ql >> 4;
          const hi = (bytes[o + 128 + 32 * half + l] >> (2 * k)) & 3;
          y[256 * b + i] = f(d * i8(o + 192 + (i >> 4))) * ((lo | (hi << 4)) - 32);
        }
      }
      break;
    case 'q8_k':
      for (let b = 0; b < n / 256; b++) for (let j = 0; j < 256; j++) y[256 * b + j] = dv.getFloat32(292 * b, true) * i8(292 * b + 4 + j);
      break;
    // IQ4_XS (136 bytes): d, scales_h (u16), scales_l[4], qs[128]; w = d (ls - 32) KVALUES_IQ4NL[q]
    case 'iq4_xs':
      for (let b = 0; b < n / 256; b++) {
        const o = 136 * b, d = h(o), sh = dv.getUint16(o + 2, true);
        for (let j = 0; j < 8; j++) {
          const ls = ((bytes[o + 4 + (j >> 1)] >> (4 * (j & 1))) & 15) | (((sh >> (2 * j)) & 3) << 4);
          const dl = f(d * (ls - 32));
          for (let l = 0; l < 16; l++) {
            const q = bytes[o + 8 + 16 * j + l];
            y[256 * b + 32 * j + l] = f(dl * KVALUES_IQ4NL[q & 15]);
            y[256 * b + 32 * j + 16 + l] = f(dl * KVALUES_IQ4NL[q >> 4]);
          }
        }
      }
      break;
    // Q3_K (110 bytes): hmask[32], qs[64], scales[12], d. Weight e = 128h + 32g + l: low 2 bits
    // qs[32h + l] >> 2g, high bit hmask[l] bit 4h + g; w = d (sc - 32) (q - 4), sub-block e / 16
    case 'q3_k':
      for (let b = 0; b < n / 256; b++) {
        const o = 110 * b, d = h(o + 108);
        for (let e = 0; e < 256; e++) {
          const hh = e >> 7, g = (e & 127) >> 5, l = e & 31, j = e >> 4;
          const q = ((bytes[o + 32 + 32 * hh + l] >> (2 * g)) & 3) | (((bytes[o + l] >> (4 * hh + g)) & 1) << 2);
          const lo = j < 8 ? bytes[o + 96 + j] & 15 : bytes[o + 96 + j - 8] >> 4;
          const sc = (lo | (((bytes[o + 96 + 8 + (j & 3)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
          y[256 * b + e] = f(f(d * sc) * (q - 4));
        }
      }
      break;
    // Q2_K (84 bytes): scales[16] (sc | m << 4), qs[64] (as Q3_K's low bits), d, dmin; w = d sc q - dmin m
    case 'q2_k':
      for (let b = 0; b < n / 256; b++) {
        const o = 84 * b, d = h(o + 80), dmin = h(o + 82);
        for (let e = 0; e < 256; e++) {
          const hh = e >> 7, g = (e & 127) >> 5, l = e & 31, s = bytes[o + (e >> 4)];
          const q = (bytes[o + 16 + 32 * hh + l] >> (2 * g)) & 3;
          y[256 * b + e] = f(f(f(d * (s & 15)) * q) - f(dmin * (s >> 4)));
        }
      }
      break;
    default:
      if ((LEGACY as readonly string[]).includes(fmt)) return dequantLegacyRef(fmt as Legacy, bytes, n);
      throw new Error(`no reference for ${fmt}`);
  }
  return y;
}

/** out[m, n] = sum_k x[m, k] w[n, k] in float64, plus sum_k |x w| (the scale of the rounding errors). */
export function matmulRef(x: Float32Array, w: Float32Array, M: number, N: number, K: number, bias?: Float32Array | null): { y: Float64Array; mag: Float64Array } {
  const y = new Float64Array(M * N), mag = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0, a = 0;
      for (let k = 0; k < K; k++) { const p = x[m * K + k] * w[n * K + k]; s += p; a += Math.abs(p); }
      y[m * N + n] = s + (bias ? bias[n] : 0);
      mag[m * N + n] = a;
    }
  }
  return { y, mag };
}

/**
 * The worst-case error int8 activations add to out[m, n]: each activation is
 * rounded to a multiple of its block's d = amax / 127 (q8_0: blocks of 32,
 * q8_K: blocks of 256), an error of at most d / 2, times |w|.
 */
export function actQuantBound(x: Float32Array, w: Float32Array, M: number, N: number, K: number, block: number): Float64Array {
  const out = new Float64Array(M * N);
  const half = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let b = 0; b < K / block; b++) {
      let amax = 0;
      for (let j = 0; j < block; j++) amax = Math.max(amax, Math.abs(x[m * K + b * block + j]));
      for (let j = 0; j < block; j++) half[m * K + b * block + j] = amax / 127 / 2;
    }
  }
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.abs(w[n * K + k]) * half[m * K + k];
      out[m * N + n] = s;
    }
  }
  return out;
}
