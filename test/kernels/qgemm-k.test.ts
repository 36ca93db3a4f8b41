// IQ4_XS, Q3_K and Q2_K (issue 14): quantize bytes against llama.cpp (a golden fixture made
// by llama-quantize, and llama-quantize itself where it is built), the repacked x16 layouts
// byte by byte, and matmul case tables on every ISA against ref and float64.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import {
  cpu, dequantize, ggufTensorBytes, matmul, quantize, readGguf, repack, setIsa, syntheticModel, Tensor, writeGguf,
  REPACKABLE_DTYPES, repackSupported,
} from '../../lib';
import { DTYPES } from '../../lib/dtype';
import { dtypeForGgmlType } from '../../lib/formats/gguf';
import { quantize as quantizeCommand } from '../../lib/commands/models';
import type { DType } from '../../lib';
import { native } from '../../lib/native';
import { forEachIsa, randn } from '../helpers';
import { actQuantBound, dequantRef, matmulRef, KVALUES_IQ4NL } from '../reference/qgemm';

// Tolerances (why), as qgemm.test.ts: activations are quantized to q8_K (blocks of 256),
// each off by at most d/2 = amax/254 (actQuantBound), plus f32 rounding of the sums
// (ACC_TOL * sum|x w|). The GEMV and the int8 GEMM multiply exact integer codes, so every
// SIMD path differs from ref only in the f32 summation order: SIMD_TOL * sum|x w|.
const ACC_TOL = 2e-6;
const SIMD_TOL = 1e-5;

const FMTS = ['iq4_xs', 'q3_k', 'q2_k'] as const;
type Fmt = (typeof FMTS)[number];
const BYTES: Record<Fmt, number> = { iq4_xs: 136, q3_k: 110, q2_k: 84 };
const PACKED_BYTES: Record<Fmt, number> = { iq4_xs: 138, q3_k: 114, q2_k: 84 };

// ---- llama.cpp's bytes ------------------------------------------------------------------
// The golden input: [16, 512] without transcendental functions (exact in any JS engine):
// Irwin-Hall sums of 4 integer-hash uniforms, scaled per row over 1e-3..1e1; row 1 starts
// with a zero super-block, row 2 is small integers (many exact ties), row 3 has outliers.
function goldenInput(rows = 16, cols = 512): Float32Array {
  const x = new Float32Array(rows * cols);
  let s = 0x9e3779b9;
  const u = () => {
    s = (s ^ (s << 13)) >>> 0; s = (s ^ (s >>> 17)) >>> 0; s = (s ^ (s << 5)) >>> 0;
    return s / 4294967296;
  };
  for (let r = 0; r < rows; r++) {
    const scale = 10 ** ((r % 5) - 3);
    for (let k = 0; k < cols; k++) x[r * cols + k] = (u() + u() + u() + u() - 2) * scale;
  }
  x.fill(0, cols, cols + 256);
  for (let k = 0; k < cols; k++) x[2 * cols + k] = ((k * 7) % 9) - 4;
  for (let k = 0; k < cols; k += 37) x[3 * cols + k] *= 40;
  return x;
}
const FIXTURE_DIR = path.join(__dirname, '..', 'fixtures', 'llama-quantize-k');
const LLAMA_QUANTIZE = process.env.LLAMA_QUANTIZE ?? '/work/llama.cpp-src/llama.cpp/build/bin/llama-quantize';
const GGML_NAME: Record<Fmt, string> = { iq4_xs: 'IQ4_XS', q3_k: 'Q3_K', q2_k: 'Q2_K' };

