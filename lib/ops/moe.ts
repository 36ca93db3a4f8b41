// Family `moe`: Mixture-of-Experts routing, permutation, expert FFN and load statistics.
// Plan, then run: moeRoute -> (moePermute) -> moeFfn. The exact semantics of every
// mode are written once in csrc/include/fuselm/ops/moe.h.
import { native } from '../native';
import { NativeBuffer } from '../native-api';
import { checkInt, checkNumber, checkOptionKeys, fail, keysOf } from '../check';
import { Tensor } from '../tensor';
import { DTYPES, DType } from '../dtype';
import { Launch, checkDType, checkTensor, outputLike, runAsync, runNow } from './common';

export type MoeScoring = 'softmax_topk' | 'topk_softmax' | 'sigmoid_group';
const SCORINGS: readonly MoeScoring[] = ['softmax_topk', 'topk_softmax', 'sigmoid_group'];

export interface MoeRouteOptions {
  /** experts per token, in [1, min(8, E)] */
  k: number;
  /**
   * 'softmax_topk' (default; Qwen-MoE, OLMoE, Qwen3-MoE): softmax over all E, then the top k;
   * 'topk_softmax' (Mixtral): the top k logits, then softmax over those k;
   * 'sigmoid_group' (DeepSeek-V3): sigmoid scores, selection on score + bias within the
   * topkGroup best of nGroup groups, weights from the unbiased scores.
   */
  scoring?: MoeScoring;
  /** renormalise the k weights to sum 1 (HF's norm_topk_prob); default false */
  normTopkProb?: boolean;
  /** sigmoid_group: number of expert groups (divides E); default 1 */
  nGroup?: number;
  /** sigmoid_group: groups kept per token, in [1, nGroup]; default nGroup */
  topkGroup?: number;
  /** sigmoid_group: f32 [E] selection bias (DeepSeek-V3's e_score_correction_bias); default none */
  bias?: Tensor;
  /** multiplies every final weight (routed_scaling_factor); default 1 */
  routedScalingFactor?: number;
}
const MOE_ROUTE_KEYS = keysOf<MoeRouteOptions>({
  k: 1, scoring: 1, normTopkProb: 1, nGroup: 1, topkGroup: 1, bias: 1, routedScalingFactor: 1,
});

/** Routing of T tokens: expert ids (best first) and their weights. */
export interface MoeRouting {
  /** i32 [T, k] */
  ids: Tensor;
  /** f32 [T, k] */
  weights: Tensor;
}

function shapeEq(t: Tensor, s: readonly number[]): boolean {
  return t.shape.length === s.length && t.shape.every((d, i) => d === s[i]);
}

/**
 * Router: one fused pass per token from logits [T, E] to top-k ids and weights [T, k].
 * E up to 256, k up to 8; ties go to the lower expert id; -Infinity logits are allowed,
 * NaN and +Infinity throw.
 *
 * @param logits f32 [T, E] (x · W_gate, e.g. from matmul)
 * @example
 *   const r = moeRoute(logits, { k: 2, scoring: 'topk_softmax' });           // Mixtral
 *   const r = moeRoute(logits, { k: 8, scoring: 'sigmoid_group', nGroup: 8, topkGroup: 4,
 *                                bias, normTopkProb: true, routedScalingFactor: 2.5 }); // DeepSeek-V3
 */
export function moeRoute(logits: Tensor, opts: MoeRouteOptions, out?: MoeRouting): MoeRouting {
  return runNow(moeRouteLaunch('moeRoute', logits, opts, out));
}

/** {@link moeRoute} as native async work: the event loop runs while it does. */
export async function moeRouteAsync(logits: Tensor, opts: MoeRouteOptions, out?: MoeRouting): Promise<MoeRouting> {
  return runAsync(moeRouteLaunch('moeRouteAsync', logits, opts, out));
}

