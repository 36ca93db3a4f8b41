// The decoder-only transformer family fuselm runs: llama (dense, or Mixtral-style
// MoE when expert_count > 0), qwen2 (qkv bias), qwen3 (per-head q/k RMSNorm),
// qwen2moe / qwen3moe (routed experts, qwen2moe's sigmoid-gated shared expert),
// olmoe (q/k RMSNorm over the whole projection). Weights, State and one forward
// pass, composed from the kernels; the architectures differ only in the
// optional tensors they carry and in the constants Config reads.
import { GgufFile, ggufTensor, ggufTensorInfo } from '../formats/gguf';
import { DType } from '../dtype';
import { Tensor, byteSize } from '../tensor';
import { repack } from '../ops/qgemm';
import { weightZeros } from '../ops/common';
import { native } from '../native';
import { RecordingHandle } from '../native-api';
import { Config } from './config';
import { asyncKernel, kernel } from './kernels';

/* eslint-disable @typescript-eslint/no-explicit-any */

export interface LayerWeights {
  attnNorm: Tensor;        // f32 [dim]
  wq: Tensor;              // [nHead * headDim, dim]
  wk: Tensor;              // [nHeadKv * headDim, dim]
  wv: Tensor;              // [nHeadKv * headDimV, dim]
  bq?: Tensor; bk?: Tensor; bv?: Tensor; // f32 [rows of wq/wk/wv] (qwen2)
  qNorm?: Tensor;          // f32 [headDim] per head (qwen3) or [nHead * headDim] whole (olmoe)
  kNorm?: Tensor;          // f32 [headDim] or [nHeadKv * headDim]
  wo: Tensor;              // [dim, nHead * headDimV]
  ffnNorm: Tensor;         // f32 [dim]
  // dense FFN
  wGate?: Tensor;          // [ffDim, dim]
  wUp?: Tensor;            // [ffDim, dim]
  wDown?: Tensor;          // [dim, ffDim]
  // decode fusions (fuseWeights): one GEMV instead of several; wq/wk/wv and wGate/wUp are then row views of these
  wQkv?: Tensor;           // [nHead*headDim + 2*nHeadKv*headDim, dim]
  bQkv?: Tensor;           // f32 [rows of wQkv] (when the layer has q/k/v biases)
  wGateUp?: Tensor;        // [2*ffDim, dim]
  // routed experts
  wRouter?: Tensor;        // [nExpert, dim]
  wGateExps?: Tensor;      // [nExpert, expertFf, dim]
  wUpExps?: Tensor;        // [nExpert, expertFf, dim]
  wDownExps?: Tensor;      // [nExpert, dim, expertFf]
  // shared expert (qwen2moe)
  wShGateInp?: Tensor;     // f32 [dim]: sigmoid gate of the shared expert
  wShGate?: Tensor;        // [sharedExpertFf, dim]
  wShUp?: Tensor;          // [sharedExpertFf, dim]
  wShDown?: Tensor;        // [dim, sharedExpertFf]
}

export interface Weights {
  tokEmbd: Tensor;         // [vocab, dim]
  layers: LayerWeights[];
  outNorm: Tensor;         // f32 [dim]
  output: Tensor;          // [vocab, dim] (token_embd when tied)
  tied: boolean;
  ropeFreqs?: Tensor;      // f32 [ropeDim/2]: llama3-style per-pair divisors of the RoPE angle (rope_freqs.weight)
}

/**
 * Where Weights come from, by GGUF tensor name (blk.N.attn_q.weight, ...): a GGUF file, or
 * a safetensors checkpoint mapped to GGUF names and layouts (lib/models/hf.ts).
 */
export interface TensorSource {
  source?: string;
  /** shape (row-major) and type of a tensor, or undefined when there is none */
  info(name: string): { shape: number[]; dtype: DType | undefined; typeName: string } | undefined;
  /** the tensor (called only after info() said it exists with a dtype) */
  tensor(name: string): Tensor;
  /** problems found while mapping (e.g. tensors of the checkpoint the model would not use) */
  problems?(): string[];
}

/** A GGUF file as a TensorSource (zero-copy views). */
export function ggufSource(f: GgufFile): TensorSource {
  return {
    source: f.source,
    info: (name) => ggufTensorInfo(f, name),
    tensor: (name) => ggufTensor(f, name),
  };
}

