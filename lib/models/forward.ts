// The decoder-only transformer every family shares: embed the tokens, run the family's
// layer over the residual stream once per layer, normalize, project to logits. How each
// kernel runs (inline, async past the event-loop budget, recorded) is the executor's
// business (lib/exec); what a layer computes is the family's (lib/models/families.ts).
// decode() runs one token through the state's recorded decode step (lib/exec/replay.ts).
import { Tensor } from '../tensor';
import { Exec } from '../exec/exec';
import { BudgetedExec } from '../exec/budgeted';
import { Replay, ReplayInputs } from '../exec/replay';
import { Config } from './config';
import { Weights } from './weights';
import { State, ropeOptionsOf } from './state';
import { LayerAttention, Step } from './family';
import { familyOf } from './families';

export interface ForwardOptions {
  /** logits for every position, or only the last */
  logits: 'all' | 'last';
  /** per-layer attention options (dense when undefined) */
  attention?: (layer: number) => LayerAttention;
  /** called between layers */
  onLayer?: (layer: number) => void | Promise<void>;
  /** per-kernel time accounting (ms), when given */
  timings?: Record<string, number>;
  /** diagnostics: each MoE layer's router logits f32 [T, E], with the position of row 0 */
  onRouter?: (layer: number, pos0: number, logits: Tensor) => void;
  /**
   * Event-loop budget (ms): see lib/exec/budgeted.ts. The event loop waits about budgetMs at
   * most (one kernel longer when the estimate is low). 0: every kernel async. Undefined or
   * Infinity: every kernel inline (the event loop waits for the whole pass).
   */
  budgetMs?: number;
  /** checked before each kernel: once aborted, the pass throws ForwardAborted */
  signal?: AbortSignal;
  /**
   * 'hidden': return the final RMSNorm's output f32 [T or 1, dim] (llama.cpp's result_norm, what it
   * pools into embeddings) instead of the logits (the output matrix is skipped)
   */
  output?: 'logits' | 'hidden';
  /**
   * decode(): record the decode step once and replay it (default true). false: every token
   * runs forward() kernel by kernel
   */
  replay?: boolean;
}

/**
 * One forward pass over `tokens` appended at the state's current position, kernel by kernel
 * through the budgeted executor. Returns logits f32 [T or 1, vocab] (or the hidden states).
 */
export async function forward(c: Config, w: Weights, s: State, tokens: readonly number[], o: ForwardOptions): Promise<Tensor> {
  const ex = new BudgetedExec({ budgetMs: o.budgetMs ?? Infinity, timings: o.timings, signal: o.signal });
  const t0 = s.tokens.length;
  return pass(ex, c, w, s, tokens, o, { ids: Int32Array.from(tokens), pos: Int32Array.from(tokens, (_, i) => t0 + i) });
}

/** The pass itself, over input buffers the caller owns (a recording's replays rewrite them). */
async function pass(ex: Exec, c: Config, w: Weights, s: State, tokens: readonly number[], o: ForwardOptions, inputs: ReplayInputs): Promise<Tensor> {
  const T = tokens.length;
  const { ids, pos } = inputs;
  // views, not copies (Tensor.from copies): a replay reads the buffers anew
  const idsT = new Tensor(ids.buffer, ids.byteOffset, 'i32', [T]);
  const st: Step = {
    T, t0: s.tokens.length, pos, posT: new Tensor(pos.buffer, pos.byteOffset, 'i32', [T]),
    rope: ropeOptionsOf(c, w), attention: o.attention ?? (() => undefined), onRouter: o.onRouter,
  };
  const family = familyOf(c.arch);
  let x = await ex.embedding(w.tokEmbd, idsT);                                     // [T, dim]
  for (let l = 0; l < c.nLayer; l++) {
    x = await family.layer(ex, c, w.layers[l], x, s.caches[l], l, st);             // [T, dim]
    if (o.onLayer) await o.onLayer(l);
  }
  const xl = o.logits === 'last' ? x.slice(T - 1, T) : x;
  const hn = await ex.rmsnorm(xl, w.outNorm, c.rmsEps);                            // [T or 1, dim]
  const out = o.output === 'hidden' ? hn : await ex.matmul(hn, w.output);         // [T or 1, vocab]
  for (const t of tokens) s.tokens.push(t);
  return out;
}

/**
 * One decoded token: forward() of [token] at the state's position, through the state's recorded
 * decode step. The first call records it (a forward pass whose kernel calls are captured as they
 * run); later calls write the token and its position into the recording's inputs and replay its
 * ops in one native call. Replays are bit-identical to forward(). The recording is made again
 * when the state's caches are replaced (a context shift). Not used with onRouter (which reads each
 * layer's logits in JavaScript), attention options with `stats` (filled in JavaScript after each
 * call) or output 'hidden'. A replay holds the event loop for a whole token unless it runs async:
 * it does when the last replay took longer than budgetMs.
 *
 * The logits returned from a replay (or its recording) are a view of the recording's output
 * buffer: the next decode() on this state overwrites them. Copy what must outlive it.
 */
export async function decode(c: Config, w: Weights, s: State, token: number, o: ForwardOptions): Promise<Tensor> {
  // attention options with `stats` are filled by the call's JavaScript result, which a replay does not run
  const attnStats = o.attention !== undefined && Array.from({ length: c.nLayer }, (_, l) => o.attention!(l)).some((a) => a && a.stats !== undefined);
  if (o.replay === false || o.onRouter || o.output === 'hidden' || attnStats) return forward(c, w, s, [token], o);
  const r = s.replay;
  if (r && !(r.caches.length === s.caches.length && r.caches.every((x, i) => x === s.caches[i]))) {
    r.replay.dispose();
    s.replay = undefined;
  }
  if (!s.replay) {
    const inputs: ReplayInputs = { ids: Int32Array.of(token), pos: Int32Array.of(s.tokens.length) };
    const caches = s.caches.slice();
    const { replay, out } = await Replay.record(inputs, o.signal,
      (ex) => pass(ex, c, w, s, [token], { ...o, logits: 'last', output: 'logits' }, inputs));
    s.replay = { replay, caches };
    return out;
  }
  const { replay } = s.replay;
  replay.inputs.ids[0] = token;
  replay.inputs.pos[0] = s.tokens.length;
  const out = await replay.run({ budgetMs: o.budgetMs, timings: o.timings, signal: o.signal });
  s.tokens.push(token);
  return out;
}