function moeRouteLaunch(fn: string, logits: Tensor, opts: MoeRouteOptions, out?: MoeRouting): Launch<'moeRoute', MoeRouting> {
  checkDType(logits, 'logits', ['f32'], fn);
  if (logits.ndim !== 2) fail('range', 'logits.shape', '[T, E]', logits.shape, fn);
  const [T, E] = logits.shape;
  if (E < 1 || E > 256) fail('range', 'logits.shape[1]', 'an expert count E in [1, 256]', E, fn);
  const o = checkOptionKeys(opts, MOE_ROUTE_KEYS, 'opts', fn);
  if (opts === undefined || opts === null) fail('type', 'opts', 'an options object with k', opts, fn);
  const kmax = Math.min(8, E);
  const k = checkInt(o.k, 'opts.k', 1, kmax, fn);
  const scoring = o.scoring === undefined ? 'softmax_topk' : o.scoring;
  if (!SCORINGS.includes(scoring as MoeScoring)) fail('type', 'opts.scoring', SCORINGS.map((s) => `'${s}'`).join(', '), scoring, fn);
  const norm = o.normTopkProb === undefined ? false : o.normTopkProb;
  if (typeof norm !== 'boolean') fail('type', 'opts.normTopkProb', 'a boolean', norm, fn);
  const scale = o.routedScalingFactor === undefined ? 1 : checkNumber(o.routedScalingFactor, 'opts.routedScalingFactor', -Infinity, Infinity, fn);
  let nGroup = 1, topkGroup = 1;
  let bias: Tensor | undefined;
  if (scoring === 'sigmoid_group') {
    nGroup = o.nGroup === undefined ? 1 : checkInt(o.nGroup, 'opts.nGroup', 1, E, fn);
    if (E % nGroup !== 0) fail('range', 'opts.nGroup', `a divisor of E=${E}`, nGroup, fn);
    topkGroup = o.topkGroup === undefined ? nGroup : checkInt(o.topkGroup, 'opts.topkGroup', 1, nGroup, fn);
    const avail = topkGroup * (E / nGroup);
    if (k > avail) fail('range', 'opts.k', `integer in [1, topkGroup * E / nGroup = ${avail}]`, k, fn);
    if (o.bias !== undefined) {
      checkDType(o.bias, 'opts.bias', ['f32'], fn);
      bias = o.bias as Tensor;
      if (!shapeEq(bias, [E])) fail('range', 'opts.bias.shape', `[${E}]`, bias.shape, fn);
    }
  } else {
    for (const key of ['nGroup', 'topkGroup', 'bias'] as const) {
      if (o[key] !== undefined) fail('type', `opts.${key}`, "no value unless scoring is 'sigmoid_group'", o[key], fn);
    }
  }
  let ids: Tensor, weights: Tensor;
  if (out === undefined) {
    ids = Tensor.zeros([T, k], 'i32');
    weights = Tensor.zeros([T, k], 'f32');
  } else {
    if (typeof out !== 'object' || out === null) fail('type', 'out', 'a MoeRouting {ids, weights}', out, fn);
    checkDType(out.ids, 'out.ids', ['i32'], fn);
    checkDType(out.weights, 'out.weights', ['f32'], fn);
    if (!shapeEq(out.ids, [T, k])) fail('range', 'out.ids.shape', `[${T}, ${k}]`, out.ids.shape, fn);
    if (!shapeEq(out.weights, [T, k])) fail('range', 'out.weights.shape', `[${T}, ${k}]`, out.weights.shape, fn);
    ids = out.ids;
    weights = out.weights;
  }
  const routing = out ?? { ids, weights };
  return {
    fn: 'moeRoute',
    args: [ids.bytes(), weights.bytes(), logits.bytes(), T, E, SCORINGS.indexOf(scoring as MoeScoring), k, norm,
      nGroup, topkGroup, scale, bias ? bias.bytes() : null],
    result: () => routing,
  };
}

/** Tokens grouped by expert: the schedule a grouped GEMM runs over. */
export interface MoePlan {
  /** i32 [E]: pairs routed to each expert */
  counts: Tensor;
  /** i32 [E + 1]: first row of each expert's (padded) range; offsets[E] = total */
  offsets: Tensor;
  /** i32 [total]: pair index t * k + j of each row, sorted by expert (stable), -1 in padding rows */
  pairs: Tensor;
  /** i32 [T, k]: the row of pair (t, j), so pairs[inverse[p]] === p */
  inverse: Tensor;
  /** rows including padding */
  total: number;
}

export interface MoePermuteOptions {
  /** number of experts */
  E: number;
  /** pad each expert's rows to a multiple of this (a GEMM tile); default 1 */
  pad?: number;
}
const MOE_PERMUTE_KEYS = keysOf<MoePermuteOptions>({ E: 1, pad: 1 });