const REPACKABLE: readonly string[] = ['q4_0', 'q8_0', 'q4_k', 'q6_k'];
const REPACK_FIELDS = ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown', 'wRouter', 'wGateExps', 'wUpExps', 'wDownExps',
  'wShGate', 'wShUp', 'wShDown'] as const;

/**
 * The decode GEMV's layout: every Q4_0 / Q8_0 / Q4_K / Q6_K projection whose row count is a multiple
 * of 16 (per expert for stacked experts) repacked to its x16 form (lib/ops/qgemm.ts
 * repack: same values, 2-3x the GEMV speed). The copies leave the mmap; the token
 * embedding stays as it is for the row gather (a tied output gets its own repacked copy).
 * Returns new Weights and how many tensors were repacked.
 */
export function repackWeights(w: Weights): { weights: Weights; count: number } {
  let count = 0;
  const one = (t: Tensor | undefined): Tensor | undefined => {
    if (!t || !REPACKABLE.includes(t.dtype) || t.ndim < 2 || t.shape[t.ndim - 2] % 16 !== 0) return t;
    count++;
    return repack(t);
  };
  const layers = w.layers.map((l) => {
    const c: LayerWeights = { ...l };
    for (const f of REPACK_FIELDS) (c as unknown as Record<string, Tensor | undefined>)[f] = one(l[f]);
    return c;
  });
  return { weights: { ...w, layers, output: one(w.output)! }, count };
}

/** Row-concatenation of matrices of one dtype and width (whole rows, so any format, repacked 16-row groups included). */
function concatRows(ts: Tensor[]): Tensor {
  const K = ts[0].shape[1];
  const rows = ts.reduce((a, t) => a + t.shape[0], 0);
  const out = weightZeros([rows, K], ts[0].dtype);
  const dst = out.bytes();
  let at = 0;
  for (const t of ts) { const b = t.bytes(); dst.set(b, at); at += b.byteLength; }
  return out;
}

/** Rows [r0, r1) of a contiguous [N, K] matrix, zero-copy. */
function rowView(t: Tensor, r0: number, r1: number): Tensor {
  const rb = byteSize(t.dtype, [1, t.shape[1]]);
  return new Tensor(t.buffer, t.byteOffset + r0 * rb, t.dtype, [r1 - r0, t.shape[1]]);
}

/**
 * Decode fusions: per layer, q/k/v (and a dense FFN's gate/up) concatenated by rows into
 * one matrix, so a decoded token runs one GEMV (one native call, one pool hand-off)
 * instead of three (two). wq/wk/wv and wGate/wUp become zero-copy row views of the fused
 * matrix, which prefill keeps using, so no weight is held twice (the fused copy replaces
 * the per-matrix ones; weights still in the mmap are copied out once). Row results are
 * independent of the other rows, so outputs are unchanged. Skipped where dtypes differ.
 */
export function fuseWeights(w: Weights): { weights: Weights; count: number } {
  let count = 0;
  const layers = w.layers.map((l) => {
    const c: LayerWeights = { ...l };
    const fuse = (ts: (Tensor | undefined)[]): Tensor | undefined => {
      if (ts.some((t) => !t || t.ndim !== 2 || !t.isContiguous() || t.dtype !== ts[0]!.dtype || t.shape[1] !== ts[0]!.shape[1])) return undefined;
      count++;
      return concatRows(ts as Tensor[]);
    };
    const qkv = fuse([l.wq, l.wk, l.wv]);
    if (qkv) {
      const nq = l.wq.shape[0], nk = l.wk.shape[0], nv = l.wv.shape[0];
      c.wQkv = qkv;
      c.wq = rowView(qkv, 0, nq); c.wk = rowView(qkv, nq, nq + nk); c.wv = rowView(qkv, nq + nk, nq + nk + nv);
      if (l.bq || l.bk || l.bv) {
        const b = new Float32Array(nq + nk + nv);
        [[l.bq, 0], [l.bk, nq], [l.bv, nq + nk]].forEach(([t, at]) => { if (t) b.set((t as Tensor).toArray() as Float32Array, at as number); });
        c.bQkv = Tensor.from(b, [nq + nk + nv]);
      }
    }
    const gu = l.wGate && l.wUp ? fuse([l.wGate, l.wUp]) : undefined;
    if (gu) {
      const f = l.wGate!.shape[0];
      c.wGateUp = gu;
      c.wGate = rowView(gu, 0, f); c.wUp = rowView(gu, f, 2 * f);
    }
    return c;
  });
  return { weights: { ...w, layers }, count };
}

