import { dequantize, matmul, quantize, Tensor, toHalf, QUANT_FORMATS, setIsa, cpu } from '../../lib';
import type { DType, QuantFormat } from '../../lib';
import { forEachIsa, randn } from '../helpers';
import { actQuantBound, dequantRef, matmulRef, quantizeQ4_0Ref, quantizeQ8_0Ref } from '../reference/qgemm';

// ---- tolerances (why) ---------------------------------------------------------------
// GEMV (M <= 8), quantized W: activations are quantized to int8 (q8_0 blocks of 32 for
// q4_0/q8_0, q8_K blocks of 256 for the K-quants), each off by at most d/2 = amax/254;
// so |out - x·deq(W)| <= sum_k |w_k| * amax_block(k)/254 (actQuantBound), plus f32
// rounding of the sums (ACC_TOL * sum|x w|).
// GEMM (M > 8), quantized W: int8 x int8 block dots as llama.cpp does them: x is
// quantized as for the GEMV (the same partner blocks), W to exact integer codes with
// f32 factors per 32 (16 for q6_k), so the result is x_q · deq(W) up to the f32
// rounding of the per-block scaling: actQuantBound, plus ACC_TOL * sum|x w|.
// bf16 W runs as bf16 x bf16 products: x is rounded to bf16 (relative error <= 2^-9),
// so |err| <= 2^-8 * sum|x w| (+ f32 sums); f32 and f16 W run in f32: ACC_TOL * sum|x w|.
// Every SIMD path against ref: the same int8 / bf16 operands, only the f32 summation
// order differs: SIMD_TOL * sum|x w|.
const ACC_TOL = 2e-6;
const BF16_TOL = 2 ** -8 + 2 ** -16;
const SIMD_TOL = 1e-5;

