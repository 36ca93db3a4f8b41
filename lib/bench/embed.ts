// Bench entries for family `embed`: a 512-token prompt's embedding gather from a [32000, 4096] f16 table (256 MB),
// and argmax over a 151936-entry logits row (Qwen's vocabulary) x 64 rows.
import { argmax, gather } from '../ops/embed';
import { Tensor } from '../tensor';
import { BenchEntry, fillRandom } from './entry';

function gatherEntry(V: number, D: number, T: number): BenchEntry {
  let table: Tensor | undefined, ids: Int32Array | undefined, out: Tensor | undefined;
  return {
    name: `gather(f16,${V}x${D},T=${T})`,
    bytes: T * D * (2 + 4), // read T f16 rows, write T f32 rows
    flops: T * D,
    bound: 'dram',
    setup() {
      // f16 bit patterns in [2^-3, 2^1) with random signs, made directly (a float->half pass over V*D is slow in JS)
      const bits = new Uint16Array(V * D);
      let s = 11;
      for (let i = 0; i < bits.length; i++) { s = (s * 1664525 + 1013904223) >>> 0; bits[i] = 0x3000 + ((s >>> 16) & 0x0fff) + (s & 0x8000); }
      table = Tensor.from(bits, [V, D], 'f16');
      ids = Int32Array.from({ length: T }, (_, t) => (t * 7919) % V);
      out = Tensor.zeros([T, D]);
    },
    run() {
      gather(table!, ids!, out);
    },
    teardown() {
      table = ids = out = undefined;
    },
  };
}

function argmaxEntry(rows: number, V: number): BenchEntry {
  let x: Tensor | undefined, out: Tensor | undefined;
  return {
    name: `argmax(f32,${rows}x${V})`,
    bytes: rows * V * 4,
    flops: rows * V,
    bound: 'dram',
    setup() {
      x = Tensor.from(fillRandom(new Float32Array(rows * V), 13), [rows, V]);
      out = Tensor.zeros([rows], 'i32');
    },
    run() {
      argmax(x!, out);
    },
    teardown() {
      x = out = undefined;
    },
  };
}

export const entries: BenchEntry[] = [gatherEntry(32000, 4096, 512), argmaxEntry(64, 151936)];
