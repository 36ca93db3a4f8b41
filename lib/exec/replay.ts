// The decode replay: a forward pass recorded once, its kernel calls captured as they run
// (csrc/napi/graph.h: the native list of the ops' closures), then replayed in one native call
// per token, without the kernels' JavaScript wrappers, argument checks and output allocations.
// Replays are bit-identical to the recorded pass: the same kernels on the same buffers.
import { Tensor } from '../tensor';
import { native } from '../native';
import { RecordingHandle } from '../native-api';
import { Dispatch, Exec, ForwardAborted, OpArgs, OpName, OpResults, execOf, inline } from './exec';

/**
 * The recording executor: every op runs inline and is captured under its name into
 * `handle` (checked against `signal` first, as the budgeted executor does).
 */
export function recording(handle: RecordingHandle, signal?: AbortSignal): Exec {
  const run: Dispatch = <K extends OpName>(op: K, a: OpArgs[K]) => {
    if (signal?.aborted) throw new ForwardAborted();
    const f: (...args: OpArgs[K]) => OpResults[K] = inline[op];
    return native.graphCapture(handle, op, () => f(...a));
  };
  return execOf(run);
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
      const out = await pass(recording(handle, signal));
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
