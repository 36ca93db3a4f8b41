// Bench entries for family `qgemm`: the GEMV (decode, M = 1) over W of 4096x4096
// and 14336x4096 (past the L3) per weight format, judged against DRAM read
// bandwidth (bytes = W + x + out), and the GEMM (prefill, M = 512, 4096x4096)
// judged against the int8 dot peak (quantized W run as int8 x int8 block dots,
// vpdpbusd / maddubs) or the FMA peak (f32), plus f32 1024^3. Run with --threads 1 and --threads 2 for both figures.
import { matmul, quantize, repack, QuantFormat, RepackedFormat, REPACKED_FORMATS } from '../ops/qgemm';
import { DTYPES } from '../dtype';
import { Tensor } from '../tensor';
import { BenchEntry, Bound, fillRandom } from './entry';

/** W [n, k] of `fmt`: a 64-row quantized tile repeated (quantizing 58M weights with
 *  the K-quant search would take seconds; the kernels' speed does not depend on values). */
function weight(fmt: QuantFormat | RepackedFormat, n: number, k: number): Tensor {
  const tileRows = Math.min(64, n);
  const base = (REPACKED_FORMATS as Record<string, QuantFormat>)[fmt] ?? (fmt as QuantFormat);
  let q = quantize(Tensor.from(fillRandom(new Float32Array(tileRows * k), 7, 0.05), [tileRows, k]), base);
  if (base !== fmt) q = repack(q); // 64 rows: 4 whole groups of 16
  const tile = q.bytes();
  const bytes = new Uint8Array((n / tileRows) * tile.length);
  for (let r = 0; r < n / tileRows; r++) bytes.set(tile, r * tile.length);
  return Tensor.fromBytes(bytes, fmt, [n, k]);
}

function rowBytes(fmt: QuantFormat | RepackedFormat, k: number): number {
  return (k / DTYPES[fmt].blockElems) * DTYPES[fmt].blockBytes;
}

function entry(fmt: QuantFormat | RepackedFormat, m: number, n: number, k: number, bound: Bound): BenchEntry {
  let x: Tensor | undefined, w: Tensor | undefined, out: Tensor | undefined;
  return {
    name: `matmul(${fmt},${m}x${k}x${n})`,
    bytes: n * rowBytes(fmt, k) + m * k * 4 + m * n * 4,
    flops: 2 * m * n * k,
    bound,
    setup() {
      w = weight(fmt, n, k);
      x = Tensor.from(fillRandom(new Float32Array(m * k), 3), [m, k]);
      out = Tensor.zeros([m, n]);
    },
    run() {
      matmul(x!, w!, undefined, out);
    },
    teardown() {
      x = w = out = undefined;
    },
  };
}

const GEMV_FORMATS: Array<QuantFormat | RepackedFormat> = ['q4_0', 'q4_0x16', 'q8_0', 'q8_0x16', 'q4_k', 'q4_kx16', 'q6_k', 'q6_kx16', 'f16'];
// the legacy 32-block formats (q8_0 partners), plain and repacked
const LEGACY_GEMV_FORMATS: Array<QuantFormat | RepackedFormat> = [
  'q5_0', 'q5_0x16', 'q4_1', 'q4_1x16', 'q5_1', 'q5_1x16', 'iq4_nl', 'iq4_nlx16', 'mxfp4', 'mxfp4x16',
];
const K_FORMATS: Array<QuantFormat | RepackedFormat> = ['iq4_xs', 'iq4_xsx16', 'q3_k', 'q3_kx16', 'q2_k', 'q2_kx16'];
export const entries: BenchEntry[] = [
  ...GEMV_FORMATS.map((f) => entry(f, 1, 4096, 4096, 'dram')),
  ...GEMV_FORMATS.map((f) => entry(f, 1, 14336, 4096, 'dram')),
  ...LEGACY_GEMV_FORMATS.map((f) => entry(f, 1, 14336, 4096, 'dram')),
  ...(['q4_0', 'q8_0', 'q4_k', 'q6_k'] as QuantFormat[]).map((f) => entry(f, 512, 4096, 4096, 'int8')),
  ...(['q5_0', 'q4_1', 'q5_1', 'iq4_nl', 'mxfp4'] as QuantFormat[]).map((f) => entry(f, 512, 4096, 4096, 'int8')),
  // IQ4_XS / Q3_K / Q2_K (issue 14): decode GEMV plain and repacked, prefill int8 GEMM
  ...K_FORMATS.map((f) => entry(f, 1, 14336, 4096, 'dram')),
  ...(['iq4_xs', 'q3_k', 'q2_k'] as QuantFormat[]).map((f) => entry(f, 512, 4096, 4096, 'int8')),
  entry('f32', 512, 4096, 4096, 'fma'),
  entry('f32', 1024, 1024, 1024, 'fma'),
];
