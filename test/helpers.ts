// Shared test helpers: seeded random data, the ISA loop, error measures.
import { availableIsas, setIsa, Isa, cpu } from '../lib';

/** Runs `fn` once per ISA level this CPU has, with that level forced; restores the level after. */
export function forEachIsa(fn: (isa: Isa) => void): void {
  const before = cpu().isa;
  try {
    for (const isa of isasUnderTest()) {
      setIsa(isa);
      fn(isa);
    }
  } finally {
    setIsa(before);
  }
}

/** forEachIsa for async checks: each level's run settles before the next level is forced. */
export async function forEachIsaAsync(fn: (isa: Isa) => Promise<void>): Promise<void> {
  const before = cpu().isa;
  try {
    for (const isa of isasUnderTest()) {
      setIsa(isa);
      await fn(isa);
    }
  } finally {
    setIsa(before);
  }
}

/** FUSELM_ISA narrows the levels under test to one (e.g. FUSELM_ISA=ref npm test). */
export function isasUnderTest(): Isa[] {
  const env = process.env.FUSELM_ISA as Isa | undefined;
  return env ? [env] : availableIsas();
}

/** mulberry32: a small seeded generator, so every case is reproducible */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** standard normal via Box-Muller */
export function gaussian(seed: number): () => number {
  const u = rng(seed);
  return () => Math.sqrt(-2 * Math.log(u() + 1e-300)) * Math.cos(2 * Math.PI * u());
}

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const g = gaussian(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = g() * scale;
  return a;
}

/** max |a - b| / max(max |b|, tiny): one number per case */
export function relMaxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let num = 0, den = 1e-30;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

/** max over i of |a - b| / (|b| + floor) */
export function maxElemRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + floor));
  return m;
}
