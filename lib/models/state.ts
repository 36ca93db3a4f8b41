// State: what a sequence leaves behind for the next tokens. One KV cache per layer, the
// tokens they hold, and the recorded decode step over those caches; the context shift
// that makes room in them when generation runs past the context length.
import { KVCache, KVCacheDType } from '../ops/attention';
import { RopeOptions } from '../ops/rope';
import { Replay } from '../exec/replay';
import { Config } from './config';
import { Weights } from './weights';

/** The decode step recorded over a state's caches (lib/models/forward.ts decode). */
export interface DecodeReplay {
  replay: Replay;
  /** the caches it recorded calls on: a replay fits the state while it still has these */
  caches: readonly KVCache[];
}

export interface State {
  /** one KVCache per layer */
  caches: KVCache[];
  /** tokens whose K/V the caches hold, in order */
  tokens: number[];
  /** the recorded decode step over these caches */
  replay?: DecodeReplay;
}

export function newState(c: Config, kvDtype: KVCacheDType = 'f16'): State {
  const caches: KVCache[] = [];
  for (let l = 0; l < c.nLayer; l++) caches.push(new KVCache({ nKvHead: c.nHeadKv, headDim: c.headDim, dtype: kvDtype }));
  return { caches, tokens: [] };
}

/** Drops the cached tokens beyond the first `n`. */
export function truncateState(s: State, n: number): void {
  if (n >= s.tokens.length) return;
  for (const c of s.caches) c.truncate(n);
  s.tokens.length = n;
}

/** Frees the state's caches and its recording; idempotent. */
export function disposeState(s: State): void {
  s.replay?.replay.dispose();
  s.replay = undefined;
  for (const c of s.caches) c.dispose();
}

/** The rope kernel's options for this model (forward's, and the context shift's). */
export function ropeOptionsOf(c: Config, w: Weights): RopeOptions {
  const rs = c.ropeScaling;
  return {
    base: c.ropeBase, nDims: c.ropeDim, mode: c.ropeType === 'neox' ? 'neox' : 'norm',
    ...(rs ? { freqScale: rs.freqScale, extFactor: rs.extFactor, attnFactor: rs.attnFactor, betaFast: rs.betaFast, betaSlow: rs.betaSlow, origCtx: Math.max(1, rs.origCtx) } : {}),
    ...(w.ropeFreqs ? { freqFactors: w.ropeFreqs } : {}),
  };
}

/**
 * Context shift (llama.cpp's, for generation past the context length): drops the cached tokens
 * [keep, keep + discard) of every layer; the later ones move down by `discard` positions, their
 * keys rotated back by `discard` (RoPE angles are linear in the position, so rotating by
 * -discard is the rotation of the new position; YaRN's magnitude is not applied twice). Done
 * natively in each cache (KVCache.shift: values moved as stored, an f16 or int8 cache rounds
 * the rotated keys once more), so the caches stay the same objects and a decode replay
 * recorded over them goes on. The deeper layers' states keep what they saw of the dropped
 * tokens (as in llama.cpp: nothing is recomputed).
 */
export function shiftContext(c: Config, w: Weights, s: State, keep: number, discard: number): void {
  const n = s.tokens.length;
  if (!Number.isInteger(keep) || !Number.isInteger(discard) || keep < 0 || discard < 1 || keep + discard > n) {
    throw new RangeError(`shiftContext: Expected keep >= 0, discard >= 1 and keep + discard <= ${n} but received keep ${keep}, discard ${discard}`);
  }
  const rope = ropeOptionsOf(c, w);
  for (const cache of s.caches) cache.shift(keep, discard, rope);
  s.tokens.splice(keep, discard);
}
