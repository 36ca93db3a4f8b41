// Bench entries for family `elementwise` (16M f32 elements: far above L3, so DRAM-bound).
import { silu, swiglu } from '../ops/elementwise';
import { Tensor } from '../tensor';
import { BenchEntry, fillRandom } from './entry';

function siluEntry(rows: number, dim: number): BenchEntry {
  let x: Tensor | undefined, out: Tensor | undefined;
  return {
    name: `silu(f32,${rows}x${dim})`,
    bytes: 2 * rows * dim * 4, // read x, write out
    flops: 4 * rows * dim, // exp, add, divide, multiply (an exp counted as one)
    bound: 'dram',
    setup() {
      x = Tensor.from(fillRandom(new Float32Array(rows * dim), 3, 4), [rows, dim]);
      out = Tensor.zeros([rows, dim]);
    },
    run() {
      silu(x!, out);
    },
    teardown() {
      x = out = undefined;
    },
  };
}

function swigluEntry(rows: number, dim: number): BenchEntry {
  let g: Tensor | undefined, u: Tensor | undefined, out: Tensor | undefined;
  return {
    name: `swiglu(f32,${rows}x${dim})`,
    bytes: 3 * rows * dim * 4, // read gate and up, write out
    flops: 5 * rows * dim,
    bound: 'dram',
    setup() {
      g = Tensor.from(fillRandom(new Float32Array(rows * dim), 4, 4), [rows, dim]);
      u = Tensor.from(fillRandom(new Float32Array(rows * dim), 5), [rows, dim]);
      out = Tensor.zeros([rows, dim]);
    },
    run() {
      swiglu(g!, u!, out);
    },
    teardown() {
      g = u = out = undefined;
    },
  };
}

export const entries: BenchEntry[] = [siluEntry(4096, 4096), swigluEntry(4096, 4096)];