/** Binds the tensors to Weights, checking every shape; gathers every problem into one error. */
export function loadWeights(from: GgufFile | TensorSource, c: Config): Weights {
  const src: TensorSource = 'info' in from ? from : ggufSource(from);
  const problems: string[] = [];
  const get = (name: string, shape: number[] | null, required = true): Tensor | undefined => {
    const info = src.info(name);
    if (!info) { if (required) problems.push(`missing tensor ${name}`); return undefined; }
    if (shape && (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i]))) {
      problems.push(`${name} has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}]`);
      return undefined;
    }
    if (!info.dtype) { problems.push(`${name} has type ${info.typeName}, which fuselm has no kernels for`); return undefined; }
    try {
      return src.tensor(name);
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
      return undefined;
    }
  };

  const qd = c.nHead * c.headDim, kd = c.nHeadKv * c.headDim, vd = c.nHeadKv * c.headDimV;
  const tokEmbd = get('token_embd.weight', [c.vocabSize, c.dim]);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayer; l++) {
    const p = `blk.${l}.`;
    const qn = src.info(p + 'attn_q_norm.weight');
    const kn = src.info(p + 'attn_k_norm.weight');
    const lw: Partial<LayerWeights> = {
      attnNorm: get(p + 'attn_norm.weight', [c.dim]),
      wq: get(p + 'attn_q.weight', [qd, c.dim]),
      wk: get(p + 'attn_k.weight', [kd, c.dim]),
      wv: get(p + 'attn_v.weight', [vd, c.dim]),
      bq: get(p + 'attn_q.bias', [qd], false),
      bk: get(p + 'attn_k.bias', [kd], false),
      bv: get(p + 'attn_v.bias', [vd], false),
      qNorm: qn ? get(p + 'attn_q_norm.weight', [qn.shape[0] === c.headDim ? c.headDim : qd]) : undefined,
      kNorm: kn ? get(p + 'attn_k_norm.weight', [kn.shape[0] === c.headDim ? c.headDim : kd]) : undefined,
      wo: get(p + 'attn_output.weight', [c.dim, c.nHead * c.headDimV]),
      ffnNorm: get(p + 'ffn_norm.weight', [c.dim]),
    };
    if ((c.arch === 'qwen2' || c.arch === 'qwen2moe') && !lw.bq) problems.push(`${c.arch} needs ${p}attn_q.bias`);
    if ((c.arch === 'qwen3' || c.arch === 'qwen3moe' || c.arch === 'olmoe') && (!qn || !kn)) problems.push(`${c.arch} needs ${p}attn_q_norm/attn_k_norm`);
    if (c.nExpert === 0) {
      lw.wGate = get(p + 'ffn_gate.weight', [c.ffDim, c.dim]);
      lw.wUp = get(p + 'ffn_up.weight', [c.ffDim, c.dim]);
      lw.wDown = get(p + 'ffn_down.weight', [c.dim, c.ffDim]);
    } else {
      lw.wRouter = get(p + 'ffn_gate_inp.weight', [c.nExpert, c.dim]);
      lw.wGateExps = get(p + 'ffn_gate_exps.weight', [c.nExpert, c.expertFf, c.dim]);
      lw.wUpExps = get(p + 'ffn_up_exps.weight', [c.nExpert, c.expertFf, c.dim]);
      lw.wDownExps = get(p + 'ffn_down_exps.weight', [c.nExpert, c.dim, c.expertFf]);
      if (src.info(p + 'ffn_up_shexp.weight')) {
        const sff = c.sharedExpertFf || c.expertFf;
        lw.wShGateInp = get(p + 'ffn_gate_inp_shexp.weight', [c.dim], false);
        lw.wShGate = get(p + 'ffn_gate_shexp.weight', [sff, c.dim]);
        lw.wShUp = get(p + 'ffn_up_shexp.weight', [sff, c.dim]);
        lw.wShDown = get(p + 'ffn_down_shexp.weight', [c.dim, sff]);
      }
    }
    layers.push(lw as LayerWeights);
  }
  // llama.cpp's llama graph passes rope_freqs.weight to every layer's ggml_rope_ext (src/models/llama.cpp); its
  // other architectures fuselm runs have no such tensor and llama.cpp would refuse the file
  let ropeFreqs: Tensor | undefined;
  if (src.info('rope_freqs.weight')) {
    if (c.arch !== 'llama') problems.push(`rope_freqs.weight is used by the llama architecture only, not by ${c.arch}`);
    else {
      ropeFreqs = get('rope_freqs.weight', [c.ropeDim / 2]);
      if (ropeFreqs && ropeFreqs.dtype !== 'f32') { problems.push(`rope_freqs.weight must be f32, is ${ropeFreqs.dtype}`); ropeFreqs = undefined; }
      const bad = ropeFreqs ? Array.from(ropeFreqs.toArray() as Float32Array).findIndex((v) => !(v > 0 && v < Infinity)) : -1;
      if (bad >= 0) problems.push(`rope_freqs.weight[${bad}] is ${(ropeFreqs!.toArray() as Float32Array)[bad]}; every factor must be finite and > 0`);
    }
  }
  const outNorm = get('output_norm.weight', [c.dim]);
  const hasOut = src.info('output.weight') !== undefined;
  const output = hasOut ? get('output.weight', [c.vocabSize, c.dim]) : tokEmbd;
  for (const n of ['attnNorm', 'ffnNorm'] as const) {
    layers.forEach((l, i) => { if (l[n] && l[n].dtype !== 'f32') problems.push(`blk.${i} ${n} must be f32, is ${l[n].dtype}`); });
  }
  if (src.problems) problems.push(...src.problems());
  if (problems.length) {
    throw new RangeError(`model: the tensors of ${src.source ?? 'this file'} do not fit a ${c.arch} model:\n  - ${problems.slice(0, 20).join('\n  - ')}`
      + (problems.length > 20 ? `\n  - ... and ${problems.length - 20} more` : ''));
  }
  return { tokEmbd: tokEmbd!, layers, outNorm: outNorm!, output: output!, tied: !hasOut, ...(ropeFreqs ? { ropeFreqs } : {}) };
}


