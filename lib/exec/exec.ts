// The executor: the kernels a forward pass composes, as one typed interface. The model
// code says what to compute (`h = await ex.rmsnorm(x, L.attnNorm, eps)`); the executor
// says how it runs: `inline` (each kernel now), budgeted (lib/exec/budgeted.ts: async
// past the event-loop budget, timings, abort), or recording (lib/exec/replay.ts: the
// calls captured for a native replay). An op returns its result, or a promise of it
// where the executor handed the kernel to its native async twin; the caller awaits either.
import { Tensor } from '../tensor';
import { rmsnorm, rmsnormAsync } from '../ops/norm';
import { matmul, matmulAsync } from '../ops/qgemm';
import { add, addAsync, swiglu, swigluAsync } from '../ops/elementwise';
import { RopeOptions, rope, ropeAsync } from '../ops/rope';
import { gather, gatherAsync } from '../ops/embed';
import { AttentionOptions, KVCache, attention, attentionAsync } from '../ops/attention';
import { MoeExperts, MoeRouteOptions, MoeRouting, moeFfn, moeFfnAsync, moeRoute, moeRouteAsync } from '../ops/moe';

/** Each op's arguments. */
export interface OpArgs {
  /** rows `ids` of `table [V, D]` as f32 [T, D] */
  embedding: [table: Tensor, ids: Tensor];
  /** x [..., D] / rms(x) * w [D] */
  rmsnorm: [x: Tensor, w: Tensor, eps: number];
  /** x [M, K] · W [N, K]ᵀ (+ bias f32 [N]) */
  matmul: [x: Tensor, W: Tensor, bias?: Tensor];
  /** a + b (b: a's shape, or one row broadcast) */
  add: [a: Tensor, b: Tensor];
  /** RoPE of x [T, heads, headDim] at positions pos i32 [T] */
  rope: [x: Tensor, pos: Tensor, opts: RopeOptions];
  /** appends k, v [T, nKvHead, headDim] at positions `pos` */
  kvAppend: [cache: KVCache, k: Tensor, v: Tensor, pos: Int32Array];
  /** q [T, nHead, headDim] against the cache */
  attention: [q: Tensor, cache: KVCache, opts: AttentionOptions];
  /** silu(gate) * up */
  swiglu: [gate: Tensor, up: Tensor];
  /** router logits [T, E] -> top-k experts and weights */
  moeRoute: [logits: Tensor, opts: MoeRouteOptions];
  /** the routed (and shared) experts' FFN of x [T, D] */
  moeFfn: [x: Tensor, routing: MoeRouting, experts: MoeExperts];
}

/** Each op's result. */
export interface OpResults {
  embedding: Tensor; rmsnorm: Tensor; matmul: Tensor; add: Tensor; rope: Tensor; kvAppend: KVCache;
  attention: Tensor; swiglu: Tensor; moeRoute: MoeRouting; moeFfn: Tensor;
}

export type OpName = keyof OpArgs;

/** The executor: every op, its result now or a promise of it. */
export type Exec = { [K in OpName]: (...args: OpArgs[K]) => OpResults[K] | Promise<OpResults[K]> };

/** The ops as synchronous kernel calls (the `inline` executor). */
export type SyncOps = { [K in OpName]: (...args: OpArgs[K]) => OpResults[K] };
/** The ops as their native async twins. */
export type AsyncOps = { [K in OpName]: (...args: OpArgs[K]) => Promise<OpResults[K]> };

/** The inline executor: every kernel runs now, on the calling thread. */
export const inline: SyncOps = {
  embedding: (table, ids) => gather(table, ids),
  rmsnorm: (x, w, eps) => rmsnorm(x, w, { eps }),
  matmul: (x, W, bias) => matmul(x, W, { bias }),
  add: (a, b) => add(a, b),
  rope: (x, pos, opts) => rope(x, pos, opts),
  kvAppend: (cache, k, v, pos) => cache.append(k, v, pos),
  attention: (q, cache, opts) => attention(q, cache, opts),
  swiglu: (gate, up) => swiglu(gate, up),
  moeRoute: (logits, opts) => moeRoute(logits, opts),
  moeFfn: (x, routing, experts) => moeFfn(x, routing, experts),
};

/** Every op as native async work on the addon's executor thread (the event loop runs meanwhile). */
export const later: AsyncOps = {
  embedding: (table, ids) => gatherAsync(table, ids),
  rmsnorm: (x, w, eps) => rmsnormAsync(x, w, { eps }),
  matmul: (x, W, bias) => matmulAsync(x, W, { bias }),
  add: (a, b) => addAsync(a, b),
  rope: (x, pos, opts) => ropeAsync(x, pos, opts),
  kvAppend: (cache, k, v, pos) => cache.appendAsync(k, v, pos),
  attention: (q, cache, opts) => attentionAsync(q, cache, opts),
  swiglu: (gate, up) => swigluAsync(gate, up),
  moeRoute: (logits, opts) => moeRouteAsync(logits, opts),
  moeFfn: (x, routing, experts) => moeFfnAsync(x, routing, experts),
};

/** One function that runs any op by name: what an executor other than `inline` decides per call. */
export type Dispatch = <K extends OpName>(op: K, args: OpArgs[K]) => OpResults[K] | Promise<OpResults[K]>;

/** The executor whose every op goes through `run`. */
export function execOf(run: Dispatch): Exec {
  return {
    embedding: (...a) => run('embedding', a),
    rmsnorm: (...a) => run('rmsnorm', a),
    matmul: (...a) => run('matmul', a),
    add: (...a) => run('add', a),
    rope: (...a) => run('rope', a),
    kvAppend: (...a) => run('kvAppend', a),
    attention: (...a) => run('attention', a),
    swiglu: (...a) => run('swiglu', a),
    moeRoute: (...a) => run('moeRoute', a),
    moeFfn: (...a) => run('moeFfn', a),
  };
}

/** A forward pass stopped by its AbortSignal (the caches may hold part of its tokens: truncate them). */
export class ForwardAborted extends Error {
  constructor() {
    super('forward: aborted');
    this.name = 'AbortError';
  }
}
