// Bench entries for family `attention` (head dim 128, 32 query heads, 8 KV heads, f16 cache):
//   decode (one query) at 4K, 16K and 64K context: dense, judged as GB/s over the KV bytes
//   read against DRAM read bandwidth; dynamic top-k at a 2K-token budget, whose bytes are
//   what it actually read (KV of the selected blocks + block summaries), so its speedup over
//   dense is the ratio of the two ms columns;
//   prefill (causal, every query of the context, 8K tokens; 2K under --quick) judged as GFLOP/s
//   against the FMA peak.
import { attention, KVCache } from '../ops/attention';
import { Tensor } from '../tensor';
import { BenchEntry, fillRandom } from './entry';

const N_HEAD = 32, N_KV = 8, D = 128;

// caches are shared by the entries of one context length and built once
const caches = new Map<number, { cache: KVCache; users: number }>();
function acquire(T: number): KVCache {
  let c = caches.get(T);
  if (!c) {
    const cache = new KVCache({ nKvHead: N_KV, headDim: D, dtype: 'f16' });
    const chunk = 2048;
    const k = new Float32Array(chunk * N_KV * D), v = new Float32Array(chunk * N_KV * D);
    for (let t = 0; t < T; t += chunk) {
      const n = Math.min(chunk, T - t);
      fillRandom(k, 11 + t, 1);
      fillRandom(v, 13 + t, 1);
      cache.append(Tensor.from(k.subarray(0, n * N_KV * D), [n, N_KV, D]), Tensor.from(v.subarray(0, n * N_KV * D), [n, N_KV, D]));
    }
    c = { cache, users: 0 };
    caches.set(T, c);
  }
  c.users++;
  return c.cache;
}
function release(T: number): void {
  const c = caches.get(T);
  if (c && --c.users === 0) {
    c.cache.dispose();
    caches.delete(T);
  }
}

const kvBytes = (T: number): number => T * N_KV * D * 2 * 2; // K and V, f16

function decodeEntry(T: number, budget?: number): BenchEntry {
  let cache: KVCache | undefined, q: Tensor | undefined, out: Tensor | undefined;
  const opts = budget === undefined ? {} : { tokenBudget: budget };
  const e: BenchEntry = {
    name: `attention_decode(f16,ctx=${T / 1024}K,h=${N_HEAD}/${N_KV}x${D},${budget === undefined ? 'dense' : `topk budget=${budget}`})`,
    bytes: kvBytes(T),
    flops: 4 * N_HEAD * D * T,
    bound: 'dram',
    setup() {
      cache = acquire(T);
      q = Tensor.from(fillRandom(new Float32Array(N_HEAD * D), 17, 1), [1, N_HEAD, D]);
      out = Tensor.zeros([1, N_HEAD, D]);
      if (budget !== undefined) {
        const stats = { bytes: 0, tokens: 0 };
        attention(q, cache, { ...opts, stats }, out);
        e.bytes = stats.bytes;
        e.flops = 4 * N_HEAD * D * (stats.tokens / N_KV);
      }
    },
    run() {
      attention(q!, cache!, opts, out);
    },
    teardown() {
      release(T);
      cache = q = out = undefined;
    },
  };
  return e;
}

function prefillEntry(T: number, runs?: 'quick' | 'full'): BenchEntry {
  let cache: KVCache | undefined, q: Tensor | undefined, out: Tensor | undefined;
  return {
    runs,
    name: `attention_prefill(f16,T=${T / 1024}K,h=${N_HEAD}/${N_KV}x${D},causal)`,
    bytes: kvBytes(T) + 2 * T * N_HEAD * D * 4,
    flops: 4 * N_HEAD * D * ((T * (T + 1)) / 2), // QK^T and PV over the causal half
    bound: 'fma',
    setup() {
      cache = acquire(T);
      q = Tensor.from(fillRandom(new Float32Array(T * N_HEAD * D), 19, 1), [T, N_HEAD, D]);
      out = Tensor.zeros([T, N_HEAD, D]);
    },
    run() {
      attention(q!, cache!, {}, out);
    },
    teardown() {
      release(T);
      cache = q = out = undefined;
    },
  };
}

/**
 * The context shift (KVCache.shift): half of a T-token cache dropped after the first token, the later
 * half moved down and its keys rotated back. Each run shifts a fork (copy-on-write), so the moved pages
 * are copied as a shift of a shared cache copies them; bytes: the moved K and V read and written.
 */
function shiftEntry(T: number): BenchEntry {
  let cache: KVCache | undefined;
  const discard = T / 2, moved = T - 1 - discard;
  return {
    name: `kv_shift(f16,ctx=${T / 1024}K,h=${N_KV}x${D},discard=${discard})`,
    bytes: 2 * moved * N_KV * D * 2 * 2,
    flops: moved * N_KV * D * 3, // the rotation: a multiply-add pair per channel, and the angle
    bound: 'dram',
    setup() { cache = acquire(T); },
    run() {
      const f = cache!.fork();
      f.shift(1, discard, { base: 10000 });
      f.dispose();
    },
    teardown() { release(T); cache = undefined; },
  };
}

export const entries: BenchEntry[] = [
  decodeEntry(4096), decodeEntry(16384), decodeEntry(65536),
  decodeEntry(4096, 2048), decodeEntry(16384, 2048), decodeEntry(65536, 2048),
  // the issue's shape, 8K tokens (~3 s a call here), and a 2K stand-in for `bench --quick`
  prefillEntry(8192, 'full'), prefillEntry(2048, 'quick'),
  shiftEntry(16384),
];
