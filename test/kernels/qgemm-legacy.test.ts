// The legacy 32-block formats Q5_0, Q4_1, Q5_1, IQ4_NL, MXFP4 (q8_0 partners) and
// their repacked forms: quantizer bytes against ggml (a committed fixture made by
// libggml-base, and a TypeScript port on wider data), dequantize against an
// independent reader on every ISA, matmul (GEMV M <= 8, int8 GEMM M > 8, plain and
// repacked) on every ISA against ref and float64, gather, and the error messages.
import * as fs from 'fs';
import * as path from 'path';
import { cpu, dequantize, gather, matmul, quantize, repack, REPACKABLE_DTYPES, repackSupported, setIsa, Tensor } from '../../lib';
import type { DType } from '../../lib';
import { DTYPES } from '../../lib/dtype';
import { forEachIsa, randn } from '../helpers';
import { actQuantBound, dequantRef, matmulRef } from '../reference/qgemm';
import { LEGACY, Legacy, quantizeLegacyRef } from '../reference/qgemm_legacy';

// ---- tolerances (why): as test/kernels/qgemm.test.ts ---------------------------------
// Both regimes quantize x to q8_0 blocks of 32 (each activation off by at most
// amax/254) and multiply exact integer codes: |out - x·deq(W)| <= actQuantBound + f32
// rounding (ACC_TOL * sum|x w|). SIMD against ref: the same integer operands, only the
// f32 summation order differs (SIMD_TOL * sum|x w|).
const ACC_TOL = 2e-6;
const SIMD_TOL = 1e-5;

const first = (a: Uint8Array, b: Uint8Array): number => {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
};

describe('legacy formats: quantize bytes equal ggml', () => {
  // test/fixtures/qgemm-legacy-ggml.json: ggml_quantize_chunk of libggml-base (llama.cpp
  // 80fb11a, the quantizer llama-quantize calls without an imatrix) on 4 x 128 floats
  // with an all-zero block, exact ties, a constant block, powers of two and an outlier.
  const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/qgemm-legacy-ggml.json'), 'utf8'));
  const input = new Float32Array(new Uint8Array(Buffer.from(fx.input, 'hex')).buffer);
  test.each(LEGACY.map((f) => [f]))('%s: the committed ggml bytes, and the TypeScript port agrees', (fmt) => {
    const want = new Uint8Array(Buffer.from(fx.bytes[fmt], 'hex'));
    const got = quantize(Tensor.from(input, [fx.rows, fx.cols]), fmt).bytes();
    expect({ fmt, diff: first(got, want) }).toEqual({ fmt, diff: -1 });
    expect({ fmt, diff: first(quantizeLegacyRef(fmt, input), want) }).toEqual({ fmt, diff: -1 });
  });

  test.each(LEGACY.map((f) => [f]))('%s: bytes equal the ggml port on 48 x 512 rows (scales 1e-4..1e4, ties, zeros)', (fmt) => {
    const rows = 48, K = 512;
    const x = randn(rows * K, 17);
    for (let r = 0; r < rows; r++) for (let k = 0; k < K; k++) x[r * K + k] *= 10 ** ((r % 9) - 4);
    x.fill(0, 0, 32);
    for (let k = 0; k < 32; k++) x[32 + k] = (k - 16) / 8;
    const got = quantize(Tensor.from(x, [rows, K]), fmt).bytes();
    expect({ fmt, diff: first(got, quantizeLegacyRef(fmt, x)) }).toEqual({ fmt, diff: -1 });
  });

  // hand-worked: q5_0 d = max / -16 with max = -16 -> d = 1, q = min(31, trunc(x + 16.5))
  test('q5_0 hand-worked block: fifth bits in qh, nibbles as q4_0', () => {
    const x = new Float32Array(32);
    x.set([-16, 15, 15.6, -0.5, 0.4]);
    x[16] = 3; x[20] = -7;
    const q = quantize(Tensor.from(x, [1, 32]), 'q5_0').bytes();
    const codes = new Array(32).fill(16);
    codes.splice(0, 5, 0, 31, 31, 16, 16);  // 15.6 + 16.5 = 32.1 -> capped at 31; -0.5 + 16.5 = 16
    codes[16] = 19; codes[20] = 9;
    let qh = 0;
    for (let j = 0; j < 32; j++) qh |= ((codes[j] >> 4) & 1) << j;
    expect([q[0], q[1]]).toEqual([0x00, 0x3c]);
    expect(new DataView(q.buffer, q.byteOffset).getUint32(2, true)).toBe(qh >>> 0);
    for (let j = 0; j < 16; j++) expect(q[6 + j]).toBe((codes[j] & 15) | ((codes[j + 16] & 15) << 4));
  });

  // RMSE on N(0, 1) data, 64 x 1024 weights, measured with this implementation (ggml's
  // reference algorithms): q5_0 0.0429, q4_1 0.0783, q5_1 0.0378, iq4_nl 0.0761, mxfp4
  // 0.1152. Asserted with 3% slack.
  const RMSE: Record<Legacy, number> = { q5_0: 0.0438, q4_1: 0.0801, q5_1: 0.0389, iq4_nl: 0.0781, mxfp4: 0.1186 };
  test.each(LEGACY.map((f) => [f]))('%s round trip: RMSE within the reference error; dequantize equals the independent reader on every ISA', (fmt) => {
    const rows = 64, K = 1024;
    const x = randn(rows * K, 5);
    const q = quantize(Tensor.from(x, [rows, K]), fmt);
    expect(q.dtype).toBe(fmt);
    const ref = dequantRef(fmt, q.bytes(), rows * K);
    forEachIsa((isa) => {
      const d = dequantize(q).toArray() as Float32Array;
      let bad = -1;
      for (let i = 0; i < d.length; i++) if (d[i] !== ref[i]) { bad = i; break; }
      expect({ isa, fmt, bad }).toEqual({ isa, fmt, bad: -1 });
    });
    let e = 0;
    for (let i = 0; i < x.length; i++) e += (ref[i] - x[i]) ** 2;
    expect({ fmt, rmse: Math.sqrt(e / x.length) <= RMSE[fmt] }).toEqual({ fmt, rmse: true });
  });
});

