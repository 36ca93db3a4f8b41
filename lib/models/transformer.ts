// The decoder-only transformer family fuselm runs: llama (dense, or Mixtral-style
// MoE when expert_count > 0), qwen2 (qkv bias), qwen3 (per-head q/k RMSNorm),
// qwen2moe / qwen3moe (routed experts, qwen2moe's sigmoid-gated shared expert),
// olmoe (q/k RMSNorm over the whole projection). Weights, State and one forward
// pass, composed from the kernels; the architectures differ only in the
// optional tensors they carry and in the constants Config reads.
import { GgufFile, ggufTensor, ggufTensorInfo } from '../formats/gguf';
import { DType } from '../dtype';
import { Tensor } from '../tensor';
import { repack } from '../ops/qgemm';
import { Config } from './config';
import { kernel } from './kernels';

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

const REPACK_FIELDS = ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown', 'wRouter', 'wGateExps', 'wUpExps', 'wDownExps',
  'wShGate', 'wShUp', 'wShDown'] as const;

/**
 * The decode GEMV's layout: every Q4_0 / Q8_0 projection whose row count is a multiple
 * of 16 (per expert for stacked experts) repacked to q4_0x16 / q8_0x16 (lib/ops/qgemm.ts
 * repack: same values, about 2x the GEMV speed). The copies leave the mmap; the token
 * embedding stays as it is for the row gather (a tied output gets its own repacked copy).
 * Returns new Weights and how many tensors were repacked.
 */
export function repackWeights(w: Weights): { weights: Weights; count: number } {
  let count = 0;
  const one = (t: Tensor | undefined): Tensor | undefined => {
    if (!t || (t.dtype !== 'q4_0' && t.dtype !== 'q8_0') || t.ndim < 2 || t.shape[t.ndim - 2] % 16 !== 0) return t;
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
  return { tokEmbd: tokEmbd!, layers, outNorm: outNorm!, output: output!, tied: !hasOut };
}


/** Per-layer attention options: dense (default) or a sparse form the attention kernel supports. */
export type LayerAttention = Record<string, unknown> | undefined;

export interface State {
  caches: any[];           // one KVCache per layer
  /** tokens whose K/V the caches hold, in order */
  tokens: number[];
}

export function newState(c: Config, kvDtype: 'f16' | 'f32' | 'int8' = 'f16'): State {
  const KVCache = kernel('KVCache') as unknown as new (o: object) => any;
  const caches = [];
  for (let l = 0; l < c.nLayer; l++) caches.push(new KVCache({ nKvHead: c.nHeadKv, headDim: c.headDim, dtype: kvDtype }));
  return { caches, tokens: [] };
}

export interface ForwardOptions {
  /** logits for every position, or only the last */
  logits: 'all' | 'last';
  /** per-layer attention options (dense when undefined) */
  attention?: (layer: number) => LayerAttention;
  /** called between layers so long prefills can yield */
  onLayer?: (layer: number) => void | Promise<void>;
  /** per-kernel time accounting (ms), when given */
  timings?: Record<string, number>;
  /** diagnostics: each MoE layer's router logits f32 [T, E], with the position of row 0 */
  onRouter?: (layer: number, pos0: number, logits: Tensor) => void;
}

/**
 * One forward pass over `tokens` appended at the state's current position.
 * Returns logits f32 [T or 1, vocab].
 */
export async function forward(c: Config, w: Weights, s: State, tokens: readonly number[], o: ForwardOptions): Promise<Tensor> {
  const T = tokens.length;
  const t0 = s.tokens.length;
  const K = (name: string) => {
    const f = kernel(name);
    if (!o.timings) return f;
    const tm = o.timings;
    return (...args: any[]) => { const a = performance.now(); const r = f(...args); tm[name] = (tm[name] ?? 0) + performance.now() - a; return r; };
  };
  const rmsnorm = K('rmsnorm'), matmul = K('matmul'), add = K('add'), rope = K('rope'), embedding = K('embedding');
  const attention = K('attention');
  const pos = Int32Array.from({ length: T }, (_, i) => t0 + i);
  const posT = Tensor.from(pos, [T]);
  const ids = Tensor.from(Int32Array.from(tokens), [T]);
  const eps = c.rmsEps;
  // the rope kernel's options: mode 'norm' (llama.cpp's LLAMA_ROPE_TYPE_NORM) or 'neox', nDims rotated per head
  const ropeOpts = { base: c.ropeBase, nDims: c.ropeDim, mode: c.ropeType === 'neox' ? 'neox' : 'norm' };
  let x: Tensor = embedding(w.tokEmbd, ids);                           // [T, dim]
  for (let l = 0; l < c.nLayer; l++) {
    const L = w.layers[l];
    const h = rmsnorm(x, L.attnNorm, { eps });                          // [T, dim]
    let q: Tensor = matmul(h, L.wq, { bias: L.bq });                    // [T, nHead*headDim]
    let k: Tensor = matmul(h, L.wk, { bias: L.bk });                    // [T, nHeadKv*headDim]
    const v: Tensor = matmul(h, L.wv, { bias: L.bv });                  // [T, nHeadKv*headDimV]
    if (L.qNorm) q = L.qNorm.shape[0] === c.headDim ? rmsnorm(q.reshape([T * c.nHead, c.headDim]), L.qNorm, { eps }) : rmsnorm(q, L.qNorm, { eps });
    if (L.kNorm) k = L.kNorm.shape[0] === c.headDim ? rmsnorm(k.reshape([T * c.nHeadKv, c.headDim]), L.kNorm, { eps }) : rmsnorm(k, L.kNorm, { eps });
    const q3 = rope(q.reshape([T, c.nHead, c.headDim]), posT, ropeOpts); // [T, nHead, headDim]
    const k3 = rope(k.reshape([T, c.nHeadKv, c.headDim]), posT, ropeOpts);
    s.caches[l].append(k3, v.reshape([T, c.nHeadKv, c.headDimV]), pos);
    const a: Tensor = attention(q3, s.caches[l], { positions: pos, ...(o.attention?.(l) ?? {}) }); // [T, nHead, headDimV]
    x = add(x, matmul(a.reshape([T, c.nHead * c.headDimV]), L.wo));
    const h2 = rmsnorm(x, L.ffnNorm, { eps });
    let y: Tensor;
    if (c.nExpert === 0) {
      const swiglu = K('swiglu');
      y = matmul(swiglu(matmul(h2, L.wGate), matmul(h2, L.wUp)), L.wDown);
    } else {
      const moeRoute = K('moeRoute'), moeFfn = K('moeFfn');
      const routerLogits: Tensor = matmul(h2, L.wRouter);              // [T, nExpert]
      if (o.onRouter) o.onRouter(l, t0, routerLogits);
      const routing = moeRoute(routerLogits, {
        k: c.nExpertUsed, scoring: c.arch === 'llama' ? 'topk_softmax' : 'softmax_topk', normTopkProb: c.normTopkProb,
      });
      y = moeFfn(h2, routing, {
        gate: L.wGateExps, up: L.wUpExps, down: L.wDownExps,
        ...(L.wShUp ? { shared: { gate: L.wShGate!, up: L.wShUp, down: L.wShDown!, gateInp: L.wShGateInp } } : {}),
      });
    }
    x = add(x, y);
    if (o.onLayer) await o.onLayer(l);
  }
  const xl = o.logits === 'last' ? x.slice(T - 1, T) : x;
  const hn = rmsnorm(xl, w.outNorm, { eps });
  const logits: Tensor = matmul(hn, w.output);                          // [T or 1, vocab]
  for (const t of tokens) s.tokens.push(t);
  return logits;
}