/** Per-layer attention options: dense (default) or a sparse form the attention kernel supports. */
export type LayerAttention = Record<string, unknown> | undefined;

export interface State {
  caches: any[];           // one KVCache per layer
  /** tokens whose K/V the caches hold, in order */
  tokens: number[];
  /** the recorded decode step over these caches (see decode()) */
  graph?: DecodeGraph;
}

export function newState(c: Config, kvDtype: 'f16' | 'f32' | 'int8' = 'f16'): State {
  const KVCache = kernel('KVCache') as unknown as new (o: object) => any;
  const caches = [];
  for (let l = 0; l < c.nLayer; l++) caches.push(new KVCache({ nKvHead: c.nHeadKv, headDim: c.headDim, dtype: kvDtype }));
  return { caches, tokens: [] };
}

/** The rope kernel's options for this model (forward's, and the context shift's). */
function ropeOptionsOf(c: Config, w: Weights): Record<string, unknown> {
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
 * -discard is the rotation of the new position; YaRN's magnitude is not applied twice). The
 * deeper layers' states keep what they saw of the dropped tokens (as in llama.cpp: nothing is
 * recomputed). Rebuilds each layer's cache from its dequantized K/V (an f16 or int8 cache
 * rounds the rotated keys once more).
 */
export function shiftContext(c: Config, w: Weights, s: State, keep: number, discard: number): void {
  const n = s.tokens.length;
  if (!Number.isInteger(keep) || !Number.isInteger(discard) || keep < 0 || discard < 1 || keep + discard > n) {
    throw new RangeError(`shiftContext: Expected keep >= 0, discard >= 1 and keep + discard <= ${n} but received keep ${keep}, discard ${discard}`);
  }
  const KVCache = kernel('KVCache') as unknown as new (o: object) => any;
  const rope = kernel('rope');
  const rs = c.ropeScaling;
  // a pure rotation: the kernel's magnitude (attn_factor, times YaRN's 1 + 0.1 ln(1/freq_scale)) set to 1
  const yarnMag = rs && rs.extFactor !== 0 ? 1 + 0.1 * Math.log(1 / rs.freqScale) : 1;
  const ropeOpts = { ...ropeOptionsOf(c, w), attnFactor: 1 / yarnMag };
  const m = n - discard, moved = n - keep - discard;
  const rowK = c.nHeadKv * c.headDim;
  for (let l = 0; l < c.nLayer; l++) {
    const old = s.caches[l];
    const { k, v } = old.read();
    const kv = k.toArray() as Float32Array, vv = v.toArray() as Float32Array;
    const k2 = new Float32Array(m * rowK), v2 = new Float32Array(m * rowK);
    k2.set(kv.subarray(0, keep * rowK));
    v2.set(vv.subarray(0, keep * rowK));
    v2.set(vv.subarray((keep + discard) * rowK), keep * rowK);
    if (moved > 0) {
      const tail = Tensor.from(kv.slice((keep + discard) * rowK), [moved, c.nHeadKv, c.headDim]);
      const back = rope(tail, new Int32Array(moved).fill(-discard), ropeOpts) as Tensor;
      k2.set(back.toArray() as Float32Array, keep * rowK);
    }
    const fresh = new KVCache({ nKvHead: c.nHeadKv, headDim: c.headDim, dtype: old.dtype });
    if (m > 0) {
      fresh.append(Tensor.from(k2, [m, c.nHeadKv, c.headDim]), Tensor.from(v2, [m, c.nHeadKv, c.headDim]), Int32Array.from({ length: m }, (_, i) => i));
    }
    old.dispose();
    s.caches[l] = fresh;
  }
  s.tokens.splice(keep, discard);
}

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
   * Event-loop budget (ms). A kernel runs as native async work (awaited on the addon's
   * executor thread, so timers and I/O run meanwhile) when the time since the event loop
   * last ran plus the kernel's estimated time would exceed it; shorter kernels run inline,
   * where a call costs far less than an async round trip (~20-80 us). So the event loop
   * waits about budgetMs at most (one kernel longer when the estimate is low). 0: every
   * kernel async. Undefined or Infinity: every kernel inline (the event loop waits for the
   * whole pass).
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
   * decode(): record the decode step as a native graph and replay it (default true). false:
   * every token runs forward() kernel by kernel
   */
  graph?: boolean;
}

