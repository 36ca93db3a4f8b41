// Bench entries for family `norm`.
import { rmsnorm, softmax } from '../ops/norm';
import { Tensor } from '../tensor';
import { BenchEntry, fillRandom } from './entry';

function rmsnormEntry(rows: number, dim: number): BenchEntry {
  let x: Tensor | undefined, w: Tensor | undefined, out: Tensor | undefined;
  return {
    name: `rmsnorm(f32,${rows}x${dim})`,
    bytes: (2 * rows * dim + dim) * 4, // read x and w, write out
    flops: 4 * rows * dim, // square-accumulate (2), scale, weight
    bound: 'dram',
    setup() {
      x = Tensor.from(fillRandom(new Float32Array(rows * dim), 1), [rows, dim]);
      w = Tensor.from(fillRandom(new Float32Array(dim), 2), [dim]);
      out = Tensor.zeros([rows, dim]);
    },
    run() {
      rmsnorm(x!, w!, { eps: 1e-6 }, out);
    },
    teardown() {
      x = w = out = undefined;
    },
  };
}

function softmaxEntry(rows: number, dim: number): BenchEntry {
  let x: Tensor | undefined, out: Tensor | undefined;
  return {
    name: `softmax(f32,${rows}x${dim})`,
    bytes: 2 * rows * dim * 4, // read x, write out (the row's three passes hit cache)
    flops: 5 * rows * dim, // max, fma, exp (counted as one), sum, scale
    bound: 'dram',
    setup() {
      x = Tensor.from(fillRandom(new Float32Array(rows * dim), 3, 8), [rows, dim]);
      out = Tensor.zeros([rows, dim]);
    },
    run() {
      softmax(x!, { scale: 0.125 }, out);
    },
    teardown() {
      x = out = undefined;
    },
  };
}

export const entries: BenchEntry[] = [rmsnormEntry(4096, 4096), softmaxEntry(4096, 4096)];