/**
 * Permutation: per-expert counts, offsets (prefix sum of the padded counts), the stable
 * list of (token, slot) pairs sorted by expert, and its inverse.
 *
 * @param ids i32 [T, k] expert ids (e.g. moeRoute(...).ids), each in [0, E)
 * @example
 *   const plan = moePermute(r.ids, { E: 64, pad: 16 });
 */
export function moePermute(ids: Tensor, opts: MoePermuteOptions): MoePlan {
  const fn = 'moePermute';
  checkDType(ids, 'ids', ['i32'], fn);
  if (ids.ndim !== 2) fail('range', 'ids.shape', '[T, k]', ids.shape, fn);
  const o = checkOptionKeys(opts, MOE_PERMUTE_KEYS, 'opts', fn);
  const E = checkInt(o.E, 'opts.E', 1, 1 << 20, fn);
  const pad = o.pad === undefined ? 1 : checkInt(o.pad, 'opts.pad', 1, 4096, fn);
  const [T, k] = ids.shape;
  checkInt(k, 'ids.shape[1]', 1, Math.min(8, E), fn);
  checkIds(ids.toArray() as Int32Array, T, k, E, fn);
  const counts = Tensor.zeros([E], 'i32');
  const offsets = Tensor.zeros([E + 1], 'i32');
  const cap = T * k + E * (pad - 1);
  const pairsAll = Tensor.zeros([cap], 'i32');
  const inverse = Tensor.zeros([T, k], 'i32');
  const total: number = native.moePermute(counts.bytes(), offsets.bytes(), pairsAll.bytes(), inverse.bytes(), ids.bytes(), T, k, E, pad);
  return { counts, offsets, pairs: pairsAll.slice(0, total), inverse, total };
}

function checkIds(v: Int32Array, T: number, k: number, E: number, fn: string): void {
  for (let i = 0; i < v.length; i++) {
    if (v[i] < 0 || v[i] >= E) fail('range', `ids[${Math.floor(i / k)}, ${i % k}]`, `an expert id in [0, ${E - 1}]`, v[i], fn);
  }
}

/**
 * Per-expert load statistics of one MoE layer, accumulated by moeFfn across calls
 * (pass it as opts.stats). Plain JS memory: nothing to dispose.
 */
export class MoeStats {
  /** experts in the layer */
  readonly E: number;
  /** [0, E): pairs per expert; then calls, tokens, skipped pairs (the native layout) */
  readonly data: Float64Array;
  /** the report of the last moeFfn call that recorded into these stats */
  last: MoeFfnReport | null = null;

  constructor(E: number) {
    checkInt(E, 'E', 1, 1 << 20, 'MoeStats');
    this.E = E;
    this.data = new Float64Array(E + 3);
  }

  /** routed (token, expert) pairs each expert computed, after skipping (a copy) */
  counts(): Float64Array { return this.data.slice(0, this.E); }
  /** moeFfn calls recorded */
  get calls(): number { return this.data[this.E]; }
  /** tokens seen */
  get tokens(): number { return this.data[this.E + 1]; }
  /** pairs dropped by dynamic skipping */
  get skipped(): number { return this.data[this.E + 2]; }
  /** fraction of all pairs each expert received (zeros before any call) */
  loads(): Float64Array {
    const c = this.counts();
    const tot = c.reduce((a, b) => a + b, 0);
    return tot > 0 ? c.map((v) => v / tot) : c;
  }
  reset(): void { this.data.fill(0); this.last = null; }
}


/** Expert weight formats: qgemm's matmul formats, including the GEMV-repacked ones (see repack(); N a multiple of 16). */
export const MOE_WEIGHT_DTYPES: readonly DType[] = [
  'f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_k', 'q5_k', 'q6_k', 'q4_0x16', 'q8_0x16', 'q4_kx16', 'q6_kx16',
  'q5_0', 'q4_1', 'q5_1', 'iq4_nl', 'mxfp4', 'q5_0x16', 'q4_1x16', 'q5_1x16', 'iq4_nlx16', 'mxfp4x16',
  'iq4_xs', 'q3_k', 'q2_k', 'iq4_xsx16', 'q3_kx16', 'q2_kx16',
];

