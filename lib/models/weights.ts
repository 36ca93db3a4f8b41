// Weights: the model's tensors bound to their places (with the shape of each field), and
// the load-time layout policy: which projections are fused into one matrix for decode and
// which are repacked for the decode GEMV. Every weight is copied at most once: a fused
// matrix is written, repacked or not, straight from its parts.
import { GgufFile, ggufTensor, ggufTensorInfo } from '../formats/gguf';
import { DType } from '../dtype';
import { Tensor, byteSize } from '../tensor';
import { REPACKABLE_DTYPES, repack, repackedDtype } from '../ops/qgemm';
import { weightZeros } from '../ops/common';
import { ATTENTION_HEAD_DIMS } from '../ops/attention';
import { ARCH_TRAITS, Config } from './config';

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

/**
 * The decode GEMV's layout: a projection in one of the repackable formats (REPACKABLE_DTYPES of
 * lib/ops/qgemm.ts) whose row count is a multiple of 16 (per expert for stacked experts) is
 * repacked to its x16 form (same values, a faster GEMV); the others stay as they are.
 */
function repackable(t: Tensor | undefined): t is Tensor {
  return t !== undefined && REPACKABLE_DTYPES.includes(t.dtype) && t.ndim >= 2 && t.shape[t.ndim - 2] % 16 === 0;
}

// the projections repacked one by one (the fused ones are written in place: see fuseRows)
const REPACK_FIELDS = ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown', 'wRouter', 'wGateExps', 'wUpExps', 'wDownExps',
  'wShGate', 'wShUp', 'wShDown'] as const;

/** Rows [r0, r1) of a contiguous [N, K] matrix, zero-copy. */
function rowView(t: Tensor, r0: number, r1: number): Tensor {
  const rb = byteSize(t.dtype, [1, t.shape[1]]);
  return new Tensor(t.buffer, t.byteOffset + r0 * rb, t.dtype, [r1 - r0, t.shape[1]]);
}

/** Whether (and as what) fuseRows would fuse `ts`: the parts, the fused dtype and shape. */
function fusePlan(ts: readonly (Tensor | undefined)[], repacked: boolean) {
  const first = ts[0];
  if (!first || ts.some((t) => !t || t.ndim !== 2 || !t.isContiguous() || t.dtype !== first.dtype || t.shape[1] !== first.shape[1])) return undefined;
  const parts = ts as readonly Tensor[];
  const nRepackable = repacked ? parts.filter(repackable).length : 0;
  if (nRepackable !== 0 && nRepackable !== parts.length) return undefined;
  const dtype: DType = nRepackable ? repackedDtype(first.dtype)! : first.dtype;
  return { parts, nRepackable, dtype, rows: parts.reduce((a, t) => a + t.shape[0], 0), K: first.shape[1] };
}

/**
 * Matrices of one dtype and width, row-concatenated into one new matrix (each part's rows
 * copied once, repacked on the way when `repacked`: the x16 layout interleaves groups of 16
 * rows, and every part's rows are whole groups, so the result equals the repacked parts
 * concatenated). Returns the matrix and a zero-copy row view of it for each part, or
 * undefined when the parts cannot be fused (other dtypes or widths, or only some repackable).
 */
function fuseRows(ts: readonly (Tensor | undefined)[], repacked: boolean): { fused: Tensor; views: Tensor[] } | undefined {
  const plan = fusePlan(ts, repacked);
  if (!plan) return undefined;
  const { parts, nRepackable, dtype, rows, K } = plan;
  const fused = weightZeros([rows, K], dtype);
  const views: Tensor[] = [];
  let r = 0;
  for (const t of parts) {
    const view = rowView(fused, r, r + t.shape[0]);
    if (nRepackable) repack(t, dtype, view);
    else view.bytes().set(t.bytes());
    views.push(view);
    r += t.shape[0];
  }
  return { fused, views };
}

export interface LayoutOptions {
  /** repack the repackable projections for the decode GEMV (default true) */
  repack?: boolean;
  /** fuse q/k/v (and a dense FFN's gate/up) into one matrix each (default true) */
  fuse?: boolean;
}

/**
 * The load-time layout. Fusions: per layer, q/k/v (and a dense FFN's gate/up) row-concatenated
 * into one matrix, so a decoded token runs one GEMV (one native call, one pool hand-off)
 * instead of three (two); wq/wk/wv and wGate/wUp become zero-copy row views of it, which
 * prefill keeps using, so no weight is held twice. Row results are independent of the other
 * rows, so outputs are unchanged. Then every other repackable projection is repacked (the
 * token embedding stays as it is for the row gather; a tied output gets its own repacked
 * copy). Each weight is copied once at most. Returns new Weights and how many tensors were
 * copied out of their source (0: the weights are still the source's, e.g. mmap'd).
 */
