// Family `moe`: Mixture-of-Experts routing, permutation, expert FFN and load statistics.
// Plan, then run: moeRoute -> (moePermute) -> moeFfn. The exact semantics of every
// mode are written once in csrc/include/fuselm/ops/moe.h.
import { native } from '../native';
import { checkInt, checkNumber, checkOptions, fail } from '../check';
import { Tensor } from '../tensor';
import { checkDType } from './common';

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
  const fn = 'moeRoute';
  checkDType(logits, 'logits', ['f32'], fn);
  if (logits.ndim !== 2) fail('range', 'logits.shape', '[T, E]', logits.shape, fn);
  const [T, E] = logits.shape;
  if (E < 1 || E > 256) fail('range', 'logits.shape[1]', 'an expert count E in [1, 256]', E, fn);
  const o = checkOptions(opts, 'opts', fn);
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
  native.moeRoute(ids.bytes(), weights.bytes(), logits.bytes(), T, E, SCORINGS.indexOf(scoring as MoeScoring), k, norm,
    nGroup, topkGroup, scale, bias ? bias.bytes() : null);
  return out ?? { ids, weights };
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
  const o = checkOptions(opts, 'opts', fn);
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
  reset(): void { this.data.fill(0); }
}