/** forward()'s recording mode (DecodeGraph.record): the graph to capture into, and the input buffers replays rewrite. */
interface Capture {
  handle: RecordingHandle;
  ids: Int32Array;
  pos: Int32Array;
}

/** A forward pass stopped by its AbortSignal (the caches may hold part of its tokens: truncate them). */
export class ForwardAborted extends Error {
  constructor() {
    super('forward: aborted');
    this.name = 'AbortError';
  }
}

// Conservative speeds for the estimates (about half of what the kernels reach on a
// 2-core AVX-512 machine): an underestimate only delays the next async hand-off.
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

/**
 * One forward pass over `tokens` appended at the state's current position.
 * Returns logits f32 [T or 1, vocab].
 */
export async function forward(c: Config, w: Weights, s: State, tokens: readonly number[], o: ForwardOptions): Promise<Tensor> {
  return forwardPass(c, w, s, tokens, o);
}

async function forwardPass(c: Config, w: Weights, s: State, tokens: readonly number[], o: ForwardOptions, cap?: Capture): Promise<Tensor> {
  const T = tokens.length;
  const t0 = s.tokens.length;
  const budget = cap ? Infinity : o.budgetMs ?? Infinity;
  let turn = performance.now(); // when the event loop last ran
  // K(name)(estimatedMs, ...args): the kernel's result inline, or a promise of it from its native
  // async twin (see budgetMs); the caller awaits either. Inline calls make no promise: a decode
  // step is ~50 calls of a few microseconds each.
  const K = (name: string) => {
    const f = kernel(name), fa = asyncKernel(name), tm = o.timings;
    const hand = async (a: number, args: any[]): Promise<any> => {
      const r = await fa!(...args);
      turn = performance.now();
      if (tm) tm[name] = (tm[name] ?? 0) + turn - a;
      return r;
    };
    return (ms: number, ...args: any[]): any => {
      if (o.signal?.aborted) throw new ForwardAborted();
      // recording: the call runs now and its native op is captured under the kernel's name
      if (cap) return native.graphCapture(cap.handle, name, () => f(...args));
      const a = performance.now();
      if (fa && a - turn + ms > budget) return hand(a, args);
      const r = f(...args);
      if (tm) tm[name] = (tm[name] ?? 0) + performance.now() - a;
      return r;
    };
  };
  const rmsnorm = K('rmsnorm'), matmul = K('matmul'), add = K('add'), rope = K('rope'), embedding = K('embedding');
  const attention = K('attention'), kvAppend = K('kvAppend'), swiglu = K('swiglu');
  const moeRoute = K('moeRoute'), moeFfn = K('moeFfn');
  // recording: the graph's input buffers (a replay writes its token and position there)
  // (views, not copies: Tensor.from copies)
  const pos = cap ? cap.pos : Int32Array.from({ length: T }, (_, i) => t0 + i);
  const posT = new Tensor(pos.buffer, pos.byteOffset, 'i32', [T]);
  const idv = cap ? cap.ids : Int32Array.from(tokens);
  const ids = new Tensor(idv.buffer, idv.byteOffset, 'i32', [T]);
  const eps = c.rmsEps;
  const D = c.dim;
  // the rope kernel's options: mode 'norm' (llama.cpp's LLAMA_ROPE_TYPE_NORM) or 'neox', nDims rotated per head,
  // and ggml_rope_ext's scaling: freq_scale, YaRN (ext/attn factor, betas, n_ctx_orig), the rope_freqs factors
  const ropeOpts = ropeOptionsOf(c, w);
  const qd = c.nHead * c.headDim, kd = c.nHeadKv * c.headDim, vd = c.nHeadKv * c.headDimV;
  // attention reads every cached K/V row once per query block and does 4 flops per (query head, key, dim)
  const kvRowBytes = c.nHeadKv * (c.headDim + c.headDimV) * 2;
  const attnMs = (t0 + T) * kvRowBytes / EST_BYTES_PER_MS + (2 * T * (t0 + T) * c.nHead * (c.headDim + c.headDimV)) / EST_FLOPS_PER_MS;
  let x: Tensor = await embedding(streamMs(T * D), w.tokEmbd, ids);     // [T, dim]
  for (let l = 0; l < c.nLayer; l++) {
    const L = w.layers[l];
    const h: Tensor = await rmsnorm(streamMs(T * D), x, L.attnNorm, { eps }); // [T, dim]
    let q: Tensor, k: Tensor, v: Tensor;
    let qk3: Tensor | undefined;
    if (T === 1 && L.wQkv) {
      // decode: one GEMV over the fused rows; q, k, v are views of its one output row
      const qkv: Tensor = await matmul(matmulMs(1, L.wQkv), h, L.wQkv, { bias: L.bQkv }); // [1, qd + kd + vd]
      const nq = L.wq.shape[0], nk = L.wk.shape[0];
      const at = (t: Tensor, o: number, shape: number[]) => new Tensor(t.buffer, t.byteOffset + 4 * o, 'f32', shape);
      q = at(qkv, 0, [1, nq]); k = at(qkv, nq, [1, nk]); v = at(qkv, nq + nk, [1, L.wv.shape[0]]);
      if (!L.qNorm && !L.kNorm) {
        // q's and k's heads are adjacent in the row: one rope call rotates both
        const r: Tensor = await rope(streamMs(nq + nk), at(qkv, 0, [1, c.nHead + c.nHeadKv, c.headDim]), posT, ropeOpts);
        qk3 = r;
        q = at(r, 0, [1, nq]); k = at(r, nq, [1, nk]);
      }
    } else {
      q = await matmul(matmulMs(T, L.wq), h, L.wq, { bias: L.bq });      // [T, nHead*headDim]
      k = await matmul(matmulMs(T, L.wk), h, L.wk, { bias: L.bk });      // [T, nHeadKv*headDim]
      v = await matmul(matmulMs(T, L.wv), h, L.wv, { bias: L.bv });      // [T, nHeadKv*headDimV]
    }
    if (L.qNorm) q = L.qNorm.shape[0] === c.headDim ? await rmsnorm(streamMs(T * qd), q.reshape([T * c.nHead, c.headDim]), L.qNorm, { eps }) : await rmsnorm(streamMs(T * qd), q, L.qNorm, { eps });
    if (L.kNorm) k = L.kNorm.shape[0] === c.headDim ? await rmsnorm(streamMs(T * kd), k.reshape([T * c.nHeadKv, c.headDim]), L.kNorm, { eps }) : await rmsnorm(streamMs(T * kd), k, L.kNorm, { eps });
    const q3: Tensor = qk3 ? q.reshape([T, c.nHead, c.headDim]) : await rope(streamMs(T * qd), q.reshape([T, c.nHead, c.headDim]), posT, ropeOpts); // [T, nHead, headDim]
    const k3: Tensor = qk3 ? k.reshape([T, c.nHeadKv, c.headDim]) : await rope(streamMs(T * kd), k.reshape([T, c.nHeadKv, c.headDim]), posT, ropeOpts);
    await kvAppend(streamMs(T * (kd + vd)), s.caches[l], k3, v.reshape([T, c.nHeadKv, c.headDimV]), pos);
    const a: Tensor = await attention(attnMs, q3, s.caches[l], { positions: pos, ...(o.attention?.(l) ?? {}) }); // [T, nHead, headDimV]
    const ao = a.reshape([T, c.nHead * c.headDimV]);
    // decode: the residual is the GEMV's bias (x + W·a, the same sum as add's), one call fewer
    x = T === 1 ? await matmul(matmulMs(1, L.wo), ao, L.wo, { bias: x.reshape([D]) })
      : await add(streamMs(T * D), x, await matmul(matmulMs(T, L.wo), ao, L.wo));
    const h2: Tensor = await rmsnorm(streamMs(T * D), x, L.ffnNorm, { eps });
    if (c.nExpert === 0) {
      if (T === 1 && L.wGateUp) {
        const gu: Tensor = await matmul(matmulMs(1, L.wGateUp), h2, L.wGateUp); // [1, 2*ffDim]
        const f = c.ffDim;
        const g = new Tensor(gu.buffer, gu.byteOffset, 'f32', [1, f]), u = new Tensor(gu.buffer, gu.byteOffset + 4 * f, 'f32', [1, f]);
        x = await matmul(matmulMs(1, L.wDown!), await swiglu(streamMs(f), g, u), L.wDown, { bias: x.reshape([D]) }); // x + down(.)
      } else {
        const g: Tensor = await matmul(matmulMs(T, L.wGate!), h2, L.wGate);
        const u: Tensor = await matmul(matmulMs(T, L.wUp!), h2, L.wUp);
        x = await add(streamMs(T * D), x, await matmul(matmulMs(T, L.wDown!), await swiglu(streamMs(T * c.ffDim), g, u), L.wDown));
      }
    } else {
      const routerLogits: Tensor = await matmul(matmulMs(T, L.wRouter!), h2, L.wRouter); // [T, nExpert]
      if (o.onRouter) o.onRouter(l, t0, routerLogits);
      const routing = await moeRoute(streamMs(T * c.nExpert), routerLogits, {
        k: c.nExpertUsed, scoring: c.arch === 'llama' ? 'topk_softmax' : 'softmax_topk', normTopkProb: c.normTopkProb,
      });
      // the routed experts' three matrices (each read once when T is small), and the shared expert's
      const exp = L.wGateExps!, per = byteSize(exp.dtype, exp.shape) / c.nExpert;
      const used = Math.min(c.nExpert, T * c.nExpertUsed);
      const ffnMs = (3 * used * per) / EST_BYTES_PER_MS + (6 * T * c.nExpertUsed * c.expertFf * D) / EST_FLOPS_PER_MS
        + (L.wShUp ? 3 * matmulMs(T, L.wShUp) : 0);
      const y: Tensor = await moeFfn(ffnMs, h2, routing, {
        gate: L.wGateExps, up: L.wUpExps, down: L.wDownExps,
        ...(L.wShUp ? { shared: { gate: L.wShGate!, up: L.wShUp, down: L.wShDown!, gateInp: L.wShGateInp } } : {}),
      });
      x = await add(streamMs(T * D), x, y);
    }
    if (o.onLayer) await o.onLayer(l);
  }
  const xl = o.logits === 'last' ? x.slice(T - 1, T) : x;
  const hn: Tensor = await rmsnorm(streamMs(xl.shape[0] * D), xl, w.outNorm, { eps });
  if (o.output === 'hidden') {
    for (const t of tokens) s.tokens.push(t);
    return hn;
  }
  const logits: Tensor = await matmul(matmulMs(hn.shape[0], w.output), hn, w.output); // [T or 1, vocab]
  for (const t of tokens) s.tokens.push(t);
  return logits;
}