const WEIGHT_FORMATS: QuantFormat[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_k', 'q5_k', 'q6_k'];
const BLOCK: Record<string, number> = { f32: 1, f16: 1, bf16: 1, q8_0: 32, q4_0: 32, q4_k: 256, q5_k: 256, q6_k: 256, q8_k: 256 };
const PARTNER_BLOCK: Record<string, number> = { q8_0: 32, q4_0: 32, q4_k: 256, q5_k: 256, q6_k: 256 };

function hex(u: Uint8Array): string {
  return Array.from(u, (b) => b.toString(16).padStart(2, '0')).join('');
}

describe('quantize: bytes equal ggml reference quantizers', () => {
  test('q8_0 hand-worked block: d = 1 (fp16 0x3c00), roundf ties away from zero', () => {
    const x = new Float32Array(32);
    x.set([127, 2.5, -2.5, 3.5, 0.49, -1.5, -127, 0.5]);
    const q = quantize(Tensor.from(x, [1, 32]), 'q8_0').bytes();
    const want = new Uint8Array(34);
    want.set([0x00, 0x3c]); // d = 1.0
    // 127, 3 (2.5 away from zero), -3, 4, 0, -2, -127, 1 (0.5 away from zero)
    new Int8Array(want.buffer).set([127, 3, -3, 4, 0, -2, -127, 1], 2);
    expect(hex(q)).toBe(hex(want));
  });

  test('q4_0 hand-worked blocks: d = max / -8, q = min(15, trunc(x/d + 8.5))', () => {
    const x = new Float32Array(64);
    // block 0: largest magnitude -8 -> d = 1: q = trunc(x + 8.5) capped at 15
    x.set([-8, 7, 7.4, -0.5, 0.5, 6.6, 7.6, -7.9]);
    x[16] = 1; x[17] = -1;
    // block 1: largest magnitude +8 -> d = -1: q = trunc(8.5 - x)
    x.set([8, -7, 0.25, 3], 32);
    const q = quantize(Tensor.from(x, [2, 32]), 'q4_0').bytes();
    const want = new Uint8Array(36);
    want.set([0x00, 0x3c]); // d = 1
    const lo0 = [0, 15, 15, 8, 9, 15, 15, 0].concat(new Array(8).fill(8));
    const hi0 = [9, 7].concat(new Array(14).fill(8));
    for (let j = 0; j < 16; j++) want[2 + j] = lo0[j] | (hi0[j] << 4);
    want.set([0x00, 0xbc], 18); // d = -1
    const lo1 = [0, 15, 8, 5].concat(new Array(12).fill(8));
    for (let j = 0; j < 16; j++) want[20 + j] = lo1[j] | (8 << 4);
    expect(hex(q)).toBe(hex(want));
  });

  test('q8_0 and q4_0 bytes equal the ggml reference on random rows (zeros, ties, scales 1e-3..1e3)', () => {
    const rows = 24, K = 256;
    const x = randn(rows * K, 11);
    for (let r = 0; r < rows; r++) for (let k = 0; k < K; k++) x[r * K + k] *= 10 ** ((r % 7) - 3);
    x.fill(0, 0, 32); // an all-zero block
    for (let k = 0; k < 32; k++) x[32 + k] = (k - 16) / 4; // many exact ties
    for (const [fmt, refq] of [['q8_0', quantizeQ8_0Ref], ['q4_0', quantizeQ4_0Ref]] as const) {
      const got = quantize(Tensor.from(x, [rows, K]), fmt).bytes();
      const want = refq(x);
      let diff = -1;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) { diff = i; break; }
      expect({ fmt, diff }).toEqual({ fmt, diff: -1 });
    }
  });

  // RMSE on N(0, 1) data, 64 x 1024 weights. Measured with this implementation of
  // ggml's reference search (the same algorithms, so the same error as ggml's
  // reference): q8_0 0.0052, q4_0 0.0845, q4_k 0.0701, q5_k 0.0357, q6_k 0.0175,
  // q8_k 0.0068, f16 0.0002, bf16 0.0016, iq4_xs 0.0764, q3_k 0.1504, q2_k 0.2952 (bytes equal
  // llama-quantize's: test/kernels/qgemm-k.test.ts). Asserted with 3% slack.
  const RMSE: Record<string, number> = { f32: 0, f16: 2.2e-4, bf16: 1.7e-3, q8_0: 0.0054, q4_0: 0.087, q4_k: 0.0722, q5_k: 0.0368, q6_k: 0.0181, q8_k: 0.0071,
    iq4_xs: 0.0787, q3_k: 0.155, q2_k: 0.304 };
  // the legacy 32-block formats (measured as above: q5_0 0.0425, q4_1 0.0777, q5_1 0.0377, iq4_nl 0.0758, mxfp4 0.1151)
  Object.assign(RMSE, { q5_0: 0.0438, q4_1: 0.0801, q5_1: 0.0389, iq4_nl: 0.0781, mxfp4: 0.1186 });
  test.each(QUANT_FORMATS.map((f) => [f]))('%s round trip: RMSE on Gaussian data within the reference error; dequantize equals an independent reader', (fmt) => {
    const rows = 64, K = 1024;
    const x = randn(rows * K, 5);
    const q = quantize(Tensor.from(x, [rows, K]), fmt);
    expect(q.dtype).toBe(fmt);
    expect(q.shape).toEqual([rows, K]);
    const ref = dequantRef(fmt, q.bytes(), rows * K);
    forEachIsa((isa) => {
      const d = dequantize(q).toArray() as Float32Array;
      let bad = -1;
      for (let i = 0; i < d.length; i++) if (d[i] !== ref[i]) { bad = i; break; }
      expect({ isa, fmt, bad }).toEqual({ isa, fmt, bad: -1 });
    });
    let e = 0;
    for (let i = 0; i < x.length; i++) e += (ref[i] - x[i]) ** 2;
    const rmse = Math.sqrt(e / x.length);
    expect({ fmt, ok: rmse <= RMSE[fmt] }).toEqual({ fmt, ok: true });
  });
});

