// Sampling from logits, seeded and reproducible, in llama.cpp's order:
// repeat penalty -> top-k -> top-p -> min-p -> temperature -> draw.
// temperature 0 (or topK 1) is greedy argmax.
import { checkOptionKeys } from '../check';
// With a grammar (or an allowed-token mask given to sample()), disallowed logits are set to
// -inf first (the native mask kernel), so every step draws among allowed ids only.
import { Tokenizer } from '../tokenizer';
import { Grammar } from '../grammar/grammar';
import { GrammarConstraint, GrammarInput, resolveGrammar } from '../grammar/constraint';
import { maskLogits } from '../ops/mask';

export interface SamplerOptions {
  /** 0: greedy; default 0.8 */
  temperature?: number;
  /** keep the k most likely tokens (0: all); default 40 */
  topK?: number;
  /** keep the smallest set whose probability reaches p (1: all); default 0.95 */
  topP?: number;
  /** drop tokens below minP x the top probability (0: off); default 0.05 */
  minP?: number;
  /** divide positive / multiply negative logits of recent tokens (1: off); default 1.1 */
  repeatPenalty?: number;
  /** how many recent tokens the penalty looks at; default 64 */
  repeatLastN?: number;
  /** seed of the draw; default: a fixed seed (0), so runs repeat */
  seed?: number;
  /**
   * a GBNF grammar (text or compiled Grammar) every sampled token must keep the output in;
   * the Sampler then needs the tokenizer (its second argument)
   */
  grammar?: GrammarInput;
}

/** Every key SamplerOptions has (an options object with another key is a TypeError). */
export const SAMPLER_OPTIONS: readonly (keyof SamplerOptions)[] = ['temperature', 'topK', 'topP', 'minP', 'repeatPenalty', 'repeatLastN', 'seed', 'grammar'];

function checkNum(v: unknown, name: string, lo: number, hi: number, dflt: number, int = false): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (int && !Number.isInteger(v))) {
    const what = int ? `integer in [${lo}, ${hi}]` : `a number in [${lo}, ${hi}]`;
    throw new RangeError(`generate: Expected ${what} for opts.${name} but received ${String(v)}`);
  }
  return v;
}

export class Sampler {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repeatPenalty: number;
  readonly repeatLastN: number;
  private state: number;
  /** the grammar and its matcher, when sampling is constrained */
  readonly constraint: GrammarConstraint | undefined;

  constructor(o: SamplerOptions = {}, tokenizer?: Tokenizer) {
    checkOptionKeys(o, SAMPLER_OPTIONS, 'opts', 'Sampler');
    this.temperature = checkNum(o.temperature, 'temperature', 0, 100, 0.8);
    this.topK = checkNum(o.topK, 'topK', 0, 1e9, 40, true);
    this.topP = checkNum(o.topP, 'topP', 0, 1, 0.95);
    this.minP = checkNum(o.minP, 'minP', 0, 1, 0.05);
    this.repeatPenalty = checkNum(o.repeatPenalty, 'repeatPenalty', 0.01, 100, 1.1);
    this.repeatLastN = checkNum(o.repeatLastN, 'repeatLastN', 0, 1e9, 64, true);
    this.state = checkNum(o.seed, 'seed', 0, 2 ** 32 - 1, 0, true) >>> 0;
    const g: Grammar | undefined = resolveGrammar({ grammar: o.grammar }, tokenizer, 'Sampler');
    this.constraint = g ? new GrammarConstraint(g, tokenizer as Tokenizer) : undefined;
  }

  /** true when the grammar is complete: nothing more can be sampled but an end of generation */
  get grammarComplete(): boolean { return this.constraint?.complete ?? false; }

  private random(): number {
    const [state, r] = mulberry32(this.state);
    this.state = state;
    return r;
  }

  /**
   * Picks the next token from `logits` given the tokens so far. `allowed` (bit i of word
   * i >> 5 for token i) restricts the draw to those ids; with a grammar the sampler makes
   * that mask itself (and with both, draws from ids both allow) and advances the grammar over
   * the token it picks.
   */
  sample(logits: Float32Array, history: readonly number[], allowed?: Uint32Array): number {
    const g = this.constraint?.allowed();
    const mask = allowed && g ? allowed.map((w, i) => w & g[i]) : allowed ?? g;
    const id = this.draw(mask ? maskLogits(logits, mask) : logits, history, mask !== undefined);
    this.constraint?.accept(id);
    return id;
  }

