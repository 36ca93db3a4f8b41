// Bench entries for family `elementwise` (16M f32 elements: far above L3, so DRAM-bound).
import { add, gelu, silu, swiglu } from '../ops/elementwise';
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

function geluEntry(rows: number, dim: number): BenchEntry {
  let x: Tensor | undefined, out: Tensor | undefined;
  return {
    name: `gelu(f32,${rows}x${dim})`,
    bytes: 2 * rows * dim * 4, // read x, write out
    flops: 8 * rows * dim, // cubic, tanh via one exp, products (an exp counted as one)
    bound: 'dram',
    setup() {
      x = Tensor.from(fillRandom(new Float32Array(rows * dim), 6, 4), [rows, dim]);
      out = Tensor.zeros([rows, dim]);
    },
    run() {
      gelu(x!, out);
    },
    teardown() {
      x = out = undefined;
    },
  };
}

function addEntry(rows: number, dim: number): BenchEntry {
  let a: Tensor | undefined, b: Tensor | undefined, out: Tensor | undefined;
  return {
    name: `add(f32,${rows}x${dim})`,
    bytes: 3 * rows * dim * 4, // read a and b, write out
    flops: rows * dim,
    bound: 'dram',
    setup() {
      a = Tensor.from(fillRandom(new Float32Array(rows * dim), 7), [rows, dim]);
      b = Tensor.from(fillRandom(new Float32Array(rows * dim), 8), [rows, dim]);
      out = Tensor.zeros([rows, dim]);
    },
    run() {
      add(a!, b!, out);
    },
    teardown() {
      a = b = out = undefined;
    },
  };
}

export const entries: BenchEntry[] = [
  siluEntry(4096, 4096), swigluEntry(4096, 4096), geluEntry(4096, 4096), addEntry(4096, 4096),
];