/** A shared expert (Qwen-MoE's *_shexp, DeepSeek's shared experts concatenated to one FFN). */
export interface MoeSharedExpert {
  /** [FFs, D] */
  gate: Tensor;
  /** [FFs, D] */
  up: Tensor;
  /** [D, FFs] */
  down: Tensor;
  /** f32 [D] or [1, D]: Qwen-MoE's ffn_gate_inp_shexp; the shared output is scaled by sigmoid(gateInp · x). Omit for weight 1. */
  gateInp?: Tensor;
}

/** Expert weights as GGUF stores them: stacked [E, N, K] per projection, or one tensor per expert (mixed formats). */
export interface MoeExperts {
  /** [E, FF, D] (ffn_gate_exps), or E tensors [FF, D] */
  gate: Tensor | readonly Tensor[];
  /** [E, FF, D] (ffn_up_exps), or E tensors [FF, D] */
  up: Tensor | readonly Tensor[];
  /** [E, D, FF] (ffn_down_exps), or E tensors [D, FF] */
  down: Tensor | readonly Tensor[];
  shared?: MoeSharedExpert;
}

export interface MoeFfnOptions {
  /**
   * MC-MoE dynamic skipping: drop a routed expert whose normalised weight w / sum(w) is below
   * this (never the token's top-1), rescaling the kept weights to the same sum. In [0, 1); default 0 (off).
   */
  skipThreshold?: number;
  /** add into out instead of overwriting it (e.g. the residual stream); default false */
  accumulate?: boolean;
  /** per-expert load statistics to accumulate into (its `last` holds this call's report) */
  stats?: MoeStats;
  /** filled with what this call computed and read (skipped pairs, experts, bytes) */
  report?: MoeFfnReport;
}
const MOE_FFN_KEYS = keysOf<MoeFfnOptions>({ skipThreshold: 1, accumulate: 1, stats: 1, report: 1 });

/** What one moeFfn call computed and read. */
export interface MoeFfnReport {
  /** routed (token, expert) pairs computed, after skipping */
  pairs: number;
  /** pairs dropped by skipThreshold */
  skipped: number;
  /** distinct routed experts that received tokens */
  experts: number;
  /** weight bytes of the experts computed (routed + shared): what decode streams from memory */
  bytes: number;
}

interface ProjArgs { buf: Uint8Array | Uint8Array[]; types: number | number[] }

function projection(v: unknown, arg: string, E: number | undefined, N: number | undefined, K: number, fn: string): { args: ProjArgs; E: number; N: number } {
  const checkW = (t: unknown, a: string): Tensor => {
    checkTensor(t, a, fn);
    if (!MOE_WEIGHT_DTYPES.includes(t.dtype)) fail('type', `${a}.dtype`, MOE_WEIGHT_DTYPES.map((d) => `'${d}'`).join(', '), t.dtype, fn);
    if (!t.isContiguous()) fail('type', a, 'a contiguous tensor', '#a strided view', fn);
    return t;
  };
  if (Array.isArray(v)) {
    if (v.length < 1 || (E !== undefined && v.length !== E)) fail('range', `${arg}.length`, E === undefined ? 'at least 1 expert' : `E=${E} experts`, v.length, fn);
    const bufs: Uint8Array[] = [], types: number[] = [];
    let n = N;
    v.forEach((t, e) => {
      const w = checkW(t, `${arg}[${e}]`);
      if (n === undefined && w.ndim === 2) n = w.shape[0];
      if (w.ndim !== 2 || w.shape[0] !== n || w.shape[1] !== K) fail('range', `${arg}[${e}].shape`, `[${n ?? 'N'}, ${K}]`, w.shape, fn);
      bufs.push(w.bytes());
      types.push(DTYPES[w.dtype].id);
    });
    return { args: { buf: bufs, types }, E: v.length, N: n as number };
  }
  const w = checkW(v, arg);
  const e = E ?? w.shape[0];
  const n = N ?? w.shape[1];
  if (w.ndim !== 3 || w.shape[0] !== e || w.shape[1] !== n || w.shape[2] !== K) fail('range', `${arg}.shape`, `[${e}, ${n}, ${K}]`, w.shape, fn);
  return { args: { buf: w.bytes(), types: DTYPES[w.dtype].id }, E: e, N: n };
}