describe('dtype tables', () => {
  test('lib/dtype.ts mirrors blocks.h kDTypeTraits row for row (ids, names, block sizes)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { native } = require('../../lib/native');
    const rows = native.dtypeTraits() as Array<{ id: number; name: string; blockElems: number; blockBytes: number; quantized: boolean }>;
    expect(rows.length).toBe(Object.keys(DTYPES).length);
    for (const r of rows) expect(DTYPES[r.name as DType]).toEqual(r);
  });
});

describe('legacy formats: repack', () => {
  test('repackSupported / REPACKABLE_DTYPES list every repackable format', () => {
    for (const f of [...LEGACY, 'q4_0', 'q8_0', 'q4_k', 'q6_k']) expect({ f, ok: repackSupported(f) }).toEqual({ f, ok: true });
    for (const f of ['q5_k', 'f16', 'q5_0x16', 'nope']) expect({ f, ok: repackSupported(f) }).toEqual({ f, ok: false });
    expect(REPACKABLE_DTYPES).toEqual(expect.arrayContaining([...LEGACY]));
  });

  test.each(LEGACY.map((f) => [f]))('%sx16: same size, round trip byte-exact, dequantize bit-identical; layout of row 21 block 2', (fmt) => {
    const N = 48, K = 96;
    const W = quantize(Tensor.from(randn(N * K, 3), [N, K]), fmt);
    const P = repack(W);
    expect(P.dtype).toBe(`${fmt}x16`);
    expect(P.byteLength).toBe(W.byteLength);
    expect(first(repack(P).bytes(), W.bytes())).toBe(-1);
    expect(first(new Uint8Array(dequantize(P).bytes()), new Uint8Array(dequantize(W).bytes()))).toBe(-1);
    // blocks.h: group g = 1, row r = 5, block b = 2; qs[j][4r + e] = plain qs[4j + e]
    const bb = { q5_0: 22, q4_1: 20, q5_1: 24, iq4_nl: 18, mxfp4: 17 }[fmt];
    const qsOff = { q5_0: 6, q4_1: 4, q5_1: 8, iq4_nl: 2, mxfp4: 1 }[fmt];
    const xqs = { q5_0: 32 + 64, q4_1: 64, q5_1: 64 + 64, iq4_nl: 32, mxfp4: 16 }[fmt];  // d / m / qh before qs
    const p = (21 * 3 + 2) * bb, q = (1 * 3 + 2) * 16 * bb;
    for (let k = 0; k < 16; k++) expect(P.bytes()[q + xqs + 64 * (k >> 2) + 4 * 5 + (k & 3)]).toBe(W.bytes()[p + qsOff + k]);
  });
});

