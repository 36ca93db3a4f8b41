// The machine's measured roofline (csrc/core/roofline.cpp) and the N-API call
// overhead, as the bench reports them.
import { checkOptionKeys, keysOf } from '../check';
import { native } from '../native';
import { rmsnorm, rmsnormAsync } from '../ops/norm';
import { Tensor } from '../tensor';

export type RoofKind = 'read' | 'write' | 'copy' | 'fma' | 'int8' | 'bf16';
export const ROOF_KINDS: readonly RoofKind[] = ['read', 'write', 'copy', 'fma', 'int8', 'bf16'];

export interface RoofFigure {
  kind: RoofKind;
  /** median over reps: GB/s for read/write/copy (copy counts bytes read + written), GFLOP/s or GOP/s (int8) */
  median: number;
  best: number;
  unit: 'GB/s' | 'GFLOP/s' | 'GOP/s';
  threads: number;
  reps: number;
  /** the ISA whose loop measured it ('none': this CPU has no such instruction; median is 0) */
  isa: string;
  /** compute kinds: the instruction timed, e.g. 'vfmadd231ps zmm' */
  instr: string;
}

export interface Roofline {
  /** thread counts measured: 1 and the pool's size */
  threads: number[];
  bufferBytes: number;
  figures: RoofFigure[];
}

export interface RooflineOptions {
  /** thread counts to measure (default [1, pool size]) */
  threads?: number[];
  /** bytes streamed by read/write (copy: twice); default 512 MiB, far above any L3 */
  bufferBytes?: number;
  reps?: number;
  /** target milliseconds per compute rep */
  targetMs?: number;
  kinds?: readonly RoofKind[];
}

const ROOFLINE_KEYS = keysOf<RooflineOptions>({ threads: 1, bufferBytes: 1, reps: 1, targetMs: 1, kinds: 1 });

export function measureRoofline(opts: RooflineOptions = {}): Roofline {
  opts = checkOptionKeys(opts, ROOFLINE_KEYS, 'opts', 'measureRoofline');
  const pool: number = native.cpu().threads;
  const threads = opts.threads ?? (pool > 1 ? [1, pool] : [1]);
  const bufferBytes = opts.bufferBytes ?? 512 * 2 ** 20;
  const reps = opts.reps ?? 5;
  const targetMs = opts.targetMs ?? 20;
  const figures: RoofFigure[] = [];
  for (const kind of opts.kinds ?? ROOF_KINDS) {
    for (const t of threads) figures.push({ ...native.roofline(kind, t, bufferBytes, reps, targetMs), kind });
  }
  return { threads, bufferBytes, figures };
}

/** The figure for a kind at a thread count (the closest count measured at or below it). */
export function roofFigure(r: Roofline, kind: RoofKind, threads: number): RoofFigure | undefined {
  const of = r.figures.filter((f) => f.kind === kind && f.threads <= threads).sort((a, b) => b.threads - a.threads);
  return of[0];
}

export interface CallOverhead {
  /** ns per call of native.noop(buffer): the N-API boundary alone (argument count + one buffer unwrap) */
  noopNs: number;
  /** ns per call of rmsnorm on a 1x16 tensor with `out` given: TypeScript checks + boundary + a trivial kernel */
  tinyKernelNs: number;
  /**
   * ns per awaited rmsnormAsync on the same 1x16 tensor: the checks, the queue to the executor
   * thread, the kernel, and the promise settled back on the event loop (see measureAsyncRoundTrip)
   */
  asyncRoundTripNs?: number;
  /**
   * ns per op of a recorded graph of the same tiny rmsnorm, replayed (graphRun over 100 recorded
   * calls: what a decode step pays per kernel once lib/models records it; see csrc/napi/graph.h)
   */
  graphOpNs: number;
  calls: number;
}

function nsPerCall(fn: () => void, calls: number, samples: number): number {
  for (let i = 0; i < Math.min(calls, 10000); i++) fn(); // warm up (JIT, inline caches)
  const per: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    per.push(Number(process.hrtime.bigint() - t0) / calls);
  }
  per.sort((a, b) => a - b);
  return per[per.length >> 1];
}

/**
 * The round trip of a native async call (what the forward pass pays each time it hands a
 * kernel to the executor thread to let the event loop run): median ns per awaited call.
 */
export async function measureAsyncRoundTrip(calls = 2000, samples = 5): Promise<number> {
  const x = Tensor.from(new Float32Array(16).fill(1), [1, 16]);
  const w = Tensor.from(new Float32Array(16).fill(1), [16]);
  const out = Tensor.zeros([1, 16]);
  const opts = { eps: 1e-6 };
  for (let i = 0; i < Math.min(calls, 500); i++) await rmsnormAsync(x, w, opts, out);
  const per: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await rmsnormAsync(x, w, opts, out);
    per.push(Number(process.hrtime.bigint() - t0) / calls);
  }
  per.sort((a, b) => a - b);
  return per[per.length >> 1];
}

export function measureCallOverhead(calls = 100000, samples = 5): CallOverhead {
  const buf = new Uint8Array(64);
  const x = Tensor.from(new Float32Array(16).fill(1), [1, 16]);
  const w = Tensor.from(new Float32Array(16).fill(1), [16]);
  const out = Tensor.zeros([1, 16]);
  const opts = { eps: 1e-6 };
  const OPS = 100;
  const g = native.graphCreate();
  try {
    native.graphCapture(g, 'rmsnorm', () => { for (let i = 0; i < OPS; i++) rmsnorm(x, w, opts, out); });
    native.graphSeal(g);
    return {
      noopNs: nsPerCall(() => native.noop(buf), calls, samples),
      tinyKernelNs: nsPerCall(() => rmsnorm(x, w, opts, out), calls, samples),
      graphOpNs: nsPerCall(() => native.graphRun(g, null), Math.max(1, Math.round(calls / OPS)), samples) / OPS,
      calls,
    };
  } finally {
    native.graphFree(g);
  }
}