export function layoutWeights(w: Weights, o: LayoutOptions = {}): { weights: Weights; copied: number } {
  const doRepack = o.repack !== false, doFuse = o.fuse !== false;
  let copied = 0;
  const one = (t: Tensor | undefined): Tensor | undefined => {
    if (!doRepack || !repackable(t)) return t;
    copied++;
    return repack(t);
  };
  const layers = w.layers.map((l) => {
    const c: LayerWeights = { ...l };
    const fused = new Set<string>();
    if (doFuse) {
      const qkv = fuseRows([l.wq, l.wk, l.wv], doRepack);
      if (qkv) {
        copied += 3;
        c.wQkv = qkv.fused;
        [c.wq, c.wk, c.wv] = qkv.views;
        fused.add('wq').add('wk').add('wv');
        const nq = l.wq.shape[0], nk = l.wk.shape[0], nv = l.wv.shape[0];
        if (l.bq || l.bk || l.bv) {
          const b = new Float32Array(nq + nk + nv);
          ([[l.bq, 0], [l.bk, nq], [l.bv, nq + nk]] as const).forEach(([t, at]) => { if (t) b.set(t.toArray() as Float32Array, at); });
          c.bQkv = Tensor.from(b, [nq + nk + nv]);
        }
      }
      const gu = l.wGate && l.wUp ? fuseRows([l.wGate, l.wUp], doRepack) : undefined;
      if (gu) {
        copied += 2;
        c.wGateUp = gu.fused;
        [c.wGate, c.wUp] = gu.views;
        fused.add('wGate').add('wUp');
      }
    }
    for (const f of REPACK_FIELDS) if (!fused.has(f)) (c as unknown as Record<string, Tensor | undefined>)[f] = one(l[f]);
    return c;
  });
  return { weights: { ...w, layers, output: one(w.output)! }, copied };
}

/**
 * The bytes layoutWeights(w, o) would allocate for its copies (fused matrices and repacked
 * projections), computed without copying: what load() compares with the memory it may use.
 */
export function layoutCopyBytes(w: Weights, o: LayoutOptions = {}): number {
  const doRepack = o.repack !== false, doFuse = o.fuse !== false;
  let bytes = 0;
  const one = (t: Tensor | undefined) => { if (doRepack && repackable(t)) bytes += byteSize(repackedDtype(t.dtype)!, t.shape); };
  for (const l of w.layers) {
    const fused = new Set<string>();
    if (doFuse) {
      const qkv = fusePlan([l.wq, l.wk, l.wv], doRepack);
      if (qkv) { bytes += byteSize(qkv.dtype, [qkv.rows, qkv.K]); fused.add('wq').add('wk').add('wv'); }
      const gu = l.wGate && l.wUp ? fusePlan([l.wGate, l.wUp], doRepack) : undefined;
      if (gu) { bytes += byteSize(gu.dtype, [gu.rows, gu.K]); fused.add('wGate').add('wUp'); }
    }
    for (const f of REPACK_FIELDS) if (!fused.has(f)) one(l[f]);
  }
  one(w.output);
  return bytes;
}

/** Binds the tensors to Weights, checking every shape; gathers every problem into one error. */
export function loadWeights(from: GgufFile | TensorSource, c: Config): Weights {
  const src: TensorSource = 'info' in from ? from : ggufSource(from);
  const traits = ARCH_TRAITS[c.arch];
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
  // the attention kernels' head sizes, refused here (at load, with the rest) rather than at the first evaluate
  if (!ATTENTION_HEAD_DIMS.includes(c.headDim)) {
    problems.push(`blk.0.attn_q.weight: head size ${c.headDim} (key_length) is not one the attention kernels take (${ATTENTION_HEAD_DIMS.join(', ')})`);
  }
  if (c.headDimV !== c.headDim) {
    problems.push(`blk.0.attn_v.weight: value head size ${c.headDimV} differs from the key head size ${c.headDim}; the attention kernels take equal ones`);
  }
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
    for (const group of traits.layerTensors) {
      if (group.some((name) => !src.info(p + name))) problems.push(`${c.arch} needs ${group.map((name) => p + name).join(' and ')}`);
    }
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
    if (!traits.ropeFreqs) problems.push(`rope_freqs.weight is used by the llama architecture only, not by ${c.arch}`);
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