  private draw(logits: Float32Array, history: readonly number[], masked: boolean): number {
    const n = logits.length;
    const l = Float64Array.from(logits);
    if (this.repeatPenalty !== 1 && this.repeatLastN > 0) {
      const seen = new Set(history.slice(-this.repeatLastN));
      for (const t of seen) if (t >= 0 && t < n) l[t] = l[t] > 0 ? l[t] / this.repeatPenalty : l[t] * this.repeatPenalty;
    }
    if (this.temperature === 0 || this.topK === 1) return argmax(l);
    // the survivors of top-k in order (logit descending, then id ascending), found without
    // sorting the vocabulary (a comparator sort of a whole vocabulary every token is slow)
    const topK = this.topK > 0 && this.topK < n;
    let idx = topK ? topKIds(l, this.topK) : candidates(l, this.topP, this.minP);
    // a mask leaves -inf logits, which top-k (when fewer are allowed) or the all-ids fallback keep
    if (masked) idx = idx.filter((i) => l[i] !== -Infinity);
    if (idx.length === 0) throw new Error('Sampler: every allowed token has logit -Infinity');
    // softmax over the survivors (before temperature, as llama.cpp's top-p/min-p see them);
    // without top-k the survivors are all n tokens, whose sum `zAll` is taken over all of them
    const zAll = topK ? 0 : sumExp(l, l[idx[0]]);
    const probs = (ids: number[], temp: number, z = 0) => {
      const m = l[ids[0]];
      const e = ids.map((i) => Math.exp((l[i] - m) / temp));
      const s = z || e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / s);
    };
    if (this.topP < 1) {
      const p = probs(idx, 1, zAll);
      let acc = 0, keep = idx.length;
      for (let i = 0; i < p.length; i++) { acc += p[i]; if (acc >= this.topP) { keep = i + 1; break; } }
      idx = idx.slice(0, Math.max(1, keep));
    }
    if (this.minP > 0) {
      const p = probs(idx, 1);
      const cut = p[0] * this.minP;
      idx = idx.filter((_, i) => p[i] >= cut);
    }
    const p = probs(idx, this.temperature);
    let r = this.random();
    for (let i = 0; i < p.length; i++) { r -= p[i]; if (r <= 0) return idx[i]; }
    return idx[idx.length - 1];
  }
}

const byRank = (l: Float64Array) => (a: number, b: number) => l[b] - l[a] || a - b;

/** The k best ids (logit descending, id ascending on ties): one pass with a heap of k. */
function topKIds(l: Float64Array, k: number): number[] {
  // a min-heap whose root is the worst kept id: lower logit, or the same logit and a higher id
  const h: number[] = [];
  const worse = (a: number, b: number) => l[a] < l[b] || (l[a] === l[b] && a > b);
  const down = (i: number) => {
    for (;;) {
      const c = 2 * i + 1;
      if (c >= h.length) return;
      const w = c + 1 < h.length && worse(h[c + 1], h[c]) ? c + 1 : c;
      if (!worse(h[w], h[i])) return;
      [h[i], h[w]] = [h[w], h[i]];
      i = w;
    }
  };
  for (let i = 0; i < l.length; i++) {
    if (h.length < k) {
      h.push(i);
      for (let j = h.length - 1; j > 0;) {
        const p = (j - 1) >> 1;
        if (!worse(h[j], h[p])) break;
        [h[j], h[p]] = [h[p], h[j]];
        j = p;
      }
    } else if (worse(h[0], i)) {
      h[0] = i;
      down(0);
    }
  }
  return h.sort(byRank(l));
}

function sumExp(l: Float64Array, m: number): number {
  let z = 0;
  for (let i = 0; i < l.length; i++) z += Math.exp(l[i] - m);
  return z;
}

// Gaps (in logits) below the top tried for the candidates, smallest first: e^-30 is far
// below any min-p or top-p tail that matters
const GAPS = [4, 8, 16, 30];

/**
 * Without top-k: the ids top-p and min-p can keep, in order: those within the smallest gap of
 * the top logit that provably holds every survivor (survivors are a prefix of the order, so
 * the ids above a threshold hold them all when their probability mass reaches top-p, or when
 * min-p's cut lies above it); otherwise every id.
 */
function candidates(l: Float64Array, topP: number, minP: number): number[] {
  let m = -Infinity;
  for (let i = 0; i < l.length; i++) if (l[i] > m) m = l[i];
  // probability mass within each gap of the top (cumulative), and in all
  const mass = new Float64Array(GAPS.length);
  let z = 0;
  for (let i = 0; i < l.length; i++) {
    const d = m - l[i], e = Math.exp(-d);
    z += e;
    for (let g = 0; g < GAPS.length; g++) if (d < GAPS[g]) { mass[g] += e; break; }
  }
  // min-p keeps p_i >= minP p_top, i.e. l_i >= m + ln(minP) (with a margin for rounding)
  const minGap = minP > 0 ? 1e-6 - Math.log(minP) : Infinity;
  let gap = -1, acc = 0;
  for (let g = 0; g < GAPS.length && gap < 0; g++) {
    acc += mass[g];
    if (minGap < GAPS[g] || (topP < 1 && acc >= topP * z)) gap = GAPS[g];
  }
  if (gap < 0) return Array.from({ length: l.length }, (_, i) => i).sort(byRank(l));
  const ids: number[] = [];
  for (let i = 0; i < l.length; i++) if (m - l[i] < gap) ids.push(i);
  return ids.sort(byRank(l));
}

/** One step of mulberry32, the sampler's seeded generator: the next state and a draw in [0, 1). */
export function mulberry32(state: number): [number, number] {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [next, ((t ^ (t >>> 14)) >>> 0) / 4294967296];
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
