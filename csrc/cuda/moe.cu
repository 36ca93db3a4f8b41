// Family moe on CUDA: router top-k (a warp per token), the stable permutation
// by expert (one block: counts, padded offsets, tile -> expert map, stable
// scatter with warp match), and the routed-expert FFN built on the grouped
// GEMM of qgemm.cu.
#include <cfloat>
#include <climits>

#include "cuda/internal.cuh"

namespace fuselm {
namespace cuda {

namespace {

constexpr int MAXE = 256, PER = MAXE / 32, MAXK = 8;

// (v, id) is better than (bv, bid): larger value, ties to the lower id
__device__ __forceinline__ bool better(float v, int id, float bv, int bid) {
  return v > bv || (v == bv && id < bid);
}
// moe_scalar::exp_poly, op for op (fmaf everywhere, IEEE division), so routing weights and DeepSeek
// selections are bit-identical to the CPU paths
__device__ __forceinline__ float exp_poly(float x) {
  if (x < -87.33654f) return 0.0f;
  if (x > 88.37626f) return INFINITY;
  const float t = fmaf(x, 1.44269504088896341f, 12582912.0f);
  const float n = t - 12582912.0f;
  float r = fmaf(n, -0.693359375f, x);
  r = fmaf(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = fmaf(p, r, 1.3981999507e-3f);
  p = fmaf(p, r, 8.3334519073e-3f);
  p = fmaf(p, r, 4.1665795894e-2f);
  p = fmaf(p, r, 1.6666665459e-1f);
  p = fmaf(p, r, 5.0000001201e-1f);
  const float r2 = __fmul_rn(r, r);
  p = fmaf(p, r2, r);
  p = __fadd_rn(p, 1.0f);
  const int32_t ni = (int32_t)n;
  return __fmul_rn(p, __uint_as_float((uint32_t)(ni + 127) << 23));
}

__device__ __forceinline__ void warp_best(float& v, int& id) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oid = __shfl_xor_sync(0xffffffffu, id, o);
    if (better(ov, oid, v, id)) { v = ov; id = oid; }
  }
}

// one warp per token; lane owns experts e = i*32 + lane
__global__ void route_kernel(int32_t* __restrict__ ids, float* __restrict__ wts, const float* __restrict__ logits,
                             int T, int E, int k, int mode, bool renorm, const float* __restrict__ bias, int n_group,
                             int topk_group, float routed_scale) {
  __shared__ float sel_sh[8][MAXE];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int t = blockIdx.x * 8 + warp;
  if (t >= T) return;
  const float* lr = logits + (int64_t)t * E;
  float val[PER], sel[PER];
  bool taken[PER];
#pragma unroll
  for (int i = 0; i < PER; i++) {
    const int e = i * 32 + lane;
    float v = e < E ? lr[e] : -INFINITY;
    if (v != v) v = -INFINITY;
    val[i] = v;
    taken[i] = e >= E;
  }
  if (mode == 0) {  // softmax over E; selection order equals logit order
    float m = -INFINITY;
#pragma unroll
    for (int i = 0; i < PER; i++) m = fmaxf(m, val[i]);
    m = warp_max(m);
    float sum = 0;
#pragma unroll
    for (int i = 0; i < PER; i++) {
      const float p = (m == -INFINITY) ? 0.0f : exp_poly(val[i] - m);
      sel[i] = val[i];
      val[i] = p;
      sum += p;
    }
    sum = warp_sum(sum);
#pragma unroll
    for (int i = 0; i < PER; i++) val[i] = sum > 0 ? val[i] / sum : 0.0f;  // renorm below divides again
  } else if (mode == 1) {
#pragma unroll
    for (int i = 0; i < PER; i++) sel[i] = val[i];
  } else {  // sigmoid + bias for selection, group-limited
#pragma unroll
    for (int i = 0; i < PER; i++) {
      const int e = i * 32 + lane;
      const float sg = __fdiv_rn(1.0f, __fadd_rn(1.0f, exp_poly(-val[i])));
      val[i] = e < E ? sg : 0.0f;
      sel[i] = e < E ? __fadd_rn(sg, bias ? bias[e] : 0.0f) : -INFINITY;
      if (e < E) sel_sh[warp][e] = sel[i];
    }
    __syncwarp();
    if (n_group > 1) {
      const int per_group = E / n_group;
      float gs = -INFINITY;
      if (lane < n_group) {  // sum of the group's top-2 selection scores
        float b1 = -INFINITY, b2 = -INFINITY;
        for (int j = 0; j < per_group; j++) {
          const float v = sel_sh[warp][lane * per_group + j];
          if (v > b1) { b2 = b1; b1 = v; } else if (v > b2) { b2 = v; }
        }
        gs = per_group >= 2 ? __fadd_rn(b1, b2) : b1;
      }
      unsigned keep = 0;
      bool gtaken = lane >= n_group;
      for (int r = 0; r < topk_group; r++) {
        float v = gtaken ? -INFINITY : gs;
        int id = gtaken ? INT_MAX : lane;
        warp_best(v, id);
        if (id == INT_MAX) break;
        keep |= 1u << id;
        if (lane == id) gtaken = true;
      }
#pragma unroll
      for (int i = 0; i < PER; i++) {
        const int e = i * 32 + lane;
        if (e < E && !((keep >> (e / per_group)) & 1)) taken[i] = true;
      }
    }
  }
  int my_id[MAXK];
  float my_w[MAXK], my_sel[MAXK];
  for (int r = 0; r < k; r++) {
    float bv = -INFINITY;
    int bid = INT_MAX;
    float bw = 0;
#pragma unroll
    for (int i = 0; i < PER; i++) {
      const int e = i * 32 + lane;
      if (!taken[i] && better(sel[i], e, bv, bid)) { bv = sel[i]; bid = e; bw = val[i]; }
    }
    float v = bv;
    int id = bid;
    warp_best(v, id);
    const int owner = (id == INT_MAX) ? 0 : (id & 31);
    const float w = __shfl_sync(0xffffffffu, bw, owner);
#pragma unroll
    for (int i = 0; i < PER; i++)
      if (i * 32 + lane == id) taken[i] = true;
    my_id[r < MAXK ? r : 0] = id == INT_MAX ? 0 : id;
    my_w[r < MAXK ? r : 0] = w;
    my_sel[r < MAXK ? r : 0] = v;
  }
  if (lane == 0) {
    float out_w[MAXK];
    if (mode == 1) {
      float m = -INFINITY, sum = 0;
      for (int r = 0; r < k; r++) m = fmaxf(m, my_sel[r]);
      for (int r = 0; r < k; r++) { out_w[r] = (m == -INFINITY) ? 0.0f : exp_poly(my_sel[r] - m); sum += out_w[r]; }
      for (int r = 0; r < k; r++) out_w[r] = sum > 0 ? out_w[r] / sum : 0.0f;
    } else {
      float sum = 0;
      for (int r = 0; r < k; r++) { out_w[r] = my_w[r]; sum += my_w[r]; }
      if (renorm)
        for (int r = 0; r < k; r++) out_w[r] = sum > 0 ? out_w[r] / sum : 0.0f;
    }
    if (routed_scale != 1.0f) {
      for (int r = 0; r < k; r++) out_w[r] *= routed_scale;
    }
    for (int r = 0; r < k; r++) {
      ids[(int64_t)t * k + r] = my_id[r];
      wts[(int64_t)t * k + r] = out_w[r];
    }
  }
}

__device__ int g_bad_ids;

// One block of 1024 threads. Dynamic shared: cnt[E], off[E+1], cursor[E], wcnt[32][E] ints.
__global__ void __launch_bounds__(1024) permute_kernel(int32_t* __restrict__ counts, int32_t* __restrict__ offsets,
                                                       int32_t* __restrict__ sorted, int32_t* __restrict__ inverse,
                                                       int32_t* __restrict__ tile_expert,
                                                       const int32_t* __restrict__ ids, int n, int E, int pad,
                                                       int p_max) {
  extern __shared__ int sh[];
  int* cnt = sh;
  int* off = cnt + E;
  int* cursor = off + E + 1;
  int* wcnt = cursor + E;  // [32][E]
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  for (int i = tid; i < E; i += blockDim.x) cnt[i] = 0;
  for (int i = tid; i < 32 * E; i += blockDim.x) wcnt[i] = 0;
  __syncthreads();
  int bad = 0;
  for (int i = tid; i < n; i += blockDim.x) {
    const int e = ids[i];
    if (e >= 0 && e < E) atomicAdd(&cnt[e], 1);
    else bad++;
  }
  if (bad) atomicAdd(&g_bad_ids, bad);
  __syncthreads();
  if (tid == 0) {
    int acc = 0;
    for (int e = 0; e < E; e++) {
      off[e] = acc;
      cursor[e] = acc;
      acc += (cnt[e] + pad - 1) / pad * pad;
    }
    off[E] = acc;
  }
  __syncthreads();
  for (int e = tid; e < E; e += blockDim.x) counts[e] = cnt[e];
  for (int e = tid; e <= E; e += blockDim.x) offsets[e] = off[e];
  for (int r = tid; r < p_max; r += blockDim.x) sorted[r] = -1;
  if (tile_expert) {
    for (int t = tid; t < p_max / pad; t += blockDim.x) {
      const int r = t * pad;
      int lo = 0, hi = E;  // last e with off[e] <= r
      while (hi - lo > 1) {
        const int mid = (lo + hi) >> 1;
        if (off[mid] <= r) lo = mid; else hi = mid;
      }
      tile_expert[t] = (r < off[E] && r < off[lo] + cnt[lo]) ? lo : -1;
    }
  }
  __syncthreads();
  const unsigned lt = (1u << lane) - 1;
  for (int base = 0; base < n; base += blockDim.x) {
    const int i = base + tid;
    int e = i < n ? ids[i] : -1;
    if (e < 0 || e >= E) e = -1;
    const unsigned peers = __match_any_sync(0xffffffffu, e);
    const int rank = __popc(peers & lt);
    const bool leader = (peers & lt) == 0;
    if (e >= 0 && leader) wcnt[warp * E + e] = __popc(peers);
    __syncthreads();
    if (e >= 0) {
      int before = 0;
      for (int w = 0; w < warp; w++) before += wcnt[w * E + e];
      const int pos = cursor[e] + before + rank;
      sorted[pos] = i;
      inverse[i] = pos;
    } else if (i < n) {
      inverse[i] = -1;
    }
    __syncthreads();
    if (e >= 0 && leader) {
      atomicAdd(&cursor[e], __popc(peers));
      wcnt[warp * E + e] = 0;
    }
    __syncthreads();
  }
}

}  // namespace

Status moe_route(int32_t* ids, float* weights, const float* logits, int64_t T, int64_t E, const MoeRouteParams& p,
                 Stream s) {
  const int64_t k = p.k;
  FL_TRY(need_device());
  FL_TRY(check_ptr(ids, "ids"));
  FL_TRY(check_ptr(weights, "weights"));
  FL_TRY(check_ptr(logits, "logits"));
  if (T < 0 || T > 0x7fffffff) return Status::range("T", "integer in [0, 2^31)", s64(T));
  if (E < 1 || E > MAXE) return Status::range("E", "integer in [1, 256]", s64(E));
  if (k < 1 || k > MAXK || k > E)
    return Status::range("k", "integer in [1, " + s64(E < MAXK ? E : MAXK) + "]", s64(k));
  const int mode = (int)p.scoring;
  if (mode < 0 || mode > 2) return Status::range("scoring", "0, 1 or 2", s64(mode));
  if (mode == 2) {
    if (p.n_group < 1 || p.n_group > 32 || E % p.n_group)
      return Status::range("n_group", "integer in [1, 32] dividing E=" + s64(E), s64(p.n_group));
    if (p.topk_group < 1 || p.topk_group > p.n_group)
      return Status::range("topk_group", "integer in [1, n_group=" + s64(p.n_group) + "]", s64(p.topk_group));
    if (k > (int64_t)p.topk_group * (E / p.n_group))
      return Status::range("k", "at most topk_group * E / n_group", s64(k));
  }
  if (T == 0) return Status::Ok();
  route_kernel<<<(unsigned)((T + 7) / 8), 256, 0, s>>>(ids, weights, logits, (int)T, (int)E, (int)k, mode,
                                                       p.norm, p.bias, p.n_group, p.topk_group, p.scale);
  FL_CUDA_LAUNCHED("moe_route");
  return Status::Ok();
}

int64_t moe_rows_bound(int64_t T, int64_t k, int64_t E, int64_t pad) {
  if (pad < 1) pad = 1;
  const int64_t r = T * k + E * (pad - 1);
  return (r + pad - 1) / pad * pad;
}

Status moe_permute(int32_t* counts, int32_t* offsets, int32_t* sorted, int32_t* inverse, int32_t* tile_expert,
                   const int32_t* ids, int64_t T, int64_t k, int64_t E, int64_t pad, bool check_ids, Stream s) {
  FL_TRY(need_device());
  FL_TRY(check_ptr(counts, "counts"));
  FL_TRY(check_ptr(offsets, "offsets"));
  FL_TRY(check_ptr(sorted, "sorted"));
  FL_TRY(check_ptr(inverse, "inverse"));
  FL_TRY(check_ptr(ids, "ids"));
  if (E < 1 || E > MAXE) return Status::range("E", "integer in [1, 256]", s64(E));
  if (k < 1 || k > 64) return Status::range("k", "integer in [1, 64]", s64(k));
  if (T < 0 || T * k > (1 << 26)) return Status::range("T", "integer with T*k <= 2^26", s64(T));
  if (pad < 1 || pad > 1024) return Status::range("pad", "integer in [1, 1024]", s64(pad));
  const int64_t pmax = moe_rows_bound(T, k, E, pad);
  if (check_ids) {
    const int zero = 0;
    FL_CUDA_TRY(cudaMemcpyToSymbolAsync(g_bad_ids, &zero, sizeof zero, 0, cudaMemcpyHostToDevice, s));
  }
  const size_t smem = sizeof(int) * (size_t)(3 * E + 1 + 32 * E);
  static bool attr_set = false;
  if (!attr_set) {
    FL_CUDA_TRY(cudaFuncSetAttribute(permute_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024));
    attr_set = true;
  }
  permute_kernel<<<1, 1024, smem, s>>>(counts, offsets, sorted, inverse, tile_expert, ids, (int)(T * k), (int)E,
                                       (int)pad, (int)pmax);
  FL_CUDA_LAUNCHED("moe_permute");
  if (check_ids) {
    int bad = 0;
    FL_CUDA_TRY(cudaMemcpyFromSymbolAsync(&bad, g_bad_ids, sizeof bad, 0, cudaMemcpyDeviceToHost, s));
    FL_CUDA_TRY(cudaStreamSynchronize(s));
    if (bad) return Status::range("ids", "expert ids in [0, " + s64(E - 1) + "]", s64(bad) + " ids out of range");
  }
  return Status::Ok();
}

namespace {
struct FfnScratch {
  int32_t *counts, *offsets, *sorted, *inverse, *tile_expert;
  float *h_gate, *h_up;
  size_t bytes;
};
static size_t up16(size_t b) { return (b + 255) & ~(size_t)255; }
FfnScratch ffn_layout(void* base, int64_t T, int64_t k, int64_t E, int64_t F) {
  const int64_t pmax = moe_rows_bound(T, k, E, kMoeTile);
  FfnScratch f{};
  char* p = (char*)base;
  size_t o = 0;
  auto take = [&](size_t b) { char* r = p ? p + o : nullptr; o += up16(b); return r; };
  f.counts = (int32_t*)take(4 * E);
  f.offsets = (int32_t*)take(4 * (E + 1));
  f.sorted = (int32_t*)take(4 * pmax);
  f.inverse = (int32_t*)take(4 * T * k);
  f.tile_expert = (int32_t*)take(4 * (pmax / kMoeTile));
  f.h_gate = (float*)take(4 * pmax * F);
  f.h_up = (float*)take(4 * pmax * F);
  f.bytes = o;
  return f;
}
}  // namespace

size_t moe_ffn_scratch_bytes(int64_t T, int64_t k, int64_t E, int64_t D, int64_t F) {
  (void)D;
  if (T < 0 || k < 1 || E < 1 || F < 1) return 0;
  return ffn_layout(nullptr, T, k, E, F).bytes;
}

Status moe_ffn(float* out, const float* x, const int32_t* ids, const float* weights, const void* w_gate,
               const void* w_up, const void* w_down, DType wtype, int64_t T, int64_t k, int64_t E, int64_t D,
               int64_t F, void* scratch, size_t scratch_bytes, bool check_ids, Stream s) {
  FL_TRY(need_device());
  FL_TRY(check_ptr(out, "out"));
  FL_TRY(check_ptr(weights, "weights"));
  FL_TRY(check_ptr(scratch, "scratch"));
  if (D < 1) return Status::range("D", "integer >= 1", s64(D));
  if (F < 1) return Status::range("F", "integer >= 1", s64(F));
  if (T < 0) return Status::range("T", "integer >= 0", s64(T));
  const size_t need = moe_ffn_scratch_bytes(T, k, E, D, F);
  if (scratch_bytes < need) return Status::range("scratch_bytes", "at least " + s64((int64_t)need), s64((int64_t)scratch_bytes));
  if (T == 0) return Status::Ok();
  FfnScratch f = ffn_layout(scratch, T, k, E, F);
  const int64_t pmax = moe_rows_bound(T, k, E, kMoeTile), tiles = pmax / kMoeTile;
  FL_TRY(moe_permute(f.counts, f.offsets, f.sorted, f.inverse, f.tile_expert, ids, T, k, E, kMoeTile, check_ids, s));
  FL_TRY(moe_grouped_matmul_ex(f.h_gate, x, nullptr, w_gate, wtype, E, F, D, f.sorted, f.tile_expert, tiles, k, nullptr, s));
  FL_TRY(moe_grouped_matmul_ex(f.h_up, x, nullptr, w_up, wtype, E, F, D, f.sorted, f.tile_expert, tiles, k, nullptr, s));
  FL_CUDA_TRY(cudaMemsetAsync(out, 0, sizeof(float) * (size_t)(T * D), s));
  FL_TRY(moe_grouped_matmul_ex(out, f.h_gate, f.h_up, w_down, wtype, E, D, F, f.sorted, f.tile_expert, tiles, k,
                               weights, s));
  return Status::Ok();
}

}  // namespace cuda
}  // namespace fuselm