function makeWeight(fmt: DType, w: Float32Array, N: number, K: number): Tensor {
  return quantize(Tensor.from(w, [N, K]), fmt as QuantFormat);
}

describe('matmul vs dequantize-then-float64', () => {
  // M = 9 and N = 37: the GEMM's first M, activation-panel and W-panel tails (32 + 5 rows
  // on AVX-512, 16 + 16 + 5 on AVX2); the third K (33 or 40 blocks of 32) crosses the
  // GEMM's K chunk of 32 blocks.
  const shapes: Array<[number, number]> = [[1, 33], [2, 17], [7, 5], [9, 37], [64, 13], [333, 7]];
  for (const fmt of WEIGHT_FORMATS) {
    const blk = BLOCK[fmt];
    const Ks = blk === 256 ? [256, 512, 1280] : blk === 32 ? [96, 160, 1056] : [1, 97];
    for (const [M, N] of shapes) {
      for (const K of Ks) {
        if (M === 333 && K !== Ks[1]) continue;
        if (K === Ks[2] && M !== 9) continue;
        test(`qgemm(fmt=${fmt},m=${M},n=${N},k=${K}) every ISA vs ref (tight) and ref vs float64 (stated bound)`, () => {
          const w = randn(N * K, M * 7 + N * 13 + K);
          const x = randn(M * K, M + N + K, 2);
          const bias = randn(N, 3);
          const W = makeWeight(fmt, w, N, K);
          const wd = dequantRef(fmt, W.bytes(), N * K);
          const { y: ref, mag } = matmulRef(x, wd, M, N, K, bias);
          const gemv = M <= 8;
          const aq = PARTNER_BLOCK[fmt] ? actQuantBound(x, wd, M, N, K, PARTNER_BLOCK[fmt]) : null;
          const bfc = !gemv && fmt === 'bf16';
          const outs: Record<string, Float32Array> = {};
          forEachIsa((isa) => {
            outs[isa] = matmul(Tensor.from(x, [M, K]), W, { bias: Tensor.from(bias) }).toArray() as Float32Array;
          });
          const r = outs.ref;
          let worst = 0;
          for (let i = 0; i < M * N; i++) {
            const bound = (aq ? aq[i] * 1.0001 : 0) + (bfc ? BF16_TOL : 0) * mag[i] + ACC_TOL * mag[i] + 1e-6;
            worst = Math.max(worst, Math.abs(r[i] - ref[i]) / bound);
          }
          expect({ fmt, M, N, K, refVsF64: worst <= 1 ? 'ok' : worst }).toEqual({ fmt, M, N, K, refVsF64: 'ok' });
          for (const [isa, o] of Object.entries(outs)) {
            let ws = 0;
            for (let i = 0; i < M * N; i++) ws = Math.max(ws, Math.abs(o[i] - r[i]) / (SIMD_TOL * mag[i] + 1e-6));
            expect({ isa, fmt, M, N, K, vsRef: ws <= 1 ? 'ok' : ws }).toEqual({ isa, fmt, M, N, K, vsRef: 'ok' });
          }
        });
      }
    }
  }

  test('one 1-D row, bf16 x, out given, no bias', () => {
    const K = 64, N = 9;
    const w = randn(N * K, 1), x = randn(K, 2);
    const W = quantize(Tensor.from(w, [N, K]), 'q8_0');
    const out = Tensor.zeros([N]);
    expect(matmul(Tensor.from(x), W, undefined, out)).toBe(out);
    const y1 = out.toArray();
    const xb = toHalf(x, [1, K], 'bf16');
    const y2 = matmul(xb, W).toArray();
    const xr = xb.toArray() as Float32Array;
    const y3 = matmul(Tensor.from(xr, [1, K]), W).toArray();
    expect(Array.from(y2)).toEqual(Array.from(y3));
    const { y: ref } = matmulRef(x, dequantRef('q8_0', W.bytes(), N * K), 1, N, K);
    for (let n = 0; n < N; n++) expect(Math.abs(y1[n] - ref[n])).toBeLessThan(0.05 * Math.sqrt(K));
  });

  // The int8 GEMM quantizes x exactly as the GEMV does, so a row's output does not depend
  // on the batch it came in: rows 0..7 of a 9-row matmul (GEMM) equal the 8-row matmul
  // (GEMV) up to f32 summation order.
  test('quantized W: GEMM (M = 9) rows equal GEMV (M = 8) rows on every ISA', () => {
    const N = 37;
    for (const fmt of ['q4_0', 'q8_0', 'q4_k', 'q5_k', 'q6_k'] as const) {
      const K = BLOCK[fmt] === 256 ? 512 : 160;
      const w = randn(N * K, 21), x = randn(9 * K, 22);
      const W = quantize(Tensor.from(w, [N, K]), fmt);
      const { mag } = matmulRef(x, dequantRef(fmt, W.bytes(), N * K), 9, N, K);
      forEachIsa((isa) => {
        const g = matmul(Tensor.from(x, [9, K]), W).toArray() as Float32Array;
        const v = matmul(Tensor.from(x.subarray(0, 8 * K), [8, K]), W).toArray() as Float32Array;
        let ws = 0;
        for (let i = 0; i < 8 * N; i++) ws = Math.max(ws, Math.abs(g[i] - v[i]) / (SIMD_TOL * mag[i] + 1e-6));
        expect({ isa, fmt, gemmVsGemv: ws <= 1 ? 'ok' : ws }).toEqual({ isa, fmt, gemmVsGemv: 'ok' });
      });
    }
  });

  // Codes at their extremes against activations at +-127 (x = +-1 quantizes to 127): the
  // AVX2 kernel sums maddubs pairs in int16 over several groups and VNNI offsets q8_0
  // codes by 128; a saturation or overflow would show here, not on Gaussian data.
  test('quantized W: the int8 GEMM at extreme codes and activations equals ref and float64', () => {
    const M = 9, N = 19, K = 512;
    const w = new Float32Array(N * K);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) w[n * K + k] = (k % 32 === 0) === (n % 2 === 0) ? -1 : 0.875;
    for (const sign of [1, -1]) {
      const x = new Float32Array(M * K).fill(sign);
      for (const fmt of ['q4_0', 'q8_0', 'q4_k', 'q5_k', 'q6_k'] as const) {
        const W = quantize(Tensor.from(w, [N, K]), fmt);
        const wd = dequantRef(fmt, W.bytes(), N * K);
        const { y: ref, mag } = matmulRef(x, wd, M, N, K);
        const aq = actQuantBound(x, wd, M, N, K, PARTNER_BLOCK[fmt]);
        const outs: Record<string, Float32Array> = {};
        forEachIsa((isa) => { outs[isa] = matmul(Tensor.from(x, [M, K]), W).toArray() as Float32Array; });
        for (const [isa, o] of Object.entries(outs)) {
          let ws = 0, wr = 0;
          for (let i = 0; i < M * N; i++) {
            ws = Math.max(ws, Math.abs(o[i] - outs.ref[i]) / (SIMD_TOL * mag[i] + 1e-6));
            wr = Math.max(wr, Math.abs(o[i] - ref[i]) / (aq[i] * 1.0001 + ACC_TOL * mag[i] + 1e-6));
          }
          expect({ isa, fmt, sign, vsRef: ws <= 1 ? 'ok' : ws, vsF64: wr <= 1 ? 'ok' : wr })
            .toEqual({ isa, fmt, sign, vsRef: 'ok', vsF64: 'ok' });
        }
      }
    }
  });

  test('GEMV at K = 4096 and N = 4096 rows split over threads matches ref', () => {
    const K = 4096, N = 67;
    const w = randn(N * K, 9), x = randn(K, 10);
    for (const fmt of ['q4_0', 'q4_k', 'q6_k'] as const) {
      const W = quantize(Tensor.from(w, [N, K]), fmt);
      const outs: Float32Array[] = [];
      forEachIsa(() => { outs.push(matmul(Tensor.from(x, [1, K]), W).toArray() as Float32Array); });
      const { mag } = matmulRef(x, dequantRef(fmt, W.bytes(), N * K), 1, N, K);
      for (const o of outs) for (let n = 0; n < N; n++) expect(Math.abs(o[n] - outs[0][n])).toBeLessThanOrEqual(SIMD_TOL * mag[n]);
    }
  });

  test('reports which ISA each qgemm kernel resolved to', () => {
    const k = cpu().kernels;
    expect(k['qgemm.gemv_q4_0_q8_0']).toBeDefined();
    expect(k['qgemm.gemm_bf16']).toBeDefined();
    for (const f of ['q4_0_q8_0', 'q8_0_q8_0', 'q4_K_q8_K', 'q5_K_q8_K', 'q6_K_q8_K']) expect(k[`qgemm.gemm_${f}`]).toBe(cpu().bestIsa);
    setIsa(cpu().bestIsa);
  });
});

