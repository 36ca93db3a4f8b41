// The budgeted executor: each kernel runs inline, or as native async work (awaited on the
// addon's executor thread, so timers and I/O run meanwhile) when the time since the event
// loop last ran plus the kernel's estimated time would exceed the budget. It also adds each
// kernel's milliseconds to `timings` and stops the pass at an aborted signal. The cost
// model, estimated from the tensors' shapes, lives here and nowhere else.
import { Tensor, byteSize } from '../tensor';
import { rmsnormAsync } from '../ops/norm';
import { matmulAsync } from '../ops/qgemm';
import { addAsync, swigluAsync } from '../ops/elementwise';
import { RopeOptions, ropeAsync } from '../ops/rope';
import { gatherAsync } from '../ops/embed';
import { AttentionOptions, KVCache, attentionAsync } from '../ops/attention';
import { MoeExperts, MoeRouteOptions, MoeRouting, moeFfnAsync, moeRouteAsync } from '../ops/moe';
import { Exec, ForwardAborted, Maybe, OpName, inline } from './exec';

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

/** The budgeted executor of one forward pass (its clock starts now: the event loop just ran). */
export class BudgetedExec implements Exec {
  private turn = performance.now(); // when the event loop last ran

  constructor(private readonly o: BudgetOptions) {}

  embedding(table: Tensor, ids: Tensor): Maybe<Tensor> {
    return this.run('embedding', streamMs(ids.numel * table.shape[1]), () => inline.embedding(table, ids), () => gatherAsync(table, ids));
  }

  rmsnorm(x: Tensor, w: Tensor, eps: number): Maybe<Tensor> {
    return this.run('rmsnorm', streamMs(x.numel), () => inline.rmsnorm(x, w, eps), () => rmsnormAsync(x, w, { eps }));
  }

  matmul(x: Tensor, W: Tensor, bias?: Tensor): Maybe<Tensor> {
    return this.run('matmul', matmulMs(x.ndim === 1 ? 1 : x.shape[0], W), () => inline.matmul(x, W, bias), () => matmulAsync(x, W, { bias }));
  }

  add(a: Tensor, b: Tensor): Maybe<Tensor> {
    return this.run('add', streamMs(a.numel), () => inline.add(a, b), () => addAsync(a, b));
  }

  rope(x: Tensor, pos: Tensor, opts: RopeOptions): Maybe<Tensor> {
    return this.run('rope', streamMs(x.numel), () => inline.rope(x, pos, opts), () => ropeAsync(x, pos, opts));
  }

  kvAppend(cache: KVCache, k: Tensor, v: Tensor, pos: Int32Array): Maybe<KVCache> {
    return this.run('kvAppend', streamMs(k.numel + v.numel), () => inline.kvAppend(cache, k, v, pos), () => cache.appendAsync(k, v, pos));
  }

  attention(q: Tensor, cache: KVCache, opts: AttentionOptions): Maybe<Tensor> {
    // every cached K/V row read once, 4 flops per (query head, key, dim)
    const [T, nHead, d] = q.shape;
    const p = opts.positions;
    const keys = p && p.length ? p[p.length - 1] + 1 : T;
    const ms = (keys * cache.nKvHead * 2 * d * 2) / EST_BYTES_PER_MS + (2 * T * keys * nHead * 2 * d) / EST_FLOPS_PER_MS;
    return this.run('attention', ms, () => inline.attention(q, cache, opts), () => attentionAsync(q, cache, opts));
  }

  swiglu(gate: Tensor, up: Tensor): Maybe<Tensor> {
    return this.run('swiglu', streamMs(gate.numel), () => inline.swiglu(gate, up), () => swigluAsync(gate, up));
  }

  moeRoute(logits: Tensor, opts: MoeRouteOptions): Maybe<MoeRouting> {
    return this.run('moeRoute', streamMs(logits.numel), () => inline.moeRoute(logits, opts), () => moeRouteAsync(logits, opts));
  }

  moeFfn(x: Tensor, routing: MoeRouting, experts: MoeExperts): Maybe<Tensor> {
    // the routed experts' three matrices (each read once when T is small), and the shared expert's
    const [T, D] = x.shape;
    const k = routing.ids.shape[1];
    const gate = experts.gate as Tensor;
    const E = gate.shape[0], ff = gate.shape[1], per = byteSize(gate.dtype, gate.shape) / E;
    const ms = (3 * Math.min(E, T * k) * per) / EST_BYTES_PER_MS + (6 * T * k * ff * D) / EST_FLOPS_PER_MS
      + (experts.shared ? 3 * matmulMs(T, experts.shared.up) : 0);
    return this.run('moeFfn', ms, () => inline.moeFfn(x, routing, experts), () => moeFfnAsync(x, routing, experts));
  }

  /** `now()` inline, or `later()` (the async twin) when the budget would be exceeded; timed, abortable. */
  private run<R>(op: OpName, ms: number, now: () => R, later: () => Promise<R>): Maybe<R> {
    if (this.o.signal?.aborted) throw new ForwardAborted();
    const t0 = performance.now();
    if (t0 - this.turn + ms > this.o.budgetMs) return this.hand(op, later, t0);
    const r = now();
    const tm = this.o.timings;
    if (tm) tm[op] = (tm[op] ?? 0) + performance.now() - t0;
    return r;
  }

  private async hand<R>(op: OpName, later: () => Promise<R>, t0: number): Promise<R> {
    const r = await later();
    this.turn = performance.now();
    const tm = this.o.timings;
    if (tm) tm[op] = (tm[op] ?? 0) + this.turn - t0;
    return r;
  }
}
