// Family `attention`: a paged KV cache (native memory owned by KVCache) and
// fused flash-style attention over it, dense or sparse. Semantics, exactly:
// csrc/include/fuselm/ops/attention.h.
import { native } from '../native';
import { AttentionParams, KvHandle } from '../native-api';
import { DTYPES, DType } from '../dtype';
import { checkInt, checkNumber, checkOptions, fail } from '../check';
import { checkKeys, keysOf } from '../check';
import { Tensor } from '../tensor';
import { Launch, checkDType, checkF32, outputLike, runAsync, runNow } from './common';
import { RopeOptions, ropeParams } from './rope';

/** Tokens per page / key block: the unit of the sparse forms and of the per-block summaries. */
export const KV_BLOCK = 64;
/** Head dims the kernels are instantiated for. */
export const ATTENTION_HEAD_DIMS: readonly number[] = Object.freeze([32, 64, 80, 96, 128, 192, 256, 512]);
const MAX_POS = 2147483646;
/** the table dtype each KV cache storage is passed to the native side as */
const KV_STORAGE: Readonly<Record<KVCacheDType, DType>> = { f32: 'f32', f16: 'f16', int8: 'i8' };

export type KVCacheDType = 'f16' | 'f32' | 'int8';

export interface KVCacheOptions {
  /** KV heads (GQA: the query heads are a multiple of this) */
  nKvHead: number;
  /** channels per head, one of ATTENTION_HEAD_DIMS: 32, 64, 80, 96, 128, 192, 256, 512 (K and V alike) */
  headDim: number;
  /** storage: 'f16' (default), 'f32', or 'int8' (one absmax scale per token row of headDim values) */
  dtype?: KVCacheDType;
}
const KV_CACHE_KEYS = keysOf<KVCacheOptions & { _handle?: unknown }>({ nKvHead: 1, headDim: 1, dtype: 1, _handle: 1 });

type Handle = KvHandle;

/**
 * One layer's KV cache: per KV head, K and V of every appended token, in pages of
 * 64 tokens, each page with a per-channel min/max summary of its keys (for dynamic
 * block selection). Positions must strictly increase along the cache.
 *
 * Native memory: freed by `dispose()` (idempotent; also `using cache = ...`), or by
 * the GC if never disposed; reported to V8 as external memory.
 *
 * Shared prefixes: `fork()` returns a new cache sharing every page copy-on-write
 * (a page is copied only when one side writes to it). To reuse a prompt prefix of
 * n tokens: `const c2 = cache.fork().truncate(n)`.
 *
 * Per-layer choice (LongGen's hybrid: some layers dense, others sparse) is the
 * caller's: one KVCache per layer, and the sparse options per attention() call.
 *
 * @example
 *   const cache = new KVCache({ nKvHead: 8, headDim: 128 });
 *   cache.append(k, v, [0, 1, 2]);          // k, v: f32 [3, 8, 128]
 *   const y = attention(q, cache);           // q: f32 [3, 32, 128], positions 0..2
 *   cache.dispose();
 */
export class KVCache {
  readonly nKvHead: number;
  readonly headDim: number;
  readonly dtype: KVCacheDType;
  #h: Handle | null;

  constructor(opts: KVCacheOptions) {
    const fn = 'KVCache';
    const o = checkOptions(opts, 'opts', fn);
    checkKeys(o, KV_CACHE_KEYS, 'opts', fn);
    this.nKvHead = checkInt(o.nKvHead, 'opts.nKvHead', 1, 1024, fn);
    this.headDim = checkInt(o.headDim, 'opts.headDim', 1, 65536, fn);
    const dt = o.dtype === undefined ? 'f16' : o.dtype;
    if (dt !== 'f16' && dt !== 'f32' && dt !== 'int8') fail('type', 'opts.dtype', "one of 'f16', 'f32', 'int8'", dt, fn);
    this.dtype = dt;
    if (!ATTENTION_HEAD_DIMS.includes(this.headDim)) {
      throw new Error(`${fn}: unsupported head_dim ${this.headDim} (supported: ${ATTENTION_HEAD_DIMS.join(', ')})`);
    }
    this.#h = (o as { _handle?: Handle })._handle ?? native.kvCreate(this.nKvHead, this.headDim, DTYPES[KV_STORAGE[this.dtype]].id);
  }

