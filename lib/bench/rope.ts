// Bench entries for family `rope`: a 512-token prefill's queries (32 heads x 128), in place; plain and with YaRN
// and per-pair factors (which must cost the same).
import { rope } from '../ops/rope';
import { Tensor } from '../tensor';
import { BenchEntry, fillRandom } from './entry';

function ropeEntry(T: number, H: number, D: number, mode: 'normal' | 'neox', yarn = false): BenchEntry {
  let x: Tensor | undefined, pos: Int32Array | undefined;
  // YaRN x4 over a 32K context with per-pair factors: the same hot loop, the scaling folded into the per-call factors
  const ff = Float32Array.from({ length: D / 2 }, (_, i) => 1 + (3 * i) / D);
  const opts = yarn ? { mode, base: 1e6, freqScale: 0.25, extFactor: 1, origCtx: 32768, freqFactors: ff } : { mode, base: 1e6 };
  return {
    name: `rope(${mode}${yarn ? ',yarn+freqFactors' : ''},f32,${T}x${H}x${D})`,
    bytes: 2 * T * H * D * 4, // read and write x
    flops: 3 * T * H * D, // two products and a sum per element (cos/sin once per token and pair, not counted)
    bound: 'dram',
    setup() {
      x = Tensor.from(fillRandom(new Float32Array(T * H * D), 7), [T, H, D]);
      pos = Int32Array.from({ length: T }, (_, t) => 1000 + t);
    },
    run() {
      rope(x!, pos!, opts, x);
    },
    teardown() {
      x = pos = undefined;
    },
  };
}

export const entries: BenchEntry[] = [ropeEntry(512, 32, 128, 'normal'), ropeEntry(512, 32, 128, 'neox'), ropeEntry(512, 32, 128, 'neox', true)];
