// What a kernel family contributes to `fuselm bench`: a list of entries, each
// one kernel call on fixed shapes with the bytes and operations it must cost.
// A family adds lib/bench/<family>.ts exporting `entries` and one line to the
// registry in lib/bench/index.ts.

/** The roofline an entry is judged against: DRAM read bandwidth, or a compute peak. */
export type Bound = 'dram' | 'fma' | 'int8' | 'bf16';

export interface BenchEntry {
  /** names the case with its shapes and dtypes, e.g. 'rmsnorm(f32,4096x4096)' */
  name: string;
  /** bytes one run must move to or from memory (inputs read + outputs written) */
  bytes: number;
  /** arithmetic operations one run performs (a multiply-add counts 2) */
  flops: number;
  /** the roofline this entry is judged against; default 'dram' (GB/s vs measured read bandwidth) */
  bound?: Bound;
  /** name of an entry of the same family doing equivalent work (e.g. the same bytes as a plain GEMV):
   *  the report gives this entry's time over the baseline's, both sampled alternately in one run */
  baseline?: string;
  /** allocates and fills inputs and outputs; not timed; called once before the first run() */
  setup(): void;
  /** one kernel call: the timed part */
  run(): void;
  /** releases what setup() made (called after the family's samples are taken) */
  teardown?(): void;
  /** 'quick': only in a quick run (a smaller stand-in); 'full': only in a full run; default both */
  runs?: 'quick' | 'full';
}

/** Fills an array with cheap deterministic pseudo-random values in [-scale, scale) (xorshift32). */
export function fillRandom(a: Float32Array, seed = 1, scale = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const k = (2 * scale) / 4294967296;
  for (let i = 0; i < a.length; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    a[i] = s * k - scale;
  }
  return a;
}