  /** true once dispose() has run */
  get disposed(): boolean { return this.#h === null; }

  /** @internal the native handle; throws when disposed */
  handle(fn: string): Handle {
    if (this.#h === null) throw new Error(`${fn}: Expected a live KVCache for cache but received a disposed KVCache`);
    return this.#h;
  }

  /** tokens held */
  get length(): number { return native.kvInfo(this.handle('KVCache.length'))[0]; }
  /** bytes of the pages this cache references (shared pages counted in full) */
  get bytes(): number { return native.kvInfo(this.handle('KVCache.bytes'))[1]; }
  /** position of the last token, -1 when empty */
  get lastPosition(): number { return native.kvInfo(this.handle('KVCache.lastPosition'))[2]; }

  /**
   * Appends T tokens (RoPE already applied to k).
   * @param k f32 [T, nKvHead, headDim]
   * @param v f32 [T, nKvHead, headDim]
   * @param positions T integers, strictly increasing and above lastPosition; default lastPosition+1, +2, ...
   */
  append(k: Tensor, v: Tensor, positions?: Int32Array | readonly number[]): this {
    return runNow(this.appendLaunch('KVCache.append', k, v, positions));
  }

  /** {@link append} as native async work (see attentionAsync for the cache's rules meanwhile). */
  async appendAsync(k: Tensor, v: Tensor, positions?: Int32Array | readonly number[]): Promise<this> {
    return runAsync(this.appendLaunch('KVCache.appendAsync', k, v, positions));
  }

  private appendLaunch(fn: string, k: Tensor, v: Tensor, positions?: Int32Array | readonly number[]): Launch<'kvAppend', this> {
    const h = this.handle(fn);
    checkF32(k, 'k', fn);
    checkF32(v, 'v', fn);
    const shape = [k.shape[0], this.nKvHead, this.headDim];
    if (k.ndim !== 3 || k.shape[1] !== this.nKvHead || k.shape[2] !== this.headDim) {
      fail('range', 'k.shape', `[T, ${this.nKvHead}, ${this.headDim}]`, k.shape, fn);
    }
    if (v.ndim !== 3 || v.shape.some((d, i) => d !== shape[i])) fail('range', 'v.shape', `[${shape.join(', ')}]`, v.shape, fn);
    const T = shape[0];
    let pos: Int32Array;
    if (positions === undefined) {
      const last = this.lastPosition;
      if (last + T > MAX_POS) fail('range', 'positions', `positions up to ${MAX_POS}`, `#${last + T}`, fn);
      pos = new Int32Array(T);
      for (let i = 0; i < T; i++) pos[i] = last + 1 + i;
    } else {
      pos = checkPositions(positions, T, fn);
    }
    return { fn: 'kvAppend', args: [h, k.bytes(), v.bytes(), pos, T], result: () => this };
  }

  /** Keeps tokens [0, n) (a sampling rollback); later appends continue from there. */
  truncate(n: number): this {
    const fn = 'KVCache.truncate';
    const h = this.handle(fn);
    checkInt(n, 'n', 0, this.length, fn);
    native.kvTruncate(h, n);
    return this;
  }

  /**
   * Context shift (llama.cpp's, for generation past the context length), in place: drops the
   * tokens [keep, keep + discard); the later ones move down by `discard` indices and positions
   * (position p becomes p - discard), their keys rotated back by `discard` positions with the
   * rope kernel's angles as a pure rotation (RoPE angles are linear in the position, so a key
   * stored as RoPE(k, p) becomes RoPE(k, p - discard); `attnFactor` and YaRN's magnitude are not
   * applied again). Values move as stored; an f16 or int8 cache rounds the rotated keys once more.
   * Pages before the one holding index `keep` stay shared with forks.
   *
   * @param keep tokens kept at the front (e.g. the BOS or a system prompt), integer in [0, length - 1]
   * @param discard tokens dropped after them, integer in [1, length - keep]
   * @param rope the options the keys were rotated with ({@link RopeOptions}: mode, dims, base,
   *   freqScale, freqFactors, YaRN's); `attnFactor` is accepted and has no effect
   * @example
   *   // 4096 tokens held: keep the first, drop the next 2047, positions now 0..2048
   *   cache.shift(1, 2047, { mode: 'neox', base: 1e6 });
   */
  shift(keep: number, discard: number, rope?: RopeOptions): this {
    const fn = 'KVCache.shift';
    const h = this.handle(fn);
    const n = this.length;
    if (n === 0) fail('range', 'cache.length', 'at least 1 token to shift', 0, fn);
    checkInt(keep, 'keep', 0, n - 1, fn);
    checkInt(discard, 'discard', 1, n - keep, fn);
    const r = ropeParams(rope, this.headDim, fn, 'rope');
    native.kvShift(h, keep, discard, r.nDims, r.mode, r.base, r.freqScale, r.extFactor, r.attnFactor, r.betaFast,
      r.betaSlow, r.origCtx, r.freqFactors);
    return this;
  }

  /** A new cache sharing every page copy-on-write (shared-prefix reuse). Dispose both. */
  fork(): KVCache {
    const h = native.kvFork(this.handle('KVCache.fork'));
    return new KVCache({ nKvHead: this.nKvHead, headDim: this.headDim, dtype: this.dtype, _handle: h } as KVCacheOptions);
  }

  /** A dequantized copy of the stored K, V (f32 [length, nKvHead, headDim]) and positions (for tests and debugging). */
  read(): { k: Tensor; v: Tensor; positions: Int32Array } {
    const h = this.handle('KVCache.read');
    const n = this.length;
    const k = Tensor.zeros([n, this.nKvHead, this.headDim]);
    const v = Tensor.zeros([n, this.nKvHead, this.headDim]);
    const positions = new Int32Array(n);
    native.kvRead(h, k.bytes(), v.bytes(), positions);
    return { k, v, positions };
  }

  /** Frees the native memory now. Idempotent. */
  dispose(): void {
    if (this.#h === null) return;
    native.kvFree(this.#h);
    this.#h = null;
  }

  [Symbol.dispose](): void { this.dispose(); }

  toString(): string {
    return this.disposed ? 'KVCache(disposed)' : `KVCache(${this.dtype}, nKvHead=${this.nKvHead}, headDim=${this.headDim}, length=${this.length})`;
  }
}

function checkPositions(p: unknown, n: number, fn: string, arg = 'positions'): Int32Array {
  if (!(Array.isArray(p) || p instanceof Int32Array)) fail('type', arg, 'an Int32Array or an array of integers', p, fn);
  const a = p as ArrayLike<number>;
  if (a.length !== n) fail('range', `${arg}.length`, `${n}`, a.length, fn);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    if (typeof x !== 'number') fail('type', `${arg}[${i}]`, `integer in [0, ${MAX_POS}]`, x, fn);
    if (!Number.isInteger(x) || x < 0 || x > MAX_POS) fail('range', `${arg}[${i}]`, `integer in [0, ${MAX_POS}]`, x, fn);
  }
  return p instanceof Int32Array ? p : Int32Array.from(a);
}

/** What one attention() call read. */
export interface AttentionStats {
  /** KV tiles read (a tile: one page, 64 tokens, of one KV head) */
  blocks: number;
  /** key tokens read (each: K and V of one KV head) */
  tokens: number;
  /** KV bytes read, plus the summary bytes read to select blocks */
  bytes: number;
  /** dynamic mode: blocks selected per (query, KV head), k */
  selected: number;
}

export interface AttentionOptions {
  /** query positions, Tq integers; default: the cache's last Tq positions, assumed consecutive (lastPosition-Tq+1 .. lastPosition) */
  positions?: Int32Array | readonly number[];
  /** logit scale; default 1/sqrt(headDim) */
  scale?: number;
  /** logit soft-capping: s = softcap * tanh(s / softcap); default off */
  softcap?: number;
  /** sliding window: keep keys with position > p - window (StreamingLLM / LongGen); with topKBlocks: always kept (default 64) */
  window?: number;
  /** attention sinks: keep cache indices < sinks; with window or topKBlocks (default 64 there) */
  sinks?: number;
  /** static block mask, u8 [rows, cols]: key block j/64 visible to query block p/64 when mask[p/64][j/64] != 0 (see longGenMask) */
  blockMask?: Tensor;
  /** dynamic selection: attend to the k best-scoring key blocks (Quest-style min/max bound) plus sinks and window */
  topKBlocks?: number;
  /** dynamic selection: cap on tokens per query: sinks + window + 64 k <= tokenBudget */
  tokenBudget?: number;
  /** filled with what the call read */
  stats?: Partial<AttentionStats>;
}
const ATTENTION_KEYS = keysOf<AttentionOptions>({
  positions: 1, scale: 1, softcap: 1, window: 1, sinks: 1, blockMask: 1, topKBlocks: 1, tokenBudget: 1, stats: 1,
});

interface Resolved {
  pos: Int32Array;
  tail: AttentionParams;
}

function resolve(q: Tensor, cache: KVCache, opts: AttentionOptions | undefined, fn: string): Resolved {
  checkF32(q, 'q', fn);
  if (!(cache instanceof KVCache)) fail('type', 'cache', 'a KVCache', cache, fn);
  cache.handle(fn);
  const o = checkOptions(opts, 'opts', fn) as AttentionOptions;
  checkKeys(o, ATTENTION_KEYS, 'opts', fn);
  if (q.ndim !== 3) fail('range', 'q.shape', '[Tq, nHead, headDim]', q.shape, fn);
  const [Tq, nHead, d] = q.shape;
  if (d !== cache.headDim) fail('range', 'q.shape[2]', `the cache's headDim ${cache.headDim}`, d, fn);
  if (nHead < 1 || nHead % cache.nKvHead !== 0) fail('range', 'q.shape[1]', `a multiple of nKvHead=${cache.nKvHead}`, nHead, fn);
  let pos: Int32Array;
  if (o.positions === undefined) {
    const last = cache.lastPosition;
    if (Tq > cache.length) {
      fail('range', 'opts.positions', `positions when Tq=${Tq} exceeds the cache length ${cache.length}`, o.positions, fn);
    }
    pos = new Int32Array(Tq);
    for (let i = 0; i < Tq; i++) pos[i] = last - Tq + 1 + i;
  } else {
    pos = checkPositions(o.positions, Tq, fn, 'opts.positions');
  }
  const scale = o.scale === undefined ? 1 / Math.sqrt(d) : checkNumber(o.scale, 'opts.scale', -Infinity, Infinity, fn);
  const softcap = o.softcap === undefined ? 0 : checkNumber(o.softcap, 'opts.softcap', 0, Infinity, fn);
  const dynamic = o.topKBlocks !== undefined || o.tokenBudget !== undefined;
  const topK = o.topKBlocks === undefined ? -1 : checkInt(o.topKBlocks, 'opts.topKBlocks', 0, 2 ** 31 - 1, fn);
  const budget = o.tokenBudget === undefined ? -1 : checkInt(o.tokenBudget, 'opts.tokenBudget', 0, 2 ** 31 - 1, fn);
  if (o.blockMask !== undefined && (dynamic || o.window !== undefined || o.sinks !== undefined)) {
    fail('type', 'opts', 'one sparse form: blockMask alone, { window, sinks }, or { topKBlocks | tokenBudget, window?, sinks? }', '#blockMask with other sparse options', fn);
  }
  if (!dynamic && o.sinks !== undefined && o.window === undefined) {
    fail('type', 'opts.window', 'a window with opts.sinks (sinks alone would hide every other key)', o.window, fn);
  }
  const windowed = !dynamic && o.window !== undefined;
  const window = o.window === undefined ? (dynamic ? KV_BLOCK : 0) : checkInt(o.window, 'opts.window', windowed ? 1 : 0, 2 ** 31 - 1, fn);
  const sinks = o.sinks === undefined ? (dynamic ? KV_BLOCK : 0) : checkInt(o.sinks, 'opts.sinks', 0, 2 ** 31 - 1, fn);
  if (dynamic && budget >= 0 && budget < sinks + window) {
    fail('range', 'opts.tokenBudget', `integer >= sinks + window = ${sinks + window}`, budget, fn);
  }
  let mask: Uint8Array | null = null, rows = 0, cols = 0;
  if (o.blockMask !== undefined) {
    checkDType(o.blockMask, 'opts.blockMask', ['u8'], fn);
    if (o.blockMask.ndim !== 2) fail('range', 'opts.blockMask.shape', '[queryBlocks, keyBlocks]', o.blockMask.shape, fn);
    [rows, cols] = o.blockMask.shape;
    const nb = Math.ceil(cache.length / KV_BLOCK);
    if (cols < nb) fail('range', 'opts.blockMask.shape[1]', `at least the cache's ${nb} blocks`, cols, fn);
    for (let i = 0; i < Tq; i++) {
      if (Math.floor(pos[i] / KV_BLOCK) >= rows) {
        fail('range', `opts.positions[${i}]`, `a position below 64 * blockMask rows = ${64 * rows}`, pos[i], fn);
      }
    }
    mask = o.blockMask.bytes();
  }
  if (o.stats !== undefined && (typeof o.stats !== 'object' || o.stats === null)) fail('type', 'opts.stats', 'an object to fill', o.stats, fn);
  return { pos, tail: [scale, softcap, windowed, window, sinks, mask, rows, cols, topK, budget] };
}

/**
 * Fused attention of queries against a KV cache, flash-style (tiled over key blocks
 * with an online softmax; the [Tq, Tk] score matrix never exists):
 *
 *   out[i, h] = sum_j softmax_j(scale * q[i, h] . k[j, h / G]) v[j, h / G]
 *
 * over the keys j visible to query i: causal by position (k_j <= p_i), and, with the
 * sparse options, `{ window, sinks }`, `{ blockMask }` or `{ topKBlocks, tokenBudget }`
 * (exact rules in csrc/include/fuselm/ops/attention.h). GQA: q has nHead = G * nKvHead
 * heads. A query with no visible key gets zeros.
 *
 * @param q f32 [Tq, nHead, headDim] (RoPE applied)
 * @example
 *   cache.append(k, v);                               // this step's token(s)
 *   const y = attention(q, cache, { topKBlocks: 32, stats });  // stats.bytes: what it read
 */
export function attention(q: Tensor, cache: KVCache, opts?: AttentionOptions, out?: Tensor): Tensor {
  return runNow(attentionLaunch('attention', q, cache, opts, out));
}

/**
 * {@link attention} as native async work: the event loop runs while it does. Until it
 * settles, the cache takes only other async calls (queued in order behind it); a
 * synchronous call on it throws, and dispose() frees it after the last one settles.
 */
export async function attentionAsync(q: Tensor, cache: KVCache, opts?: AttentionOptions, out?: Tensor): Promise<Tensor> {
  return runAsync(attentionLaunch('attentionAsync', q, cache, opts, out));
}

function attentionLaunch(fn: string, q: Tensor, cache: KVCache, opts?: AttentionOptions, out?: Tensor): Launch<'attention', Tensor> {
  const r = resolve(q, cache, opts, fn);
  const y = outputLike(out, q.shape, 'f32', fn);
  const [Tq, nHead, d] = q.shape;
  const st = opts?.stats !== undefined ? new Float64Array(4) : null;
  return {
    fn: 'attention',
    args: [y.bytes(), q.bytes(), r.pos, Tq, nHead, d, cache.handle(fn), ...r.tail, st],
    result: () => {
      if (st && opts?.stats) {
        opts.stats.blocks = st[0];
        opts.stats.tokens = st[1];
        opts.stats.bytes = st[2];
        opts.stats.selected = st[3];
      }
      return y;
    },
  };
}

/**
 * The dynamic plan alone: which key blocks `attention(q, cache, opts)` with
 * `topKBlocks`/`tokenBudget` attends to beyond sinks and window, per query and KV head.
 * @returns blocks: Int32Array [Tq, nKvHead, k], ascending per row, -1 padded
 */
export function attentionSelect(q: Tensor, cache: KVCache, opts: AttentionOptions): { blocks: Int32Array; k: number } {
  const fn = 'attentionSelect';
  const o = checkOptions(opts, 'opts', fn) as AttentionOptions;
  if (o.topKBlocks === undefined && o.tokenBudget === undefined) fail('type', 'opts', 'topKBlocks or tokenBudget', '#neither', fn);
  const r = resolve(q, cache, o, fn);
  const h = cache.handle(fn);
  const k: number = native.attentionSelectK(h, ...r.tail);
  const [Tq, nHead, d] = q.shape;
  const blocks = new Int32Array(Tq * cache.nKvHead * k);
  native.attentionSelect(blocks, k, q.bytes(), r.pos, Tq, nHead, d, h, ...r.tail);
  return { blocks, k };
}

export interface LongGenMaskOptions {
  /** key blocks kept behind each query block, its own included (default 4) */
  localBlocks?: number;
  /** every stride-th key block (kb % stride == 0) is kept (default 8; 0 = none) */
  stride?: number;
  /** the first sinkBlocks key blocks are kept (default 1) */
  sinkBlocks?: number;
}
const LONG_GEN_MASK_KEYS = keysOf<LongGenMaskOptions>({ localBlocks: 1, stride: 1, sinkBlocks: 1 });

/**
 * LongGen's local + strided block pattern as a blockMask for `nTokens` positions,
 * u8 [nb, nb] with nb = ceil(nTokens / 64): key block kb is visible to query block qb
 * when kb <= qb and (kb < sinkBlocks or qb - kb < localBlocks or kb % stride == 0).
 */
export function longGenMask(nTokens: number, opts?: LongGenMaskOptions): Tensor {
  const fn = 'longGenMask';
  checkInt(nTokens, 'nTokens', 1, 2 ** 31 - 1, fn);
  const o = checkOptions(opts, 'opts', fn) as LongGenMaskOptions;
  checkKeys(o, LONG_GEN_MASK_KEYS, 'opts', fn);
  const local = o.localBlocks === undefined ? 4 : checkInt(o.localBlocks, 'opts.localBlocks', 0, 2 ** 31 - 1, fn);
  const stride = o.stride === undefined ? 8 : checkInt(o.stride, 'opts.stride', 0, 2 ** 31 - 1, fn);
  const sinks = o.sinkBlocks === undefined ? 1 : checkInt(o.sinkBlocks, 'opts.sinkBlocks', 0, 2 ** 31 - 1, fn);
  const nb = Math.ceil(nTokens / KV_BLOCK);
  if (nb * nb > 2 ** 30) fail('range', 'nTokens', 'at most 2^20 tokens (a mask of at most 2^30 bytes)', nTokens, fn);
  const m = new Uint8Array(nb * nb);
  for (let qb = 0; qb < nb; qb++) {
    for (let kb = 0; kb <= qb; kb++) {
      if (kb < sinks || qb - kb < local || (stride > 0 && kb % stride === 0)) m[qb * nb + kb] = 1;
    }
  }
  return Tensor.from(m, [nb, nb], 'u8');
}
