// The sampler's survivor search (top-k by a heap, top-p / min-p candidates within e^-30 of
// the top) against the plain definition: every id sorted, then top-k, top-p, min-p,
// temperature, one seeded draw. Same options and seed, so the two must pick the same tokens.
import { Sampler, mulberry32 } from '../../lib/generate/sampler';
import { gaussian } from '../helpers';

/** llama.cpp's chain written the obvious way (the sampler before its survivor search). */
class SortingSampler {
  private state: number;
  constructor(private o: { temperature: number; topK: number; topP: number; minP: number; seed: number }) { this.state = o.seed >>> 0; }
  // the sampler's own generator: the survivors are under test, not the draws' source
  private random(): number {
    const [state, r] = mulberry32(this.state);
    this.state = state;
    return r;
  }
  sample(logits: Float32Array): number {
    const l = Float64Array.from(logits), n = l.length;
    let idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => l[b] - l[a] || a - b);
    if (this.o.topK > 0 && this.o.topK < n) idx = idx.slice(0, this.o.topK);
    const probs = (ids: number[], temp: number) => {
      const e = ids.map((i) => Math.exp((l[i] - l[ids[0]]) / temp));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / s);
    };
    if (this.o.topP < 1) {
      const p = probs(idx, 1);
      let acc = 0, keep = idx.length;
      for (let i = 0; i < p.length; i++) { acc += p[i]; if (acc >= this.o.topP) { keep = i + 1; break; } }
      idx = idx.slice(0, Math.max(1, keep));
    }
    if (this.o.minP > 0) {
      const p = probs(idx, 1);
      idx = idx.filter((_, i) => p[i] >= p[0] * this.o.minP);
    }
    const p = probs(idx, this.o.temperature);
    let r = this.random();
    for (let i = 0; i < p.length; i++) { r -= p[i]; if (r <= 0) return idx[i]; }
    return idx[idx.length - 1];
  }
}

describe('Sampler survivors', () => {
  const cases = [
    { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 },  // the defaults
    { temperature: 1.5, topK: 0, topP: 0.9, minP: 0 },       // top-p alone: the e^-30 candidates
    { temperature: 1, topK: 0, topP: 1, minP: 0.01 },        // min-p alone
    { temperature: 2, topK: 0, topP: 0.999999, minP: 0 },    // a p that may need the whole tail
    { temperature: 1, topK: 0, topP: 1, minP: 0 },           // no filter: every id
    { temperature: 1, topK: 7, topP: 1, minP: 0 },
    { temperature: 3, topK: 1000, topP: 0.5, minP: 0.001 },
  ];
  const vocabs: [string, Float32Array][] = [];
  const g = gaussian(3);
  vocabs.push(['gaussian 8000 x3', Float32Array.from({ length: 8000 }, () => g() * 3)]);
  vocabs.push(['flat 5000 (tiny spread: every id a candidate)', Float32Array.from({ length: 5000 }, () => g() * 0.01)]);
  vocabs.push(['ties: 3000 of 6 values', Float32Array.from({ length: 3000 }, (_, i) => (i * 7) % 6)]);
  vocabs.push(['one spike above a 40-unit cliff', Float32Array.from({ length: 2000 }, (_, i) => (i === 1234 ? 50 : g()))]);
  vocabs.push(['fewer ids than k', Float32Array.from({ length: 5 }, () => g())]);
  test.each(vocabs)('%s: the same draws as sorting every id', (_, logits) => {
    for (const c of cases) {
      const a = new Sampler({ ...c, repeatPenalty: 1, seed: 9 });
      const b = new SortingSampler({ ...c, seed: 9 });
      const got = Array.from({ length: 20 }, () => a.sample(logits, []));
      const want = Array.from({ length: 20 }, () => b.sample(logits));
      expect({ c, got }).toEqual({ c, got: want });
    }
  });

  test('a 152k vocabulary with the default options: every draw among the 40 best', () => {
    const logits = Float32Array.from({ length: 151936 }, () => g() * 3);
    const s = new Sampler({ seed: 1 });
    s.sample(logits, [1, 2, 3]);
    // functional: the defaults keep at most 40 ids, and the draw is among the 40 best
    const best40 = new Set(Array.from(logits.keys()).sort((x, y) => logits[y] - logits[x]).slice(0, 40));
    for (let i = 0; i < 20; i++) expect(best40.has(s.sample(logits, []))).toBe(true);
  });
});
