// Sampling from logits, seeded and reproducible, in llama.cpp's order:
// repeat penalty -> top-k -> top-p -> min-p -> temperature -> draw.
// temperature 0 (or topK 1) is greedy argmax.

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
}

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

  constructor(o: SamplerOptions = {}) {
    this.temperature = checkNum(o.temperature, 'temperature', 0, 100, 0.8);
    this.topK = checkNum(o.topK, 'topK', 0, 1e9, 40, true);
    this.topP = checkNum(o.topP, 'topP', 0, 1, 0.95);
    this.minP = checkNum(o.minP, 'minP', 0, 1, 0.05);
    this.repeatPenalty = checkNum(o.repeatPenalty, 'repeatPenalty', 0.01, 100, 1.1);
    this.repeatLastN = checkNum(o.repeatLastN, 'repeatLastN', 0, 1e9, 64, true);
    this.state = checkNum(o.seed, 'seed', 0, 2 ** 32 - 1, 0, true) >>> 0;
  }

  /** mulberry32 */
  private random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Picks the next token from `logits` given the tokens so far. */
  sample(logits: Float32Array, history: readonly number[]): number {
    const n = logits.length;
    const l = Float64Array.from(logits);
    if (this.repeatPenalty !== 1 && this.repeatLastN > 0) {
      const seen = new Set(history.slice(-this.repeatLastN));
      for (const t of seen) if (t >= 0 && t < n) l[t] = l[t] > 0 ? l[t] / this.repeatPenalty : l[t] * this.repeatPenalty;
    }
    if (this.temperature === 0 || this.topK === 1) return argmax(l);
    let idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => l[b] - l[a] || a - b);
    if (this.topK > 0 && this.topK < n) idx = idx.slice(0, this.topK);
    // softmax over the survivors (before temperature, as llama.cpp's top-p/min-p see them)
    const probs = (ids: number[], temp: number) => {
      const m = l[ids[0]];
      const e = ids.map((i) => Math.exp((l[i] - m) / temp));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / s);
    };
    if (this.topP < 1) {
      const p = probs(idx, 1);
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

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
