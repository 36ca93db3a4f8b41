// The executor: the kernels a forward pass composes, as one typed interface. The model
// code says what to compute (`h = await ex.rmsnorm(x, L.attnNorm, eps)`); the executor
// says how it runs: inline (each kernel now), budgeted (lib/exec/budgeted.ts: async past
// the event-loop budget, timings, abort), or recording (lib/exec/replay.ts: the calls
// captured for a native replay). An op returns its result, or a promise of it where the
// executor handed the kernel to its native async twin; the caller awaits either.
import { Tensor } from '../tensor';
import { rmsnorm } from '../ops/norm';
import { matmul } from '../ops/qgemm';
import { add, swiglu } from '../ops/elementwise';
import { RopeOptions, rope } from '../ops/rope';
import { gather } from '../ops/embed';
import { AttentionOptions, KVCache, attention } from '../ops/attention';
import { MoeExperts, MoeRouteOptions, MoeRouting, moeFfn, moeRoute } from '../ops/moe';

/** A result now, or a promise of it. */
export type Maybe<T> = T | Promise<T>;

export interface Exec {
  /** rows `ids` i32 [T] of `table [V, D]` (any gather dtype) as f32 [T, D] */
  embedding(table: Tensor, ids: Tensor): Maybe<Tensor>;
  /** x [..., D] / rms(x) * w [D] */
  rmsnorm(x: Tensor, w: Tensor, eps: number): Maybe<Tensor>;
  /** x [M, K] · W [N, K]ᵀ (+ bias f32 [N]) */
  matmul(x: Tensor, W: Tensor, bias?: Tensor): Maybe<Tensor>;
  /** a + b (b of a's shape, or one row broadcast) */
  add(a: Tensor, b: Tensor): Maybe<Tensor>;
  /** RoPE of x [T, heads, headDim] at positions pos i32 [T] */
  rope(x: Tensor, pos: Tensor, opts: RopeOptions): Maybe<Tensor>;
  /** appends k, v [T, nKvHead, headDim] at positions `pos` */
  kvAppend(cache: KVCache, k: Tensor, v: Tensor, pos: Int32Array): Maybe<KVCache>;
  /** q [T, nHead, headDim] against the cache: [T, nHead, headDimV] */
  attention(q: Tensor, cache: KVCache, opts: AttentionOptions): Maybe<Tensor>;
  /** silu(gate) * up */
  swiglu(gate: Tensor, up: Tensor): Maybe<Tensor>;
  /** router logits [T, E] -> each token's top-k experts and weights */
  moeRoute(logits: Tensor, opts: MoeRouteOptions): Maybe<MoeRouting>;
  /** the routed (and shared) experts' FFN of x [T, D], combined: [T, D] */
  moeFfn(x: Tensor, routing: MoeRouting, experts: MoeExperts): Maybe<Tensor>;
}

/** The op names: the labels of timings and of a recording's ops. */
export type OpName = keyof Exec;

/** The inline executor: every kernel runs now, on the calling thread. */
export class InlineExec implements Exec {
  embedding(table: Tensor, ids: Tensor): Tensor { return gather(table, ids); }
  rmsnorm(x: Tensor, w: Tensor, eps: number): Tensor { return rmsnorm(x, w, { eps }); }
  matmul(x: Tensor, W: Tensor, bias?: Tensor): Tensor { return matmul(x, W, { bias }); }
  add(a: Tensor, b: Tensor): Tensor { return add(a, b); }
  rope(x: Tensor, pos: Tensor, opts: RopeOptions): Tensor { return rope(x, pos, opts); }
  kvAppend(cache: KVCache, k: Tensor, v: Tensor, pos: Int32Array): KVCache { return cache.append(k, v, pos); }
  attention(q: Tensor, cache: KVCache, opts: AttentionOptions): Tensor { return attention(q, cache, opts); }
  swiglu(gate: Tensor, up: Tensor): Tensor { return swiglu(gate, up); }
  moeRoute(logits: Tensor, opts: MoeRouteOptions): MoeRouting { return moeRoute(logits, opts); }
  moeFfn(x: Tensor, routing: MoeRouting, experts: MoeExperts): Tensor { return moeFfn(x, routing, experts); }
}

/** The inline executor (stateless: one serves every pass). */
export const inline = new InlineExec();

/** A forward pass stopped by its AbortSignal (the caches may hold part of its tokens: truncate them). */
export class ForwardAborted extends Error {
  constructor() {
    super('forward: aborted');
    this.name = 'AbortError';
  }
}