/**
 * MoE feed-forward: for every expert that received tokens, gate and up projections, fused
 * SwiGLU, and the down projection scaled by the routing weight and added into the token's
 * output row (the combine is fused into the down projection; there is no [T, k, D]
 * intermediate). A shared expert is added on top:
 *
 *   y_t = Σ_j w_tj · down_e(silu(gate_e x_t) ⊙ up_e x_t)  +  g_t · down_s(silu(gate_s x_t) ⊙ up_s x_t)
 *
 * with e = ids[t, j] and g_t = sigmoid(gateInp · x_t) (or 1). Decode (few tokens per expert)
 * runs every routed expert as a GEMV over its rows, all experts split over the pool
 * together; prefill runs one GEMM per expert over its gathered tokens. Activations are
 * quantized to each weight format's dot partner, as in matmul().
 *
 * @param x f32 [T, D]
 * @param routing ids i32 [T, k] (distinct per token, in [0, E)) and weights f32 [T, k], e.g. from moeRoute
 * @param experts stacked [E, N, K] tensors or arrays of E per-expert tensors, any matmul format
 * @example
 *   const r = moeRoute(matmul(x, gateInp), { k: 2, scoring: 'topk_softmax' });
 *   const y = moeFfn(x, r, { gate: ffnGateExps, up: ffnUpExps, down: ffnDownExps });
 *   const report = {} as MoeFfnReport;                       // what it skipped and read
 *   moeFfn(x, r, { gate, up, down, shared: { gate: sg, up: su, down: sd, gateInp } }, { skipThreshold: 0.1, report }, y);
 */
export function moeFfn(x: Tensor, routing: MoeRouting, experts: MoeExperts, opts?: MoeFfnOptions, out?: Tensor): Tensor {
  return runNow(moeFfnLaunch('moeFfn', x, routing, experts, opts, out));
}

/**
 * {@link moeFfn} as native async work: the event loop runs while it does. The routing is
 * read (and checked) when the call is made.
 */
export async function moeFfnAsync(x: Tensor, routing: MoeRouting, experts: MoeExperts, opts?: MoeFfnOptions, out?: Tensor): Promise<Tensor> {
  return runAsync(moeFfnLaunch('moeFfnAsync', x, routing, experts, opts, out));
}

