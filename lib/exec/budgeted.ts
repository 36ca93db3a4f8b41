// The budgeted executor: each kernel runs inline, or as native async work (awaited on the
// addon's executor thread, so timers and I/O run meanwhile) when the time since the event
// loop last ran plus the kernel's estimated time would exceed the budget. It also adds each
// kernel's milliseconds to `timings` and stops the pass at an aborted signal. The cost
// model, estimated from the tensors' shapes, lives here and nowhere else.
import { Tensor, byteSize } from '../tensor';
import { Dispatch, Exec, ForwardAborted, OpArgs, OpName, OpResults, execOf, inline, later } from './exec';

export interface BudgetOptions {
  /**
   * Event-loop budget (ms): a kernel runs async when the time since the event loop last ran
   * plus its estimated time would exceed it; shorter kernels run inline, where a call costs far
   * less than an async round trip. 0: every kernel async; Infinity: every kernel inline.
   */
  budgetMs: number;
  /** per-kernel time accounting (ms), when given */
  timings?: Record<string, number>;
  /** checked before each kernel: once aborted, the op throws ForwardAborted */
  signal?: AbortSignal;
}

// Conservative speeds for the estimates (well below what the kernels reach): an underestimate
// only delays the next async hand-off.
const EST_BYTES_PER_MS = 8e6;   // 8 GB/s
const EST_FLOPS_PER_MS = 5e7;   // 50 GFLOP/s

/** Estimated ms of `x[M, K] . W[N, K]^T`: W's bytes streamed, 2MNK flops. */
function matmulMs(M: number, W: Tensor): number {
  const [N, K] = W.shape;
  return byteSize(W.dtype, W.shape) / EST_BYTES_PER_MS + (2 * M * N * K) / EST_FLOPS_PER_MS;
}

/** Estimated ms of an elementwise pass over `elems` f32 values. */
function streamMs(elems: number): number {
  return (12 * elems) / EST_BYTES_PER_MS;
}

const rowsOf = (x: Tensor) => (x.ndim === 1 ? 1 : x.shape[0]);

/** Each op's estimated milliseconds, from its arguments' shapes. */
const COST: { [K in OpName]: (...args: OpArgs[K]) => number } = {
  embedding: (table, ids) => streamMs(ids.numel * table.shape[1]),
  rmsnorm: (x) => streamMs(x.numel),
  matmul: (x, W) => matmulMs(rowsOf(x), W),
  add: (a) => streamMs(a.numel),
  rope: (x) => streamMs(x.numel),
  kvAppend: (_cache, k, v) => streamMs(k.numel + v.numel),
  // every cached K/V row read once, 4 flops per (query head, key, dim)
  attention: (q, cache, opts) => {
    const [T, nHead, d] = q.shape;
    const p = opts.positions;
    const keys = p && p.length ? p[p.length - 1] + 1 : T;
    return (keys * cache.nKvHead * 2 * d * 2) / EST_BYTES_PER_MS + (2 * T * keys * nHead * 2 * d) / EST_FLOPS_PER_MS;
  },
  swiglu: (gate) => streamMs(gate.numel),
  moeRoute: (logits) => streamMs(logits.numel),
  // the routed experts' three matrices (each read once when T is small), and the shared expert's
  moeFfn: (x, routing, experts) => {
    const [T, D] = x.shape;
    const k = routing.ids.shape[1];
    const gate = experts.gate as Tensor;
    const E = gate.shape[0], ff = gate.shape[1], per = byteSize(gate.dtype, gate.shape) / E;
    const used = Math.min(E, T * k);
    return (3 * used * per) / EST_BYTES_PER_MS + (6 * T * k * ff * D) / EST_FLOPS_PER_MS
      + (experts.shared ? 3 * matmulMs(T, experts.shared.up) : 0);
  },
};

/** The budgeted executor of one forward pass (its clock starts now: the event loop just ran). */
export function budgeted(o: BudgetOptions): Exec {
  const budget = o.budgetMs, tm = o.timings, signal = o.signal;
  let turn = performance.now(); // when the event loop last ran
  const hand = async <K extends OpName>(op: K, a: OpArgs[K], t0: number): Promise<OpResults[K]> => {
    const f: (...args: OpArgs[K]) => Promise<OpResults[K]> = later[op];
    const r = await f(...a);
    turn = performance.now();
    if (tm) tm[op] = (tm[op] ?? 0) + turn - t0;
    return r;
  };
  const run: Dispatch = <K extends OpName>(op: K, a: OpArgs[K]) => {
    if (signal?.aborted) throw new ForwardAborted();
    const t0 = performance.now();
    const cost: (...args: OpArgs[K]) => number = COST[op];
    if (t0 - turn + cost(...a) > budget) return hand(op, a, t0);
    const f: (...args: OpArgs[K]) => OpResults[K] = inline[op];
    const r = f(...a);
    if (tm) tm[op] = (tm[op] ?? 0) + performance.now() - t0;
    return r;
  };
  return execOf(run);
}
