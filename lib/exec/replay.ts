// The decode replay: a forward pass recorded once, its kernel calls captured as they run
// (csrc/napi/graph.h: the native list of the ops' closures), then replayed in one native call
// per token, without the kernels' JavaScript wrappers, argument checks and output allocations.
// Replays are bit-identical to the recorded pass: the same kernels on the same buffers.
import { Tensor } from '../tensor';
import { native } from '../native';
import { RecordingHandle } from '../native-api';
import { RopeOptions } from '../ops/rope';
import { AttentionOptions, KVCache } from '../ops/attention';
import { MoeExperts, MoeRouteOptions, MoeRouting } from '../ops/moe';
import { Exec, ForwardAborted, OpName, inline } from './exec';

/**
 * The recording executor: every op runs inline and is captured under its name into the
 * recording (checked against `signal` first, as the budgeted executor does).
 */
export class RecordingExec implements Exec {
  constructor(private readonly handle: RecordingHandle, private readonly signal?: AbortSignal) {}

  embedding(table: Tensor, ids: Tensor): Tensor { return this.capture('embedding', () => inline.embedding(table, ids)); }
  rmsnorm(x: Tensor, w: Tensor, eps: number): Tensor { return this.capture('rmsnorm', () => inline.rmsnorm(x, w, eps)); }
  matmul(x: Tensor, W: Tensor, bias?: Tensor): Tensor { return this.capture('matmul', () => inline.matmul(x, W, bias)); }
  add(a: Tensor, b: Tensor): Tensor { return this.capture('add', () => inline.add(a, b)); }
  rope(x: Tensor, pos: Tensor, opts: RopeOptions): Tensor { return this.capture('rope', () => inline.rope(x, pos, opts)); }
  kvAppend(cache: KVCache, k: Tensor, v: Tensor, pos: Int32Array): KVCache { return this.capture('kvAppend', () => inline.kvAppend(cache, k, v, pos)); }
  attention(q: Tensor, cache: KVCache, opts: AttentionOptions): Tensor { return this.capture('attention', () => inline.attention(q, cache, opts)); }
  swiglu(gate: Tensor, up: Tensor): Tensor { return this.capture('swiglu', () => inline.swiglu(gate, up)); }
  moeRoute(logits: Tensor, opts: MoeRouteOptions): MoeRouting { return this.capture('moeRoute', () => inline.moeRoute(logits, opts)); }
  moeFfn(x: Tensor, routing: MoeRouting, experts: MoeExperts): Tensor { return this.capture('moeFfn', () => inline.moeFfn(x, routing, experts)); }

  /** Runs `f` now; the native ops it calls are recorded under `op` */
  private capture<R>(op: OpName, f: () => R): R {
    if (this.signal?.aborted) throw new ForwardAborted();
    return native.graphCapture(this.handle, op, f);
  }
}

/** The buffers a recorded pass reads its inputs from: a replay writes the next ones there. */
export interface ReplayInputs {
  /** i32 [T]: token ids */
  ids: Int32Array;
  /** i32 [T]: positions */
  pos: Int32Array;
}

export interface ReplayOptions {
  /** a replay runs as native async work when the last one took longer than this (ms) */
  budgetMs?: number;
  /** per-kernel time accounting (ms), keyed by op name, when given */
  timings?: Record<string, number>;
  signal?: AbortSignal;
}

/**
 * A recorded pass over fixed buffers. `record` runs `pass` with the recording executor;
 * `run` writes new inputs and replays it. The output is a view of the recorded pass's output
 * buffer: the next replay overwrites it (copy what must outlive it).
 */
export class Replay {
  private handle: RecordingHandle | undefined;
  private lastMs: number;
  private labels: string[] | undefined;

  private constructor(handle: RecordingHandle, readonly inputs: ReplayInputs, private readonly out: Tensor, recordMs: number) {
    this.handle = handle;
    this.lastMs = recordMs;
  }

  /** Records `pass` (which reads `inputs`) and returns the replay and the pass's output (a view, see Replay). */
  static async record(inputs: ReplayInputs, signal: AbortSignal | undefined,
    pass: (ex: Exec) => Promise<Tensor>): Promise<{ replay: Replay; out: Tensor }> {
    const handle = native.graphCreate();
    const t0 = performance.now();
    try {
      const out = await pass(new RecordingExec(handle, signal));
      native.graphSeal(handle);
      return { replay: new Replay(handle, inputs, out, performance.now() - t0), out };
    } catch (e) {
      native.graphFree(handle);
      throw e;
    }
  }

  /** Replays the recording over the inputs as they are now; returns the output (a view, overwritten by the next replay). */
  async run(o: ReplayOptions): Promise<Tensor> {
    if (this.handle === undefined) throw new Error('Replay: disposed');
    if (o.signal?.aborted) throw new ForwardAborted();
    const tm = o.timings;
    if (tm && !this.labels) this.labels = native.graphLabels(this.handle);
    const ms = tm ? new Float64Array(this.labels!.length) : null;
    const t0 = performance.now();
    if ((o.budgetMs ?? Infinity) < this.lastMs) await native.graphRunAsync(this.handle, ms);
    else native.graphRun(this.handle, ms);
    this.lastMs = performance.now() - t0;
    if (tm && ms) this.labels!.forEach((l, i) => { tm[l] = (tm[l] ?? 0) + ms[i]; });
    return this.out;
  }

  get disposed(): boolean { return this.handle === undefined; }

  /** Frees the recording (after a pending replay settles); idempotent. */
  dispose(): void {
    if (this.handle === undefined) return;
    native.graphFree(this.handle);
    this.handle = undefined;
  }

  [Symbol.dispose](): void { this.dispose(); }
}