function moeFfnLaunch(fn: string, x: Tensor, routing: MoeRouting, experts: MoeExperts, opts?: MoeFfnOptions, out?: Tensor): Launch<'moeFfn', Tensor> {
  checkDType(x, 'x', ['f32'], fn);
  if (x.ndim !== 2) fail('range', 'x.shape', '[T, D]', x.shape, fn);
  const [T, D] = x.shape;
  if (D < 1) fail('range', 'x.shape', 'a last dimension D >= 1', x.shape, fn);
  if (typeof routing !== 'object' || routing === null) fail('type', 'routing', 'a MoeRouting {ids, weights}', routing, fn);
  checkDType(routing.ids, 'routing.ids', ['i32'], fn);
  checkDType(routing.weights, 'routing.weights', ['f32'], fn);
  const ids = routing.ids, weights = routing.weights;
  if (ids.ndim !== 2 || ids.shape[0] !== T) fail('range', 'routing.ids.shape', `[T=${T}, k]`, ids.shape, fn);
  const k = ids.shape[1];
  if (!shapeEq(weights, [T, k])) fail('range', 'routing.weights.shape', `[${T}, ${k}]`, weights.shape, fn);
  if (typeof experts !== 'object' || experts === null) fail('type', 'experts', 'a MoeExperts {gate, up, down, shared?}', experts, fn);
  for (const key of Object.keys(experts)) {
    if (!['gate', 'up', 'down', 'shared'].includes(key)) fail('type', `experts.${key}`, "no other keys than gate, up, down, shared (a shared expert goes in experts.shared: {gate, up, down, gateInp?})", (experts as unknown as Record<string, unknown>)[key], fn);
  }
  const g = projection(experts.gate, 'experts.gate', undefined, undefined, D, fn);
  const E = g.E, FF = g.N;
  const u = projection(experts.up, 'experts.up', E, FF, D, fn);
  const d = projection(experts.down, 'experts.down', E, D, FF, fn);
  if (k < 1 || k > Math.min(8, E)) fail('range', 'routing.ids.shape[1]', `k in [1, ${Math.min(8, E)}] (k <= E=${E})`, k, fn);
  const o = checkOptionKeys(opts, MOE_FFN_KEYS, 'opts', fn);
  const skip = o.skipThreshold === undefined ? 0 : checkNumber(o.skipThreshold, 'opts.skipThreshold', 0, 1, fn);
  if (skip >= 1) fail('range', 'opts.skipThreshold', 'a number in [0, 1)', skip, fn);
  const accumulate = o.accumulate === undefined ? false : o.accumulate;
  if (typeof accumulate !== 'boolean') fail('type', 'opts.accumulate', 'a boolean', accumulate, fn);
  let stats: MoeStats | undefined;
  if (o.stats !== undefined) {
    if (!(o.stats instanceof MoeStats)) fail('type', 'opts.stats', 'a MoeStats', o.stats, fn);
    stats = o.stats;
    if (stats.E !== E) fail('range', 'opts.stats.E', `E=${E}`, stats.E, fn);
  }
  if (o.report !== undefined && (typeof o.report !== 'object' || o.report === null)) fail('type', 'opts.report', 'an object to fill', o.report, fn);
  // routing values: checked here (and again natively) before any memory is written
  const idv = ids.toArray() as Int32Array, wv = weights.toArray() as Float32Array;
  checkIds(idv, T, k, E, fn);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < k; j++) {
      const v = wv[t * k + j];
      if (!Number.isFinite(v)) fail('range', `routing.weights[${t}, ${j}]`, 'a finite number', v, fn);
      for (let i = 0; i < j; i++) {
        if (idv[t * k + i] === idv[t * k + j]) fail('range', `routing.ids[${t}, ${j}]`, `distinct expert ids per token (${idv[t * k + j]} is also slot ${i})`, idv[t * k + j], fn);
      }
    }
  }
  let FFs = 0;
  // the shared expert's arguments: gate, gateType, up, upType, down, downType, gateInp (read when FFs > 0)
  let sh: [NativeBuffer | null, number, NativeBuffer | null, number, NativeBuffer | null, number, NativeBuffer | null] = [null, 0, null, 0, null, 0, null];
  if (experts.shared !== undefined) {
    const s = experts.shared;
    if (typeof s !== 'object' || s === null) fail('type', 'experts.shared', 'a MoeSharedExpert {gate, up, down, gateInp?}', s, fn);
    const sg = projection([s.gate], 'experts.shared.gate', 1, undefined, D, fn);
    FFs = sg.N;
    const su = projection([s.up], 'experts.shared.up', 1, FFs, D, fn);
    const sd = projection([s.down], 'experts.shared.down', 1, D, FFs, fn);
    let gi: Uint8Array | null = null;
    if (s.gateInp !== undefined) {
      checkDType(s.gateInp, 'experts.shared.gateInp', ['f32'], fn);
      if (s.gateInp.numel !== D || s.gateInp.shape[s.gateInp.ndim - 1] !== D) fail('range', 'experts.shared.gateInp.shape', `[${D}] or [1, ${D}]`, s.gateInp.shape, fn);
      gi = s.gateInp.bytes();
    }
    const one = (p: ProjArgs): [NativeBuffer, number] => [(p.buf as Uint8Array[])[0], (p.types as number[])[0]];
    sh = [...one(sg.args), ...one(su.args), ...one(sd.args), gi];
  }
  const y = outputLike(out, [T, D], 'f32', fn);
  return {
    fn: 'moeFfn',
    args: [y.bytes(), x.bytes(), ids.bytes(), weights.bytes(), T, D, k, E, FF,
      g.args.buf, g.args.types, u.args.buf, u.args.types, d.args.buf, d.args.types,
      FFs, ...sh, skip, accumulate, stats ? stats.data : null],
    result: (rep: MoeFfnReport) => {
      const report: MoeFfnReport = { pairs: rep.pairs, skipped: rep.skipped, experts: rep.experts, bytes: rep.bytes };
      if (o.report !== undefined) Object.assign(o.report as MoeFfnReport, report);
      if (stats) stats.last = report;
      return y;
    },
  };
}
