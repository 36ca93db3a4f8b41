// Bench entries for family `moe`: a Mixtral-like layer scaled to fit the machine
// (D = 2048, expert FF = 5632, E = 8, k = 2, Q4_0 experts).
//  - decode (T = 1): DRAM-bound; bytes are those of the experts actually routed to
//    (2 of 8, gate + up + down), and successive runs route to different experts so
//    the weights never sit in cache between runs (8 experts = 156 MB). Its baseline
//    runs the same rows as plain matmul GEMVs over 4 weight sets cycled the same way,
//    so the ratio is what MoE adds on top of the GEMV. Both again with the experts
//    repacked for the GEMV (q4_0x16: the same bytes, as a model may repack at load).
//  - prefill (T = 512): compute-bound; compare its time with the entry that runs
//    the same FLOPs as one dense GEMM pair (gate|up of k experts side by side, then
//    down) over the same tokens: the target is within 1.5x.
import { moeFfn, moeRoute, MoeExperts, MoeRouteOptions, MoeRouting } from '../ops/moe';
import { matmul, quantize, repack } from '../ops/qgemm';
import { DTYPES } from '../dtype';
import { Tensor } from '../tensor';
import { BenchEntry, fillRandom } from './entry';

const D = 2048, FF = 5632, E = 8, K = 2;

function q4(rows: number, cols: number, seed: number): Tensor {
  return quantize(Tensor.from(fillRandom(new Float32Array(rows * cols), seed, 0.05), [rows, cols]), 'q4_0');
}

/** [E, N, Kd] q4_0, quantized one expert at a time into one buffer */
function stacked(N: number, Kd: number, seed: number): Tensor {
  const per = (N * Kd / 32) * DTYPES.q4_0.blockBytes;
  const bytes = new Uint8Array(E * per);
  for (let e = 0; e < E; e++) bytes.set(q4(N, Kd, seed + e).bytes(), e * per);
  return Tensor.fromBytes(bytes, 'q4_0', [E, N, Kd]);
}

const expertBytes = 3 * FF * (D / 32) * DTYPES.q4_0.blockBytes; // gate + up + down of one expert

type Layout = 'q4_0' | 'q4_0x16';

// the 8 experts, built once for the entries that use them and dropped when all are done
let layer: MoeExperts | undefined;
let layerUsers = 0;
function acquireLayer(): MoeExperts {
  layerUsers++;
  layer ??= { gate: stacked(FF, D, 10), up: stacked(FF, D, 20), down: stacked(D, FF, 30) };
  return layer;
}
function releaseLayer(): void {
  if (--layerUsers <= 0) { layerUsers = 0; layer = undefined; }
}
function layerIn(fmt: Layout): MoeExperts {
  const l = acquireLayer();
  if (fmt === 'q4_0') return l;
  return { gate: repack(l.gate as Tensor), up: repack(l.up as Tensor), down: repack(l.down as Tensor) };
}

const decodeName = (fmt: Layout): string => `moeFfn decode(${fmt},T=1,D=${D},FF=${FF},E=${E},k=${K}; bytes of routed experts)`;
const gemvName = (fmt: Layout): string => `matmul GEMV over the same bytes as moeFfn decode(${fmt},1x${D}x${2 * K * FF} + 1x${FF}x${K * D})`;
const PREFILL_NAME = `moeFfn prefill(q4_0,T=512,D=${D},FF=${FF},E=${E},k=${K})`;
const DENSE_NAME = `matmul dense equivalent of moeFfn prefill(q4_0,512x${D}x${2 * K * FF} + 512x${K * FF}x${D})`;

function decodeEntry(fmt: Layout): BenchEntry {
  let ex: MoeExperts | undefined, x: Tensor | undefined, out: Tensor | undefined;
  let routes: MoeRouting[] = [];
  let i = 0;
  return {
    name: decodeName(fmt),
    bytes: K * expertBytes + 2 * D * 4,
    flops: 2 * K * 3 * FF * D,
    bound: 'dram',
    baseline: gemvName(fmt),
    setup() {
      ex = layerIn(fmt);
      x = Tensor.from(fillRandom(new Float32Array(D), 1), [1, D]);
      out = Tensor.zeros([1, D]);
      // four routings over disjoint expert pairs, cycled: each run reads experts the previous 3 runs did not
      routes = [[0, 1], [2, 3], [4, 5], [6, 7]].map((p) => ({ ids: Tensor.from(new Int32Array(p), [1, K]), weights: Tensor.from(new Float32Array([0.6, 0.4]), [1, K]) }));
    },
    run() {
      moeFfn(x!, routes[i++ % routes.length], ex!, {}, out);
    },
    teardown() {
      ex = x = out = undefined;
      routes = [];
      releaseLayer();
    },
  };
}

