// Bench entries for family `norm`.
import { rmsnorm } from '../ops/norm';
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

export const entries: BenchEntry[] = [rmsnormEntry(4096, 4096)];