describe('legacy formats: matmul vs dequantize-then-float64', () => {
  // K: one block, two, three, and 4096 + 32 (a long row with a tail past the GEMM's K
  // chunk); N: 1, 3, 17, 33 (row tails of the 4-row GEMV and the 16/32-row GEMM panels),
  // 16 and 48 for the repacked forms; M: 1..8 (GEMV, activation tails), 9 and 20 (GEMM).
  const cases: Array<[number, number, number]> = [];
  for (const K of [32, 64, 96]) for (const N of [1, 3, 17, 33]) for (const M of [1, 3, 8, 9]) cases.push([M, N, K]);
  for (const M of [2, 5, 7, 20]) cases.push([M, 33, 160]);
  cases.push([1, 17, 4128], [9, 33, 4128]);
  for (const fmt of LEGACY) {
    for (const [M, N, K] of cases) {
      test(`qgemm(fmt=${fmt},m=${M},n=${N},k=${K}) every ISA vs ref (tight) and ref vs float64 (stated bound)`, () => {
        check(fmt, M, N, K, false);
      });
    }
    for (const [M, N, K] of [[1, 16, 32], [3, 48, 96], [8, 32, 4128], [9, 48, 160], [20, 16, 64]] as const) {
      test(`qgemm(fmt=${fmt}x16,m=${M},n=${N},k=${K}) every ISA vs ref and float64; ref bit-identical to the plain layout, GEMM on every ISA`, () => {
        check(fmt, M, N, K, true);
      });
    }
  }

  function check(fmt: Legacy, M: number, N: number, K: number, packed: boolean) {
    const w = randn(N * K, M * 7 + N * 13 + K);
    const x = randn(M * K, M + N + K, 2);
    const bias = randn(N, 3);
    const W = quantize(Tensor.from(w, [N, K]), fmt);
    const Wm = packed ? repack(W) : W;
    const wd = dequantRef(fmt, W.bytes(), N * K);
    const { y: ref, mag } = matmulRef(x, wd, M, N, K, bias);
    const aq = actQuantBound(x, wd, M, N, K, 32);
    const outs: Record<string, Float32Array> = {}, plain: Record<string, Float32Array> = {};
    forEachIsa((isa) => {
      outs[isa] = matmul(Tensor.from(x, [M, K]), Wm, { bias: Tensor.from(bias) }).toArray() as Float32Array;
      if (packed) plain[isa] = matmul(Tensor.from(x, [M, K]), W, { bias: Tensor.from(bias) }).toArray() as Float32Array;
    });
    let worst = 0;
    for (let i = 0; i < M * N; i++) worst = Math.max(worst, Math.abs(outs.ref[i] - ref[i]) / (aq[i] * 1.0001 + ACC_TOL * mag[i] + 1e-6));
    expect({ fmt, M, N, K, refVsF64: worst <= 1 ? 'ok' : worst }).toEqual({ fmt, M, N, K, refVsF64: 'ok' });
    for (const [isa, o] of Object.entries(outs)) {
      let ws = 0;
      for (let i = 0; i < M * N; i++) ws = Math.max(ws, Math.abs(o[i] - outs.ref[i]) / (SIMD_TOL * mag[i] + 1e-6));
      expect({ isa, fmt, M, N, K, vsRef: ws <= 1 ? 'ok' : ws }).toEqual({ isa, fmt, M, N, K, vsRef: 'ok' });
      // the same integer operands in the same order: the scalar GEMV, and every GEMM (its
      // panel is the same bytes from either layout), give the plain layout's bits
      if (packed && (isa === 'ref' || M > 8)) expect({ isa, same: first(new Uint8Array(o.buffer), new Uint8Array(plain[isa].buffer)) }).toEqual({ isa, same: -1 });
    }
  }

  // codes at their extremes against activations at +-127: maddubs pairs summed in int16
  // (AVX2) or offset codes (VNNI) would saturate or overflow here, not on Gaussian data
  test.each(LEGACY.map((f) => [f]))('%s: extreme codes and activations, GEMV and GEMM, every ISA equals ref and float64', (fmt) => {
    const N = 32, K = 512;
    const w = new Float32Array(N * K);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) w[n * K + k] = (k % 32 === 0) === (n % 2 === 0) ? -1 : 0.97;
    for (const M of [3, 9]) {
      for (const sign of [1, -1]) {
        const x = new Float32Array(M * K).fill(sign);
        const W = quantize(Tensor.from(w, [N, K]), fmt);
        const wd = dequantRef(fmt, W.bytes(), N * K);
        const { y: ref, mag } = matmulRef(x, wd, M, N, K);
        const aq = actQuantBound(x, wd, M, N, K, 32);
        for (const Wm of [W, repack(W)]) {
          const outs: Record<string, Float32Array> = {};
          forEachIsa((isa) => { outs[isa] = matmul(Tensor.from(x, [M, K]), Wm).toArray() as Float32Array; });
          for (const [isa, o] of Object.entries(outs)) {
            let ws = 0, wr = 0;
            for (let i = 0; i < M * N; i++) {
              ws = Math.max(ws, Math.abs(o[i] - outs.ref[i]) / (SIMD_TOL * mag[i] + 1e-6));
              wr = Math.max(wr, Math.abs(o[i] - ref[i]) / (aq[i] * 1.0001 + ACC_TOL * mag[i] + 1e-6));
            }
            expect({ isa, fmt: Wm.dtype, M, sign, vsRef: ws <= 1 ? 'ok' : ws, vsF64: wr <= 1 ? 'ok' : wr })
              .toEqual({ isa, fmt: Wm.dtype, M, sign, vsRef: 'ok', vsF64: 'ok' });
          }
        }
      }
    }
  });

  test('reports which ISA each legacy kernel resolved to', () => {
    const k = cpu().kernels;
    for (const f of LEGACY) {
      for (const n of [`dequantize_row_${f}`, `gemv_${f}_q8_0`, `gemv_${f}x16_q8_0`, `gemm_${f}_q8_0`, `gemm_${f}x16_q8_0`]) {
        expect({ n, isa: k[`qgemm.${n}`] }).toEqual({ n, isa: cpu().bestIsa });
      }
    }
    setIsa(cpu().bestIsa);
  });
});