/** decode's baseline: the same rows as plain GEMVs (gate|up of k experts as one matrix, then k downs as one) */
function gemvEntry(fmt: Layout): BenchEntry {
  let w1: Tensor[] = [], w2: Tensor[] = [], x: Tensor | undefined, h: Tensor | undefined, y: Tensor | undefined;
  let i = 0;
  return {
    name: gemvName(fmt),
    bytes: K * expertBytes + 2 * D * 4,
    flops: 2 * K * 3 * FF * D,
    bound: 'dram',
    setup() {
      const as = (w: Tensor): Tensor => (fmt === 'q4_0' ? w : repack(w));
      w1 = [0, 1, 2, 3].map((s) => as(q4(2 * K * FF, D, 40 + s)));
      w2 = [0, 1, 2, 3].map((s) => as(q4(K * D, FF, 50 + s)));
      x = Tensor.from(fillRandom(new Float32Array(D), 1), [1, D]);
      h = Tensor.zeros([1, 2 * K * FF]);
      y = Tensor.zeros([1, K * D]);
    },
    run() {
      const s = i++ % 4;
      matmul(x!, w1[s], {}, h);
      // h's first FF values stand in for one expert's SwiGLU output
      matmul(h!.reshape([2 * K, FF]).slice(0, 1), w2[s], {}, y);
    },
    teardown() {
      w1 = w2 = [];
      x = h = y = undefined;
    },
  };
}

const T = 512;
const prefillFlops = 2 * T * K * 3 * FF * D;

function prefillEntry(): BenchEntry {
  let ex: MoeExperts | undefined, x: Tensor | undefined, out: Tensor | undefined, r: MoeRouting | undefined;
  return {
    name: PREFILL_NAME,
    bytes: E * expertBytes + 2 * T * D * 4,
    flops: prefillFlops,
    bound: 'int8',
    baseline: DENSE_NAME,
    setup() {
      ex = acquireLayer();
      x = Tensor.from(fillRandom(new Float32Array(T * D), 2), [T, D]);
      out = Tensor.zeros([T, D]);
      r = moeRoute(Tensor.from(fillRandom(new Float32Array(T * E), 3, 2), [T, E]), { k: K, scoring: 'topk_softmax' });
    },
    run() {
      moeFfn(x!, r!, ex!, {}, out);
    },
    teardown() {
      ex = x = out = r = undefined;
      releaseLayer();
    },
  };
}

function denseEntry(): BenchEntry {
  let w1: Tensor | undefined, w2: Tensor | undefined, x: Tensor | undefined, h: Tensor | undefined, y: Tensor | undefined;
  return {
    name: DENSE_NAME,
    bytes: K * expertBytes + 2 * T * D * 4,
    flops: prefillFlops,
    bound: 'int8',
    setup() {
      w1 = q4(2 * K * FF, D, 40);
      w2 = q4(D, K * FF, 41);
      x = Tensor.from(fillRandom(new Float32Array(T * D), 2), [T, D]);
      h = Tensor.zeros([T, 2 * K * FF]);
      y = Tensor.zeros([T, D]);
    },
    run() {
      matmul(x!, w1!, {}, h);
      // the first K*FF columns stand in for the SwiGLU output (same shape as the MoE's h)
      matmul(h!.reshape([T * 2, K * FF]).slice(0, T), w2!, {}, y);
    },
    teardown() {
      w1 = w2 = x = h = y = undefined;
    },
  };
}

/** the router over a prefill-sized batch: one pass over the logits, k ids and weights out per token
 *  (softmax_topk as Qwen3-MoE; sigmoid_group as DeepSeek-V3: 8 groups, 4 kept, bias, scale 2.5) */
function routeEntry(T: number, En: number, k: number, scoring: 'softmax_topk' | 'sigmoid_group' = 'softmax_topk'): BenchEntry {
  let logits: Tensor | undefined;
  let out: MoeRouting | undefined;
  let opts: MoeRouteOptions = { k };
  return {
    name: `moeRoute(${scoring},T=${T},E=${En},k=${k})`,
    bytes: T * En * 4 + T * k * 8, // read logits, write ids and weights
    flops: 4 * T * En, // exp, sum, compare, scale per logit
    bound: 'dram',
    setup() {
      logits = Tensor.from(fillRandom(new Float32Array(T * En), 11, 3), [T, En]);
      opts = scoring === 'softmax_topk'
        ? { k, scoring, normTopkProb: true }
        : { k, scoring, normTopkProb: true, nGroup: 8, topkGroup: 4, routedScalingFactor: 2.5, bias: Tensor.from(fillRandom(new Float32Array(En), 12, 0.1)) };
      out = moeRoute(logits, opts);
    },
    run() {
      moeRoute(logits!, opts, out);
    },
    teardown() {
      logits = out = undefined;
    },
  };
}

export const entries: BenchEntry[] = [
  decodeEntry('q4_0'), gemvEntry('q4_0'), decodeEntry('q4_0x16'), gemvEntry('q4_0x16'),
  prefillEntry(), denseEntry(), routeEntry(8192, 128, 8), routeEntry(8192, 256, 8, 'sigmoid_group'),
];