describe('qgemm errors', () => {
  const W = quantize(Tensor.zeros([4, 64]), 'q4_0');
  test('quantize', () => {
    expect(() => quantize(Tensor.zeros([2, 48]), 'q4_0')).toThrow(new RangeError('quantize: Expected a last dimension that is a multiple of 32 (the q4_0 block) for x.shape but received [2, 48]'));
    expect(() => quantize(Tensor.zeros([2, 256]), 'iq2_xs' as QuantFormat)).toThrow(TypeError);
    expect(() => quantize(Tensor.zeros([2, 256], 'i32'), 'q8_0')).toThrow(TypeError);
    expect(() => dequantize(Tensor.zeros([2, 2], 'i32'))).toThrow(/x.dtype/);
  });
  test('matmul', () => {
    expect(() => matmul(Tensor.zeros([2, 63]), W)).toThrow(new RangeError('matmul: Expected [M, 64] for x.shape but received [2, 63]'));
    expect(() => matmul(Tensor.zeros([2, 64], 'i32'), W)).toThrow(TypeError);
    expect(() => matmul(Tensor.zeros([2, 64]), Tensor.zeros([4, 64], 'i8'))).toThrow(/W.dtype/);
    expect(() => matmul(Tensor.zeros([2, 64]), W, { bias: Tensor.zeros([3]) })).toThrow(new RangeError('matmul: Expected [4] for opts.bias.shape but received [3]'));
    expect(() => matmul(Tensor.zeros([2, 64]), W, {}, Tensor.zeros([2, 5]))).toThrow(/out.shape/);
    expect(() => matmul(Tensor.zeros([2, 64]), quantize(Tensor.zeros([4, 64]), 'q4_0').reshape([256]))).toThrow(/W.shape/);
  });
  test('the native layer re-checks sizes', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { native } = require('../../lib/native');
    const out = new Float32Array(8), x = new Float32Array(128);
    expect(() => native.matmul(out, x, false, 2, 64, new Uint8Array(10), 2, 4, null)).toThrow(/at least 144 bytes for W/);
    expect(() => native.matmul(out, x, false, 2, 48, W.bytes(), 2, 4, null)).toThrow(/multiple of 32 \(the q4_0 block\) for K/);
    expect(() => native.matmul(out, x, false, 2, 64, W.bytes(), 999, 4, null)).toThrow(/Expected a dtype id \(one of f32=0, .*\) for wtype but received 999/);
    expect(() => native.matmul(out, x, false, 3, 64, W.bytes(), 2, 4, null)).toThrow(/for out/);
    expect(() => native.quantize(new Uint8Array(1), 2, x, 2, 64)).toThrow(/for dst/);
  });
});