describe('legacy formats: gather', () => {
  test.each(LEGACY.map((f) => [f]))('gather(table=%s) rows equal the independent reader on every ISA', (fmt) => {
    const V = 37, D = 96;
    const T = quantize(Tensor.from(randn(V * D, 8), [V, D]), fmt);
    const wd = dequantRef(fmt, T.bytes(), V * D);
    const ids = [0, 36, 5, 5, 17];
    forEachIsa((isa) => {
      const y = gather(T, Int32Array.from(ids)).toArray() as Float32Array;
      let bad = -1;
      ids.forEach((id, t) => { for (let d = 0; d < D; d++) if (bad < 0 && y[t * D + d] !== wd[id * D + d]) bad = t * D + d; });
      expect({ isa, fmt, bad }).toEqual({ isa, fmt, bad: -1 });
    });
  });
});

describe('legacy formats: errors', () => {
  test('quantize, repack and matmul name the argument, the expectation and what they got', () => {
    expect(() => quantize(Tensor.zeros([2, 48]), 'q5_0')).toThrow(new RangeError('quantize: Expected a last dimension that is a multiple of 32 (the q5_0 block) for x.shape but received [2, 48]'));
    const W = quantize(Tensor.zeros([8, 64]), 'iq4_nl');
    expect(() => repack(W)).toThrow(new RangeError('repack: Expected [..., N, K] with N a multiple of 16 (the repacked row group) for W.shape but received [8, 64]'));
    expect(() => repack(quantize(Tensor.zeros([16, 64]), 'mxfp4'), 'q4_0x16' as DType)).toThrow(new TypeError("repack: Expected 'mxfp4x16' (the pair of 'mxfp4') for to but received 'q4_0x16'"));
    expect(() => matmul(Tensor.zeros([2, 32]), W)).toThrow(new RangeError('matmul: Expected [M, 64] for x.shape but received [2, 32]'));
    const P = repack(quantize(Tensor.zeros([16, 64]), 'q4_1'));
    expect(() => matmul(Tensor.zeros([1, 64]), Tensor.fromBytes(P.bytes().subarray(0, 8 * 2 * 20), 'q4_1x16', [8, 64]))).toThrow(/N a multiple of 16/);
  });
  test('the native layer re-checks formats and sizes', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { native } = require('../../lib/native');
    const out = new Float32Array(8), x = new Float32Array(128);
    const W = quantize(Tensor.zeros([4, 64]), 'q5_1');
    expect(() => native.matmul(out, x, false, 2, 64, new Uint8Array(10), 7, 4, null)).toThrow(/at least 192 bytes for W/);
    expect(() => native.matmul(out, x, false, 2, 48, W.bytes(), 7, 4, null)).toThrow(/multiple of 32 \(the q5_1 block\) for K/);
    expect(() => native.repack(new Uint8Array(W.byteLength), 111, W.bytes(), 7, 4, 64)).toThrow(/q5_1 <-> q5_1x16/);
  });
});