/**
 * One decoded token: forward() of [token] at the state's position, through the state's recorded
 * decode graph (csrc/napi/graph.h). The first call records it (a forward pass whose kernel calls
 * are captured as they run); later calls write the token and its position into the graph's
 * inputs and replay its ~10 ops a layer in one native call, without the kernels' JavaScript
 * wrappers, argument unwrapping and output allocations (about 10 us a call). Replays are
 * bit-identical to forward(). The graph is recorded again when the state's caches are replaced
 * (a context shift). It is not used with onRouter (which reads each layer's logits in
 * JavaScript), attention options with `stats` (filled in JavaScript after each call) or
 * output 'hidden'. A replay holds the event loop for a whole token unless it
 * runs async: it does when the last replay took longer than budgetMs.
 */
export async function decode(c: Config, w: Weights, s: State, token: number, o: ForwardOptions): Promise<Tensor> {
  // attention options with `stats` are filled by the call's JavaScript result, which a replay does not run
  const attnStats = o.attention !== undefined && Array.from({ length: c.nLayer }, (_, l) => o.attention!(l)).some((a) => a && a.stats !== undefined);
  if (o.graph === false || o.onRouter || o.output === 'hidden' || attnStats) return forward(c, w, s, [token], o);
  if (s.graph && !s.graph.fits(s)) { s.graph.dispose(); s.graph = undefined; }
  if (!s.graph) {
    const r = await DecodeGraph.record(c, w, s, token, o);
    s.graph = r.graph;
    return r.logits;
  }
  return s.graph.run(s, token, o);
}

