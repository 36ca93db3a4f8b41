// The repacked GEMV formats q4_0x16 / q8_0x16 (lib/ops/qgemm.ts repack()): the
// layout byte by byte against an independent TypeScript index computation, the
// round trip, and matmul on every ISA against the plain format's matmul and the
// float64 reference.
import { dequantize, matmul, quantize, repack, Tensor } from '../../lib';
import { native } from '../../lib/native';
import { forEachIsa, randn } from '../helpers';
import { actQuantBound, dequantRef, matmulRef } from '../reference/qgemm';

// Tolerances (why): a repacked matrix holds the same int8 operands as the plain one and
// the activations are quantized by the same routine, so only the f32 summation order
// differs: SIMD_TOL * sum|x w| (as qgemm.test.ts between ISA paths). Against float64,
// the int8 activation bound of qgemm.test.ts (actQuantBound) plus f32 sums.
const SIMD_TOL = 1e-5;
const ACC_TOL = 2e-6;

type Base = 'q4_0' | 'q8_0' | 'q4_k' | 'q6_k';
function weight(fmt: Base, N: number, K: number, seed: number): Tensor {
  return quantize(Tensor.from(randn(N * K, seed), [N, K]), fmt);
}

describe('repack: layout', () => {
  for (const fmt of ['q4_0', 'q8_0'] as const) {
    test(`${fmt}x16 bytes sit where blocks.h says (group-major, 4 weights x 16 rows per 64 bytes)`, () => {
      const N = 32, K = 96, nb = K / 32;
      const W = weight(fmt, N, K, 5);
      const P = repack(W);
      expect(P.dtype).toBe(`${fmt}x16`);
      expect(P.shape).toEqual([N, K]);
      const src = W.bytes(), dst = P.bytes();
      expect(dst.length).toBe(src.length);
      const bb = fmt === 'q4_0' ? 18 : 34; // plain block bytes
      const kb = fmt === 'q4_0' ? 16 : 32; // quant bytes per plain block
      const gbb = 16 * bb; // one repacked block: 16 scales then kb/4 vectors of 64 bytes
      for (let n = 0; n < N; n++) {
        const g = Math.floor(n / 16), r = n % 16;
        for (let b = 0; b < nb; b++) {
          const p = (n * nb + b) * bb; // plain block
          const q = (g * nb + b) * gbb; // repacked block
          expect([dst[q + 2 * r], dst[q + 2 * r + 1]]).toEqual([src[p], src[p + 1]]);
          for (let k = 0; k < kb; k++) {
            const j = Math.floor(k / 4), e = k % 4;
            if (dst[q + 32 + 64 * j + 4 * r + e] !== src[p + 2 + k]) {
              throw new Error(`${fmt}: row ${n} block ${b} byte ${k} misplaced`);
            }
          }
        }
      }
    });
  }

  test('q4_kx16 decodes the 6-bit scales into bytes; q6_kx16 keeps the int8 scales transposed', () => {
    const N = 16, K = 256;
    const W4 = weight('q4_k', N, K, 11), P4 = repack(W4);
    expect(P4.bytes().length).toBe((N * K / 256) * 148);
    const s4 = W4.bytes(), d4 = P4.bytes();
    for (let r = 0; r < N; r++) {
      const sc = s4.subarray(r * 144 + 4, r * 144 + 16); // the 12 scale bytes of row r
      for (let j = 0; j < 8; j++) {
        // ggml's get_scale_min_k4, re-derived
        const want = j < 4 ? sc[j] & 63 : (sc[j + 4] & 15) | ((sc[j - 4] >> 6) << 4);
        const wantM = j < 4 ? sc[j + 4] & 63 : (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
        expect([d4[64 + 16 * j + r], d4[192 + 16 * j + r]]).toEqual([want, wantM]);
      }
    }
    const W6 = weight('q6_k', N, K, 12), P6 = repack(W6);
    const s6 = W6.bytes(), d6 = P6.bytes();
    for (let r = 0; r < N; r++) for (let sb = 0; sb < 16; sb++) expect(d6[32 + 16 * sb + r]).toBe(s6[r * 210 + 192 + sb]);
  });

  test('round trip: repack(repack(W)) has the bytes of W; a stack of expert matrices repacks per matrix', () => {
    for (const fmt of ['q4_0', 'q8_0', 'q4_k', 'q6_k'] as const) {
      const K = fmt.endsWith('k') ? 512 : 64;
      const W = quantize(Tensor.from(randn(3 * 48 * K, 7), [3, 48, K]), fmt);
      const P = repack(W);
      const B = repack(P, fmt);
      expect(B.dtype).toBe(fmt);
      expect(Buffer.from(B.bytes()).equals(Buffer.from(W.bytes()))).toBe(true);
      expect(Array.from(dequantize(P).toArray())).toEqual(Array.from(dequantize(W).toArray()));
    }
  });
});

describe('repack: matmul on every ISA', () => {
  const cases: Array<[number, number, number]> = [
    [1, 16, 32], [1, 48, 96], [2, 64, 4096], [3, 16, 160], [7, 32, 64], [8, 48, 96], [9, 32, 96], [40, 16, 64],
    [13, 48, 1056],
  ];
  // the K-quants: K in whole super-blocks of 256
  const kcases: Array<[number, number, number]> = [[1, 16, 256], [1, 48, 512], [2, 32, 4096], [5, 16, 768], [8, 32, 256], [9, 16, 512], [13, 48, 1280]];
  for (const fmt of ['q4_0', 'q8_0', 'q4_k', 'q6_k'] as const) {
    for (const [M, N, K] of fmt.endsWith('k') ? kcases : cases) {
      test(`${fmt}x16 M=${M} N=${N} K=${K}: equals the plain format's matmul (summation order) and float64 (int8 bound)`, () => {
        const W = weight(fmt, N, K, M * 31 + N + K);
        const P = repack(W);
        const x = randn(M * K, M + N * 3 + K, 2);
        const bias = randn(N, 4);
        const wd = dequantRef(fmt, W.bytes(), N * K);
        const { y: ref, mag } = matmulRef(x, wd, M, N, K, bias);
        const aq = actQuantBound(x, wd, M, N, K, fmt.endsWith('k') ? 256 : 32);
        forEachIsa((isa) => {
          const yp = matmul(Tensor.from(x, [M, K]), P, { bias: Tensor.from(bias) }).toArray() as Float32Array;
          const yw = matmul(Tensor.from(x, [M, K]), W, { bias: Tensor.from(bias) }).toArray() as Float32Array;
          let worst = 0, worstRef = 0;
          for (let i = 0; i < M * N; i++) {
            worst = Math.max(worst, Math.abs(yp[i] - yw[i]) / (SIMD_TOL * mag[i] + 1e-6));
            worstRef = Math.max(worstRef, Math.abs(yp[i] - ref[i]) / (aq[i] * 1.0001 + ACC_TOL * mag[i] + 1e-6));
          }
          expect({ isa, vsPlain: worst <= 1 ? 'ok' : worst, vsF64: worstRef <= 1 ? 'ok' : worstRef })
            .toEqual({ isa, vsPlain: 'ok', vsF64: 'ok' });
          // M > 8: the int8 GEMM reads both into the same panels (same codes, same scales): the very same numbers
          if (M > 8) expect(Array.from(yp)).toEqual(Array.from(yw));
        });
      });
    }
  }
});

describe('repack: errors', () => {
  test('bad formats, shapes and buffers throw naming the argument', () => {
    const w = Tensor.from(randn(17 * 32, 1), [17, 32]);
    expect(() => repack(quantize(w, 'q4_0'))).toThrow(/repack: Expected \[\.\.\., N, K\] with N a multiple of 16.*W\.shape but received \[17, 32\]/);
    expect(() => repack(quantize(Tensor.from(randn(16 * 256, 2), [16, 256]), 'q5_k'))).toThrow(TypeError);
    expect(() => repack(quantize(Tensor.from(randn(16 * 32, 2), [16, 32]), 'q4_0'), 'q8_0x16')).toThrow(/for to/);
    expect(() => matmul(Tensor.zeros([1, 32]), Tensor.zeros([17, 32], 'q4_0x16'))).toThrow(/N a multiple of 16/);
    // the native layer checks on its own
    const a = new Uint8Array(18 * 16), b = new Uint8Array(18 * 16);
    expect(() => native.repack(a, 103, b, 2, 15, 32)).toThrow(/rows/);
    expect(() => native.repack(a, 103, b, 12, 16, 32)).toThrow(/format/);
    expect(() => native.repack(a, 103, b, 2, 16, 64)).toThrow(/bytes/);
    expect(() => native.repack(a, 103, a, 2, 16, 32)).toThrow(/overlap/);
    expect(() => native.matmul(new Float32Array(17).buffer, new Float32Array(32).buffer, false, 1, 32, new Uint8Array(18 * 17).buffer, 103, 17, null)).toThrow(/N/);
  });
});