describe('quantize: bytes equal llama-quantize', () => {
  // test/fixtures/llama-quantize-k/<fmt>.bin: llama-quantize --pure <FMT> of an F32 GGUF whose
  // blk.0.ffn_down.weight [256, 512] starts with goldenInput(); the fixture is its first 16 rows
  // (the oracle test below re-derives it whenever llama-quantize is built).
  test.each(FMTS.map((f) => [f]))('%s: bytes of the golden rows equal the fixture llama-quantize wrote', (fmt) => {
    const want = fs.readFileSync(path.join(FIXTURE_DIR, `${fmt}.bin`));
    const got = quantize(Tensor.from(goldenInput(), [16, 512]), fmt).bytes();
    expect(want.length).toBe(16 * 2 * BYTES[fmt]);
    let first = -1;
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) { first = i; break; }
    expect({ fmt, firstDiff: first }).toEqual({ fmt, firstDiff: -1 });
  });

  // The oracle: a synthetic llama GGUF in F32 (every matrix's rows a multiple of 256, so
  // llama-quantize keeps the requested type), quantized by llama-quantize --pure and by
  // fuselm, compared tensor by tensor. Skips where llama-quantize is not built.
  const haveLq = fs.existsSync(LLAMA_QUANTIZE);
  (haveLq ? test : test.skip)(`every 2-D tensor of llama-quantize --pure output equals fuselm's quantize, and \`fuselm quantize\` writes the same tensors (${haveLq ? LLAMA_QUANTIZE : 'llama-quantize not built: skipped'})`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-lq-'));
    try {
      const m = syntheticModel({ arch: 'llama', dim: 256, nLayer: 1, nHead: 4, nHeadKv: 2, ffDim: 512, seed: 3 });
      const gold = goldenInput();
      const tensors = m.tensors.map((t) => {
        if (t.name !== 'blk.0.ffn_down.weight') return t;
        const x = new Float32Array((t.data as Tensor).toArray() as Float32Array);
        x.set(gold);
        return { ...t, data: Tensor.from(x, t.shape as number[]) };
      });
      const src = path.join(dir, 'f32.gguf');
      writeGguf(src, { metadata: m.metadata, tensors });
      const fin = readGguf(src);
      for (const fmt of FMTS) {
        const dst = path.join(dir, `${fmt}.gguf`);
        execFileSync(LLAMA_QUANTIZE, ['--pure', src, dst, GGML_NAME[fmt]], { stdio: 'pipe' });
        const fq = readGguf(dst);
        let compared = 0;
        for (const t of fq.tensors) {
          if (t.shape.length < 2) continue;
          expect({ name: t.name, type: t.typeName }).toEqual({ name: t.name, type: GGML_NAME[fmt] });
          const s = fin.tensors.find((u) => u.name === t.name)!;
          const x = new Float32Array(ggufTensorBytes(fin, s).slice().buffer);
          const cols = t.ne[0];
          const got = quantize(Tensor.from(x, [x.length / cols, cols]), fmt).bytes();
          const want = ggufTensorBytes(fq, t);
          expect({ fmt, name: t.name, equal: Buffer.from(got).equals(Buffer.from(want)) }).toEqual({ fmt, name: t.name, equal: true });
          if (t.name === 'blk.0.ffn_down.weight') {
            const fixture = fs.readFileSync(path.join(FIXTURE_DIR, `${fmt}.bin`));
            expect(Buffer.from(want.subarray(0, fixture.length)).equals(fixture)).toBe(true);
          }
          compared++;
        }
        expect({ fmt, compared }).toEqual({ fmt, compared: 9 });
        // the CLI: `fuselm quantize f32.gguf out.gguf <fmt>`, every tensor (norms stay f32) as llama-quantize's
        const ours = path.join(dir, `fuselm-${fmt}.gguf`);
        const write = process.stdout.write;
        process.stdout.write = (() => true) as typeof process.stdout.write;
        try { expect(await quantizeCommand.run([src, ours, fmt])).toBe(0); } finally { process.stdout.write = write; }
        const fo = readGguf(ours);
        expect(fo.tensors.length).toBe(fq.tensors.length);
        for (const t of fq.tensors) {
          const u = fo.tensors.find((v) => v.name === t.name)!;
          const same = u.typeName === t.typeName && Buffer.from(ggufTensorBytes(fo, u)).equals(Buffer.from(ggufTensorBytes(fq, t)));
          expect({ fmt, cli: t.name, same }).toEqual({ fmt, cli: t.name, same: true });
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('iq4_xs hand-worked block: levels, ls = 32 + round(scale / d), d = -max_scale / 32', () => {
    // one super-block whose 8 sub-blocks are the 16 levels twice, times 1..8: each sub-block's
    // best scale is exactly (j + 1) (every weight on a level), max_scale = 8, d = -0.25,
    // ls - 32 = round((j + 1) / -0.25) = -4 (j + 1)
    const x = new Float32Array(256);
    for (let j = 0; j < 8; j++) for (let l = 0; l < 32; l++) x[32 * j + l] = (j + 1) * KVALUES_IQ4NL[l % 16];
    const q = quantize(Tensor.from(x, [1, 256]), 'iq4_xs').bytes();
    const dv = new DataView(q.buffer, q.byteOffset);
    expect(dv.getUint16(0, true)).toBe(0xb400); // fp16(-0.25)
    for (let j = 0; j < 8; j++) {
      const ls = ((q[4 + (j >> 1)] >> (4 * (j & 1))) & 15) | (((dv.getUint16(2, true) >> (2 * j)) & 3) << 4);
      expect(ls - 32).toBe(-4 * (j + 1));
    }
    // weight l of a sub-block (l < 16) sits in the low nibble of qs[l], weight 16 + l in the high
    // nibble: d * (ls - 32) = j + 1 > 0, so weight l codes as level l % 16
    for (let j = 0; j < 8; j++) for (let l = 0; l < 16; l++) expect([q[8 + 16 * j + l] & 15, q[8 + 16 * j + l] >> 4]).toEqual([l, l]);
    expect(Array.from(dequantize(Tensor.fromBytes(q, 'iq4_xs', [1, 256])).toArray())).toEqual(Array.from(x));
  });
});

// ---- repacked layouts ----------------------------------------------------------------------
function weight(fmt: Fmt, N: number, K: number, seed: number): Tensor {
  return quantize(Tensor.from(randn(N * K, seed), [N, K]), fmt);
}

describe('repack: x16 layouts', () => {
  test('repack() takes these formats (REPACKABLE_DTYPES, for the model layer)', () => {
    for (const f of ['iq4_xs', 'q3_k', 'q2_k', 'q4_0', 'q8_0', 'q4_k', 'q6_k']) expect({ f, ok: repackSupported(f) }).toEqual({ f, ok: true });
    expect(REPACKABLE_DTYPES).toContain('q3_k');
    expect(repackSupported('q5_k')).toBe(false);
  });

  // code of weight e of row r read from the repacked bytes as blocks.h describes them,
  // against the code read from the GGUF bytes
  test.each(FMTS.map((f) => [f]))('%sx16: every code, scale and d sits where blocks.h says', (fmt) => {
    const N = 32, K = 512, nb = K / 256;
    const W = weight(fmt, N, K, 17);
    const P = repack(W);
    expect(P.dtype).toBe(`${fmt}x16`);
    const s = W.bytes(), p = P.bytes();
    expect(p.length).toBe(N * nb * PACKED_BYTES[fmt]);
    const gb = 16 * PACKED_BYTES[fmt];
    for (let n = 0; n < N; n++) {
      const g = n >> 4, r = n & 15;
      for (let b = 0; b < nb; b++) {
        const o = (n * nb + b) * BYTES[fmt], q = (g * nb + b) * gb;
        const bad: string[] = [];
        for (let e = 0; e < 256; e++) {
          const t = e >> 2, lane = 4 * r + (e & 3);
          let plain: number, packed: number;
          if (fmt === 'iq4_xs') {
            const j = e >> 5, i = e & 31, k = i & 15;
            const byte = s[o + 8 + 16 * j + k];
            plain = i < 16 ? byte & 15 : byte >> 4;
            const pb = p[q + 32 + 128 + 256 * j + 64 * (k >> 2) + 4 * r + (k & 3)];
            packed = i < 16 ? pb & 15 : pb >> 4;
          } else {
            const hh = e >> 7, gg = (e & 127) >> 5, l = e & 31;
            const qo = fmt === 'q3_k' ? o + 32 : o + 16;
            plain = (s[qo + 32 * hh + l] >> (2 * gg)) & 3;
            const qlo = fmt === 'q3_k' ? q + 32 + 256 : q + 64 + 256;
            packed = (p[qlo + 64 * (t & 15) + lane] >> (2 * (t >> 4))) & 3;
            if (fmt === 'q3_k') {
              plain |= ((s[o + l] >> (4 * hh + gg)) & 1) << 2;
              packed |= ((p[q + 32 + 256 + 1024 + 64 * (t & 7) + lane] >> (t >> 3)) & 1) << 2;
            }
          }
          if (plain !== packed) bad.push(`e${e}`);
        }
        expect({ fmt, n, b, bad: bad.slice(0, 4) }).toEqual({ fmt, n, b, bad: [] });
        // d (and dmin) per row side by side
        const dOff = fmt === 'q3_k' ? o + 108 : fmt === 'q2_k' ? o + 80 : o;
        expect([p[q + 2 * r], p[q + 2 * r + 1]]).toEqual([s[dOff], s[dOff + 1]]);
        if (fmt === 'q2_k') {
          expect([p[q + 32 + 2 * r], p[q + 33 + 2 * r]]).toEqual([s[o + 82], s[o + 83]]);
          for (let j = 0; j < 16; j++) expect(p[q + 64 + 16 * j + r]).toBe(s[o + j]);
        }
      }
    }
  });

  test('the decoded scales: iq4_xsx16 ls - 32, q3_kx16 sc - 32 (int8, sub-block major, row minor)', () => {
    const N = 16, K = 256;
    const W = weight('iq4_xs', N, K, 21), P = repack(W);
    const wd = dequantRef('iq4_xs', W.bytes(), N * K);
    for (let r = 0; r < N; r++) {
      const o = r * 136, sh = W.bytes()[o + 2] | (W.bytes()[o + 3] << 8);
      for (let j = 0; j < 8; j++) {
        const ls = ((W.bytes()[o + 4 + (j >> 1)] >> (4 * (j & 1))) & 15) | (((sh >> (2 * j)) & 3) << 4);
        expect((P.bytes()[32 + 16 * j + r] << 24) >> 24).toBe(ls - 32);
      }
    }
    expect(Array.from(dequantize(P).toArray())).toEqual(Array.from(wd));
    const W3 = weight('q3_k', N, K, 22), P3 = repack(W3);
    const s3 = W3.bytes();
    for (let r = 0; r < N; r++) {
      for (let j = 0; j < 16; j++) {
        const o = r * 110 + 96;
        const lo = j < 8 ? s3[o + j] & 15 : s3[o + j - 8] >> 4;
        const sc = (lo | (((s3[o + 8 + (j & 3)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
        expect((P3.bytes()[32 + 16 * j + r] << 24) >> 24).toBe(sc);
      }
    }
  });

  test('round trip: repack(repack(W)) has the bytes of W, a stack [E, N, K] repacks per matrix, dequantize agrees', () => {
    for (const fmt of FMTS) {
      const K = 512;
      const W = quantize(Tensor.from(randn(3 * 48 * K, 7), [3, 48, K]), fmt);
      const P = repack(W);
      const B = repack(P, fmt);
      expect(B.dtype).toBe(fmt);
      expect({ fmt, same: Buffer.from(B.bytes()).equals(Buffer.from(W.bytes())) }).toEqual({ fmt, same: true });
      expect(Array.from(dequantize(P).toArray())).toEqual(Array.from(dequantize(W).toArray()));
    }
  });
});

// ---- matmul ---------------------------------------------------------------------------------
interface Case { fmt: Fmt; packed: boolean; M: number; N: number; K: number }
const cases: Case[] = [];
for (const fmt of FMTS) {
  // plain: the GEMV's 4-row passes and tails (N 1, 3, 17, 33), M = 1..8 GEMV, 9 and 17 the
  // int8 GEMM (activation-panel tails); K one, two and 17 super-blocks (the GEMM's K chunk)
  for (const M of [1, 2, 3, 5, 8, 9, 17]) for (const N of [1, 3, 17, 33]) for (const K of [256, 512]) cases.push({ fmt, packed: false, M, N, K });
  for (const M of [1, 8, 9]) cases.push({ fmt, packed: false, M, N: 33, K: 4352 });
  // repacked: whole 16-row groups, a row range split by the GEMV's chunks
  for (const [M, N, K] of [[1, 16, 256], [3, 48, 512], [8, 32, 4352], [9, 16, 512], [13, 48, 1280]]) cases.push({ fmt, packed: true, M, N, K });
}

describe('matmul vs dequantize-then-float64', () => {
  for (const c of cases) {
    const name = `qgemm(fmt=${c.fmt}${c.packed ? 'x16' : ''},m=${c.M},n=${c.N},k=${c.K}) every ISA vs ref (tight), ref vs float64 (int8 bound)`;
    test(name, () => {
      const { fmt, M, N, K } = c;
      const W = weight(fmt, N, K, M * 7 + N * 13 + K);
      const Wm = c.packed ? repack(W) : W;
      const x = randn(M * K, M + N + K, 2);
      const bias = randn(N, 3);
      const wd = dequantRef(fmt, W.bytes(), N * K);
      const { y: ref, mag } = matmulRef(x, wd, M, N, K, bias);
      const aq = actQuantBound(x, wd, M, N, K, 256);
      const outs: Record<string, Float32Array> = {};
      forEachIsa((isa) => {
        outs[isa] = matmul(Tensor.from(x, [M, K]), Wm, { bias: Tensor.from(bias) }).toArray() as Float32Array;
        if (c.packed) {
          // the plain layout on the same ISA: the same integer sums
          const yw = matmul(Tensor.from(x, [M, K]), W, { bias: Tensor.from(bias) }).toArray() as Float32Array;
          let ws = 0;
          for (let i = 0; i < M * N; i++) ws = Math.max(ws, Math.abs(outs[isa][i] - yw[i]) / (SIMD_TOL * mag[i] + 1e-6));
          expect({ isa, vsPlain: ws <= 1 ? 'ok' : ws }).toEqual({ isa, vsPlain: 'ok' });
          // M > 8: the int8 GEMM reads both layouts into the same panels: the very same numbers
          if (M > 8) expect(Array.from(outs[isa])).toEqual(Array.from(yw));
        }
      });
      let worst = 0;
      for (let i = 0; i < M * N; i++) worst = Math.max(worst, Math.abs(outs.ref[i] - ref[i]) / (aq[i] * 1.0001 + ACC_TOL * mag[i] + 1e-6));
      expect({ refVsF64: worst <= 1 ? 'ok' : worst }).toEqual({ refVsF64: 'ok' });
      for (const [isa, o] of Object.entries(outs)) {
        let ws = 0;
        for (let i = 0; i < M * N; i++) ws = Math.max(ws, Math.abs(o[i] - outs.ref[i]) / (SIMD_TOL * mag[i] + 1e-6));
        expect({ isa, vsRef: ws <= 1 ? 'ok' : ws }).toEqual({ isa, vsRef: 'ok' });
      }
    });
  }

  // the GEMM quantizes x as the GEMV does: rows 0..7 of a 9-row matmul equal the 8-row one
  test('GEMM (M = 9) rows equal GEMV (M = 8) rows on every ISA', () => {
    const N = 37, K = 512;
    for (const fmt of FMTS) {
      const W = weight(fmt, N, K, 21), x = randn(9 * K, 22);
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

  // extreme levels against activations at +-127: IQ4_XS's +-127 / 113 levels through AVX2's
  // signed maddubs and VNNI's +128 offset, Q3_K's codes 0 / 7, Q2_K's 0 / 3
  test('extreme codes and activations: every ISA equals ref and float64, GEMV and GEMM', () => {
    const N = 19, K = 512;
    const w = new Float32Array(N * K);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) w[n * K + k] = (k % 32 === 0) === (n % 2 === 0) ? -1 : 0.875;
    for (const M of [3, 9]) {
      for (const sign of [1, -1]) {
        const x = new Float32Array(M * K).fill(sign);
        for (const fmt of FMTS) {
          for (const packed of [false, true]) {
            if (packed && N % 16 !== 0) continue;
            const W = quantize(Tensor.from(w, [N, K]), fmt);
            const wd = dequantRef(fmt, W.bytes(), N * K);
            const { y: ref, mag } = matmulRef(x, wd, M, N, K);
            const aq = actQuantBound(x, wd, M, N, K, 256);
            const outs: Record<string, Float32Array> = {};
            forEachIsa((isa) => { outs[isa] = matmul(Tensor.from(x, [M, K]), W).toArray() as Float32Array; });
            for (const [isa, o] of Object.entries(outs)) {
              let ws = 0, wr = 0;
              for (let i = 0; i < M * N; i++) {
                ws = Math.max(ws, Math.abs(o[i] - outs.ref[i]) / (SIMD_TOL * mag[i] + 1e-6));
                wr = Math.max(wr, Math.abs(o[i] - ref[i]) / (aq[i] * 1.0001 + ACC_TOL * mag[i] + 1e-6));
              }
              expect({ isa, fmt, M, sign, vsRef: ws <= 1 ? 'ok' : ws, vsF64: wr <= 1 ? 'ok' : wr })
                .toEqual({ isa, fmt, M, sign, vsRef: 'ok', vsF64: 'ok' });
            }
          }
        }
      }
    }
    // the repacked GEMV at extremes (N = 32)
    const N2 = 32, w2 = new Float32Array(N2 * K);
    for (let n = 0; n < N2; n++) for (let k = 0; k < K; k++) w2[n * K + k] = (k + n) % 3 === 0 ? -1 : 0.9;
    const x2 = new Float32Array(2 * K).fill(1);
    for (const fmt of FMTS) {
      const W = quantize(Tensor.from(w2, [N2, K]), fmt), P = repack(W);
      forEachIsa((isa) => {
        const a = matmul(Tensor.from(x2, [2, K]), P).toArray() as Float32Array;
        const b = matmul(Tensor.from(x2, [2, K]), W).toArray() as Float32Array;
        for (let i = 0; i < a.length; i++) expect({ isa, fmt, i, d: Math.abs(a[i] - b[i]) <= 1e-5 * Math.abs(b[i]) + 1e-4 }).toEqual({ isa, fmt, i, d: true });
      });
    }
  });

  test('reports which ISA each kernel resolved to (no silent fallback)', () => {
    const k = cpu().kernels;
    for (const f of ['iq4_xs_q8_K', 'q3_K_q8_K', 'q2_K_q8_K', 'iq4_xsx16_q8_K', 'q3_Kx16_q8_K', 'q2_Kx16_q8_K']) {
      expect({ f, isa: k[`qgemm.gemv_${f}`] }).toEqual({ f, isa: cpu().bestIsa });
    }
    for (const f of ['iq4_xs_q8_K', 'q3_K_q8_K', 'q2_K_q8_K', 'iq4_xsx16_q8_K', 'q3_Kx16_q8_K', 'q2_Kx16_q8_K']) {
      expect({ f, isa: k[`qgemm.gemm_${f}`] }).toEqual({ f, isa: cpu().bestIsa });
    }
    setIsa(cpu().bestIsa);
  });
});

describe('dtype tables', () => {
  test('lib/dtype.ts mirrors blocks.h kDTypeTraits (every row, both ways)', () => {
    const nat = (native as unknown as { dtypeTraits(): Array<{ id: number; name: string; blockElems: number; blockBytes: number; quantized: boolean }> }).dtypeTraits();
    const ts = Object.values(DTYPES).map((d) => ({ id: d.id, name: d.name, blockElems: d.blockElems, blockBytes: d.blockBytes, quantized: d.quantized }));
    const key = (a: { id: number }, b: { id: number }) => a.id - b.id;
    expect([...nat].sort(key)).toEqual(ts.sort(key));
    expect(dtypeForGgmlType(23)).toBe('iq4_xs');
    expect(dtypeForGgmlType(11)).toBe('q3_k');
    expect(dtypeForGgmlType(10)).toBe('q2_k');
  });
});

describe('errors', () => {
  test('shapes and formats are named', () => {
    expect(() => quantize(Tensor.zeros([2, 128]), 'iq4_xs')).toThrow(new RangeError('quantize: Expected a last dimension that is a multiple of 256 (the iq4_xs block) for x.shape but received [2, 128]'));
    expect(() => matmul(Tensor.zeros([1, 256]), Tensor.zeros([17, 256], 'q3_kx16'))).toThrow(/N a multiple of 16/);
    expect(() => repack(quantize(Tensor.zeros([17, 256]), 'q2_k'))).toThrow(/N a multiple of 16.*received \[17, 256\]/);
    expect(() => repack(quantize(Tensor.zeros([16, 256]), 'iq4_xs'), 'q3_kx16' as DType)).toThrow(new TypeError("repack: Expected 'iq4_xsx16' (the pair of 'iq4_xs') for to but received 'q3_kx16'"));
    const out = new Float32Array(4), x = new Float32Array(256);
    expect(() => native.matmul(out, x, false, 1, 256, new Uint8Array(100), 23, 1, null)).toThrow(/at least 136 bytes for W/);
    expect(() => native.matmul(out, x, false, 1, 128, new Uint8Array(136), 11, 1, null)).toThrow(/multiple of 256 \(the q3_k block\) for K/);
    expect(() => native.repack(new Uint8Array(16 * 84), 122, new Uint8Array(16 * 110), 11, 16, 256)).toThrow(/q2_k <-> q2_kx16/);
  });
});