/** A recorded decode step over one state's caches (see decode()). */
export class DecodeGraph {
  private handle: RecordingHandle | undefined;
  private lastMs: number;
  private labels: string[] | undefined;

  private constructor(handle: RecordingHandle, private readonly cap: Capture, private readonly out: Tensor,
    private readonly caches: readonly unknown[], recordMs: number) {
    this.handle = handle;
    this.lastMs = recordMs;
  }

  /** Runs forward() of [token] while recording it; returns the graph and that pass's logits. */
  static async record(c: Config, w: Weights, s: State, token: number, o: ForwardOptions): Promise<{ graph: DecodeGraph; logits: Tensor }> {
    const cap: Capture = { handle: native.graphCreate(), ids: Int32Array.of(token), pos: Int32Array.of(s.tokens.length) };
    const a = performance.now();
    try {
      const out = await forwardPass(c, w, s, [token], { ...o, logits: 'last', output: 'logits' }, cap);
      native.graphSeal(cap.handle);
      const g = new DecodeGraph(cap.handle, cap, out, s.caches.slice(), performance.now() - a);
      return { graph: g, logits: copyOf(out) };
    } catch (e) {
      native.graphFree(cap.handle);
      throw e;
    }
  }

  /** true while the state still has the caches the graph recorded */
  fits(s: State): boolean {
    return this.handle !== undefined && s.caches.length === this.caches.length && s.caches.every((x, i) => x === this.caches[i]);
  }

  /** forward() of [token] at the state's position, replayed; logits f32 [1, vocab] (a copy). */
  async run(s: State, token: number, o: ForwardOptions): Promise<Tensor> {
    if (this.handle === undefined) throw new Error('DecodeGraph: disposed');
    if (o.signal?.aborted) throw new ForwardAborted();
    this.cap.ids[0] = token;
    this.cap.pos[0] = s.tokens.length;
    const tm = o.timings;
    if (tm && !this.labels) this.labels = native.graphLabels(this.handle);
    const ms = tm ? new Float64Array(this.labels!.length) : null;
    const a = performance.now();
    const budget = o.budgetMs ?? Infinity;
    if (budget < this.lastMs) await native.graphRunAsync(this.handle, ms);
    else native.graphRun(this.handle, ms);
    this.lastMs = performance.now() - a;
    if (tm && ms) this.labels!.forEach((l, i) => { tm[l] = (tm[l] ?? 0) + ms[i]; });
    s.tokens.push(token);
    return copyOf(this.out);
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

function copyOf(t: Tensor): Tensor {
  const c = Tensor.zeros(t.shape, t.dtype);
  c.bytes().set(t.bytes());
  return c;
}
