// Bench entries for family `lut`: the GEMV (decode, M = 1) over a 4096x4096 W in
// lut3 / lut4 with 0.5% outliers, judged against DRAM read bandwidth (W is 6-9 MB:
// past the L2, and on a machine with a small L3 share per core past that too).
import { matmulLut, quantizeLut, LutTensor, LutFormat } from '../ops/lut';
import { matmul, quantize } from '../ops/qgemm';
import { Tensor } from '../tensor';
import { BenchEntry, fillRandom } from './entry';

function gemvEntry(fmt: LutFormat, n: number, k: number): BenchEntry {
  let x: Tensor | undefined, w: LutTensor | undefined, out: Tensor | undefined;
  const nnz = Math.floor(0.005 * n * k);
  const codeBytes = n * (k / 32) * (fmt === 'lut4' ? 16 : 12);
  return {
    name: `matmulLut(${fmt}+0.5%,1x${k}x${n})`,
    // codes + tables + CSR (row_ptr, col, val) + x + out
    bytes: codeBytes + n * (fmt === 'lut4' ? 32 : 16) + (n + 1) * 4 + nnz * 6 + k * 4 + n * 4,
    flops: 2 * n * k + 2 * nnz,
    bound: 'dram',
    setup() {
      const wf = fillRandom(new Float32Array(n * k), 11, 0.05);
      w = quantizeLut(Tensor.from(wf, [n, k]), fmt, { outlierFraction: 0.005, iters: 10 });
      x = Tensor.from(fillRandom(new Float32Array(k), 12), [1, k]);
      out = Tensor.zeros([1, n]);
    },
    run() {
      matmulLut(x!, w!, undefined, out);
    },
    teardown() {
      x = w = out = undefined;
    },
  };
}

// The baseline the issue sets (LUT GEMV within 1.3x of Q4_0's time), in the same family so the
// runner alternates its samples with the LUT entries': the time ratio comes from one run.
function q40Entry(n: number, k: number): BenchEntry {
  let x: Tensor | undefined, w: Tensor | undefined, out: Tensor | undefined;
  return {
    name: `matmul(q4_0,1x${k}x${n}) [lut baseline]`,
    bytes: n * (k / 32) * 18 + k * 4 + n * 4,
    flops: 2 * n * k,
    bound: 'dram',
    setup() {
      w = quantize(Tensor.from(fillRandom(new Float32Array(n * k), 11, 0.05), [n, k]), 'q4_0');
      x = Tensor.from(fillRandom(new Float32Array(k), 12), [1, k]);
      out = Tensor.zeros([1, n]);
    },
    run() {
      matmul(x!, w!, undefined, out);
    },
    teardown() {
      x = w = out = undefined;
    },
  };
}

export const entries: BenchEntry[] = [q40Entry(4096, 4096), gemvEntry('lut3', 4096, 4096), gemvEntry('lut4', 4096, 4096)];
