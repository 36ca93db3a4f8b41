// Family attention on CUDA, f16 KV cache [n_kv_heads, capacity, head_dim].
//  - decode: grid (q head, split); a block walks its split's key blocks (all,
//    or the kv head's block list), 8 lanes per key with 128-bit loads of K and
//    V, online softmax per 8-lane group, merged in shared memory, then across
//    splits by a second kernel. Q heads of one KV head are adjacent in the grid
//    so their blocks run together and share K/V through L2.
//  - prefill: grid (query tile of 16, head); K/V tiles of 32 keys in shared
//    memory as f32, a lane per key for scores and a lane per dim for outputs,
//    causal + window/sinks + block mask.
//  - kv_append (f32 -> f16 + block min/max summaries) and Quest-style block
//    selection for the dynamic top-k form.
#include <cfloat>

#include "cuda/common.cuh"

namespace fuselm {
namespace cuda {

namespace {

struct DecodeArgs {
  float* out;     // [n_heads, D] (n_splits == 1) or null
  float* ws;      // [n_heads, n_splits, D + 2] partials
  const float* q;
  const __half* k;
  const __half* v;
  int n_heads, group, cap, len, n_splits, bps;  // blocks per split
  float scale, softcap;
  int window, sinks;  // ws: the window/sinks keys (j < sinks or j >= len - window), when ws_on
  const int32_t* blocks;
  int n_blocks, blocks_stride, bsz;
  int ws_on;          // window or sinks given
  int n_list;         // phase 1: listed blocks (all blocks when blocks is null and !ws_on), keys not in ws
  int sb_end, wb_begin, wb_end;  // phase 2 (ws_on): blocks [0, sb_end) and [wb_begin, wb_end), keys in ws
};

__device__ __forceinline__ bool in_ws(int j, int len, int window, int sinks) {
  return j < sinks || (window > 0 && j >= len - window);
}

template <int D>
__global__ void __launch_bounds__(128) decode_kernel(DecodeArgs a) {
  constexpr int NCH = D / 8;             // 16-byte chunks per row
  constexpr int NC = (NCH + 7) / 8;      // chunk slots per lane
  __shared__ float sm_o[16][D];
  __shared__ float sm_m[16], sm_l[16];
  const int h = blockIdx.x, split = blockIdx.y, kvh = h / a.group;
  const int tid = threadIdx.x, lane = tid & 31, lg = lane & 7, sub = tid >> 3;  // sub: 0..15
  float qv[NC][8];
#pragma unroll
  for (int c = 0; c < NC; c++) {
    const int ch = lg + 8 * c;
#pragma unroll
    for (int i = 0; i < 8; i++) qv[c][i] = ch < NCH ? a.q[(int64_t)h * D + ch * 8 + i] * a.scale : 0.0f;
  }
  float m = -INFINITY, l = 0.0f, o[NC][8];
#pragma unroll
  for (int c = 0; c < NC; c++)
#pragma unroll
    for (int i = 0; i < 8; i++) o[c][i] = 0.0f;

  const __half* kb = a.k + (int64_t)kvh * a.cap * D;
  const __half* vb = a.v + (int64_t)kvh * a.cap * D;
  // the virtual block space: phase 1 (listed / all blocks), then phase 2 (window + sinks blocks)
  const int n_sink = a.sb_end, n_win = a.wb_end - a.wb_begin;
  const int nb_all = a.n_list + (a.ws_on ? n_sink + n_win : 0);
  const int b0 = split * a.bps, b1 = min(nb_all, b0 + a.bps);
  for (int bi = b0; bi < b1; bi++) {
    int blk;
    bool phase2 = bi >= a.n_list;
    if (!phase2) blk = a.blocks ? a.blocks[(int64_t)kvh * a.blocks_stride + bi] : bi;
    else blk = bi - a.n_list < n_sink ? bi - a.n_list : a.wb_begin + (bi - a.n_list - n_sink);
    if (blk < 0) continue;  // -1 padding (or a bad entry) reads nothing
    const int j0 = blk * a.bsz, j1 = min(a.len, j0 + a.bsz);
    for (int jb = j0; jb < j1; jb += 16) {  // uniform trip count across the block
      const int j = jb + sub;
      bool ok = j < j1;
      if (ok && a.ws_on) ok = phase2 == in_ws(j, a.len, a.window, a.sinks);
      uint4 kr[NC], vr[NC];
#pragma unroll
      for (int c = 0; c < NC; c++) {
        const int ch = lg + 8 * c;
        if (ok && ch < NCH) {
          kr[c] = __ldg((const uint4*)(kb + (int64_t)j * D) + ch);
          vr[c] = __ldg((const uint4*)(vb + (int64_t)j * D) + ch);
        } else {
          kr[c] = make_uint4(0, 0, 0, 0);
          vr[c] = make_uint4(0, 0, 0, 0);
        }
      }
      float s = 0.0f;
#pragma unroll
      for (int c = 0; c < NC; c++) {
        const __half2* k2 = (const __half2*)&kr[c];
#pragma unroll
        for (int i = 0; i < 4; i++) {
          const float2 f = __half22float2(k2[i]);
          s = fmaf(qv[c][2 * i], f.x, s);
          s = fmaf(qv[c][2 * i + 1], f.y, s);
        }
      }
      s += __shfl_xor_sync(0xffffffffu, s, 4);
      s += __shfl_xor_sync(0xffffffffu, s, 2);
      s += __shfl_xor_sync(0xffffffffu, s, 1);
      if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
      if (ok) {
        const float mn = fmaxf(m, s);
        const float corr = __expf(m - mn), p = __expf(s - mn);
        l = l * corr + p;
        m = mn;
#pragma unroll
        for (int c = 0; c < NC; c++) {
          const __half2* v2 = (const __half2*)&vr[c];
#pragma unroll
          for (int i = 0; i < 4; i++) {
            const float2 f = __half22float2(v2[i]);
            o[c][2 * i] = fmaf(p, f.x, o[c][2 * i] * corr);
            o[c][2 * i + 1] = fmaf(p, f.y, o[c][2 * i + 1] * corr);
          }
        }
      }
    }
  }
  // merge the 16 groups
#pragma unroll
  for (int c = 0; c < NC; c++) {
    const int ch = lg + 8 * c;
    if (ch < NCH)
#pragma unroll
      for (int i = 0; i < 8; i++) sm_o[sub][ch * 8 + i] = o[c][i];
  }
  if (lg == 0) { sm_m[sub] = m; sm_l[sub] = l; }
  __syncthreads();
  float M = -INFINITY;
  for (int g = 0; g < 16; g++) M = fmaxf(M, sm_m[g]);
  float L = 0.0f;
  for (int g = 0; g < 16; g++) L += sm_m[g] == -INFINITY ? 0.0f : sm_l[g] * __expf(sm_m[g] - M);
  for (int d = tid; d < D; d += blockDim.x) {
    float acc = 0.0f;
    for (int g = 0; g < 16; g++) acc += sm_m[g] == -INFINITY ? 0.0f : sm_o[g][d] * __expf(sm_m[g] - M);
    if (a.n_splits == 1) {
      a.out[(int64_t)h * D + d] = L > 0 ? acc / L : 0.0f;
    } else {
      float* w = a.ws + ((int64_t)h * a.n_splits + split) * (D + 2);
      w[d] = acc;
      if (d == 0) { w[D] = M; w[D + 1] = L; }
    }
  }
}

__global__ void merge_kernel(float* __restrict__ out, const float* __restrict__ ws, int n_splits, int D) {
  const int h = blockIdx.x;
  const float* w = ws + (int64_t)h * n_splits * (D + 2);
  float M = -INFINITY;
  for (int s = 0; s < n_splits; s++) M = fmaxf(M, w[s * (D + 2) + D]);
  float L = 0.0f;
  for (int s = 0; s < n_splits; s++) {
    const float ms = w[s * (D + 2) + D];
    if (ms != -INFINITY) L += w[s * (D + 2) + D + 1] * __expf(ms - M);
  }
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.0f;
    for (int s = 0; s < n_splits; s++) {
      const float ms = w[s * (D + 2) + D];
      if (ms != -INFINITY) acc += w[s * (D + 2) + d] * __expf(ms - M);
    }
    out[(int64_t)h * D + d] = L > 0 ? acc / L : 0.0f;
  }
}

// ---------------- prefill ----------------
constexpr int PQ = 16, PK = 32;

struct PrefillArgs {
  float* out;
  const float* q;
  const __half* k;
  const __half* v;
  int n_q, q_pos0, n_heads, group, cap, len;
  float scale, softcap;
  int window, sinks;
  const uint8_t* mask;
  int bsz, n_kb;
};

template <int D>
__global__ void __launch_bounds__(128) prefill_kernel(PrefillArgs a) {
  constexpr int ND = (D + 31) / 32;
  __shared__ float Ks[PK][D + 1];
  __shared__ float Vs[PK][D + 1];
  __shared__ float Qs[PQ][D];
  const int h = blockIdx.y, kvh = h / a.group, qt0 = blockIdx.x * PQ;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  for (int i = tid; i < PQ * D; i += blockDim.x) {
    const int qi = i / D, d = i % D, t = qt0 + qi;
    Qs[qi][d] = t < a.n_q ? a.q[((int64_t)t * a.n_heads + h) * D + d] * a.scale : 0.0f;
  }
  float m[4], l[4], o[4][ND];
#pragma unroll
  for (int r = 0; r < 4; r++) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int i = 0; i < ND; i++) o[r][i] = 0.0f;
  }
  const int qlast = min(a.n_q, qt0 + PQ) - 1;
  const int pmin = a.q_pos0 + qt0, pmax = a.q_pos0 + qlast;
  const int kend = min(a.len, pmax + 1);
  const __half* kb = a.k + (int64_t)kvh * a.cap * D;
  const __half* vb = a.v + (int64_t)kvh * a.cap * D;
  for (int j0 = 0; j0 < kend; j0 += PK) {
    // a tile wholly outside every query's window and past the sinks is skipped (block-uniform)
    if ((a.window > 0 || a.sinks > 0) && j0 >= a.sinks && (a.window == 0 || j0 + PK - 1 <= pmin - a.window)) continue;
    __syncthreads();
    for (int i = tid; i < PK * D / 2; i += blockDim.x) {
      const int r = i / (D / 2), d2 = i % (D / 2), j = j0 + r;
      float2 kf = make_float2(0, 0), vf = make_float2(0, 0);
      if (j < kend) {
        kf = __half22float2(((const __half2*)(kb + (int64_t)j * D))[d2]);
        vf = __half22float2(((const __half2*)(vb + (int64_t)j * D))[d2]);
      }
      Ks[r][2 * d2] = kf.x; Ks[r][2 * d2 + 1] = kf.y;
      Vs[r][2 * d2] = vf.x; Vs[r][2 * d2 + 1] = vf.y;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < 4; r++) {
      const int qi = warp * 4 + r, t = qt0 + qi;
      if (t >= a.n_q) continue;  // warp-uniform
      const int qp = a.q_pos0 + t, j = j0 + lane;
      bool ok = j < kend && j <= qp;
      if (ok && (a.window > 0 || a.sinks > 0)) ok = j < a.sinks || (a.window > 0 && j > qp - a.window);
      if (ok && a.mask) ok = a.mask[(int64_t)(qp / a.bsz) * a.n_kb + j / a.bsz] != 0;
      float s = 0.0f;
#pragma unroll 8
      for (int d = 0; d < D; d++) s = fmaf(Qs[qi][d], Ks[lane][d], s);
      if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
      s = ok ? s : -INFINITY;
      const float tmax = warp_max(s);
      const float mn = fmaxf(m[r], tmax);
      if (mn == -INFINITY) continue;  // nothing visible yet (warp-uniform)
      const float corr = __expf(m[r] - mn);
      const float p = ok ? __expf(s - mn) : 0.0f;
      l[r] = l[r] * corr + warp_sum(p);
      m[r] = mn;
#pragma unroll
      for (int i = 0; i < ND; i++) o[r][i] *= corr;
      for (int jj = 0; jj < PK; jj++) {
        const float pj = __shfl_sync(0xffffffffu, p, jj);
        if (pj == 0.0f) continue;  // warp-uniform
#pragma unroll
        for (int i = 0; i < ND; i++) {
          const int d = lane + 32 * i;
          if (d < D) o[r][i] = fmaf(pj, Vs[jj][d], o[r][i]);
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 4; r++) {
    const int t = qt0 + warp * 4 + r;
    if (t >= a.n_q) continue;
#pragma unroll
    for (int i = 0; i < ND; i++) {
      const int d = lane + 32 * i;
      if (d < D) a.out[((int64_t)t * a.n_heads + h) * D + d] = l[r] > 0 ? o[r][i] / l[r] : 0.0f;
    }
  }
}

// ---------------- cache append and block summaries ----------------
__global__ void append_kernel(__half* __restrict__ kc, __half* __restrict__ vc, const float* __restrict__ k,
                              const float* __restrict__ v, int n_new, int pos, int n_kv, int D, int cap) {
  const int64_t total = (int64_t)n_new * n_kv * D;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int d = (int)(i % D);
    const int hh = (int)((i / D) % n_kv);
    const int t = (int)(i / ((int64_t)D * n_kv));
    const int64_t dst = ((int64_t)hh * cap + pos + t) * D + d;
    kc[dst] = __float2half_rn(k[i]);
    vc[dst] = __float2half_rn(v[i]);
  }
}
// grid (touched blocks, n_kv); recompute min/max of each touched block over tokens < len
__global__ void summary_kernel(float* __restrict__ kmin, float* __restrict__ kmax, const __half* __restrict__ kc,
                               int first_block, int len, int D, int cap, int bsz) {
  const int b = first_block + blockIdx.x, hh = blockIdx.y, nbc = cap / bsz;
  const int j0 = b * bsz, j1 = min(len, j0 + bsz);
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float lo = INFINITY, hi = -INFINITY;
    for (int j = j0; j < j1; j++) {
      const float x = __half2float(kc[((int64_t)hh * cap + j) * D + d]);
      lo = fminf(lo, x);
      hi = fmaxf(hi, x);
    }
    const int64_t o = ((int64_t)hh * nbc + b) * D + d;
    kmin[o] = lo;
    kmax[o] = hi;
  }
}

constexpr int SEL_MAX_BLOCKS = 8192;
// One block per KV head. Candidates: blocks with a key not kept by the window/sinks rule; score(b) = sum over
// the group's q heads, sum over channels, of max(q kmin, q kmax) (f32, heads outer, channels inner); the k best
// (ties: lower block), written ascending and padded with -1.
__global__ void __launch_bounds__(256) select_kernel(int32_t* __restrict__ blocks, const float* __restrict__ q,
                                                     const float* __restrict__ kmin, const float* __restrict__ kmax,
                                                     int group, int D, int cap, int len, int bsz, int sinks, int window,
                                                     int k) {
  __shared__ float score[SEL_MAX_BLOCKS];
  __shared__ unsigned char state[SEL_MAX_BLOCKS];  // 0 candidate, 1 chosen, 2 not a candidate
  __shared__ float rv[32];
  __shared__ int ri[32];
  const int hh = blockIdx.x, tid = threadIdx.x, nbc = cap / bsz;
  const int nb = (len + bsz - 1) / bsz;
  for (int b = tid; b < nb; b += blockDim.x) {
    const int j0 = b * bsz, j1 = min(len, j0 + bsz);
    // covered by window/sinks when every key is: [j0, j1) within [0, sinks) or within [len - window, len)
    // every key of the block is kept by the rule unless the gap [sinks, len - window) meets [j0, j1)
    const bool covered = max(j0, sinks) >= min(j1, window > 0 ? len - window : len);
    state[b] = covered ? 2 : 0;
    float s = 0.0f;
    if (!covered) {
      const float* mn = kmin + ((int64_t)hh * nbc + b) * D;
      const float* mx = kmax + ((int64_t)hh * nbc + b) * D;
      for (int g = 0; g < group; g++) {
        const float* qh = q + (int64_t)(hh * group + g) * D;
        for (int d = 0; d < D; d++) s += fmaxf(__fmul_rn(qh[d], mn[d]), __fmul_rn(qh[d], mx[d]));
      }
    }
    score[b] = s;
  }
  __syncthreads();
  int got = 0;
  for (int r = 0; r < k; r++) {
    float bv = -INFINITY;
    int bi = 0x7fffffff;
    for (int b = tid; b < nb; b += blockDim.x)
      if (state[b] == 0 && (score[b] > bv || (score[b] == bv && b < bi))) { bv = score[b]; bi = b; }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
    }
    __syncthreads();
    if ((tid & 31) == 0) { rv[tid >> 5] = bv; ri[tid >> 5] = bi; }
    __syncthreads();
    if (tid == 0) {
      float v0 = -INFINITY;
      int i0 = 0x7fffffff;
      for (int w = 0; w < (int)(blockDim.x >> 5); w++)
        if (ri[w] != 0x7fffffff && (i0 == 0x7fffffff || rv[w] > v0 || (rv[w] == v0 && ri[w] < i0))) { v0 = rv[w]; i0 = ri[w]; }
      if (i0 != 0x7fffffff) state[i0] = 1;
      ri[0] = i0;
    }
    __syncthreads();
    if (ri[0] == 0x7fffffff) break;
    got++;
    __syncthreads();
  }
  __syncthreads();
  if (tid == 0) {
    int c = 0;
    for (int b = 0; b < nb && c < k; b++)
      if (state[b] == 1) blocks[(int64_t)hh * k + c++] = b;
    for (; c < k; c++) blocks[(int64_t)hh * k + c] = -1;
  }
}

Status check_attn(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t capacity, int64_t len) {
  FL_TRY(need_device());
  if (n_kv_heads < 1) return Status::range("n_kv_heads", "integer >= 1", s64(n_kv_heads));
  if (n_heads < 1 || n_heads % n_kv_heads || n_heads > 65535)
    return Status::range("n_heads", "a multiple of n_kv_heads=" + s64(n_kv_heads) + " up to 65535", s64(n_heads));
  if (head_dim != 64 && head_dim != 80 && head_dim != 128)
    return Status::unsupported("CUDA attention: head_dim " + s64(head_dim) + " is not instantiated (64, 80, 128)");
  if (capacity < 1 || capacity > (1LL << 30)) return Status::range("capacity", "integer in [1, 2^30]", s64(capacity));
  if (len < 0 || len > capacity) return Status::range("len", "integer in [0, capacity=" + s64(capacity) + "]", s64(len));
  return Status::Ok();
}

#define FL_DISPATCH_HEAD_DIM(d, D, ...)                 \
  switch (d) {                                          \
    case 64: { constexpr int D = 64; __VA_ARGS__; break; }   \
    case 80: { constexpr int D = 80; __VA_ARGS__; break; }   \
    case 128: { constexpr int D = 128; __VA_ARGS__; break; } \
    default: return Status::unsupported("head_dim");    \
  }

int64_t choose_splits(int64_t n_heads, int64_t n_blocks) {
  const int64_t want = 4LL * sm_count();
  int64_t s = (want + n_heads - 1) / n_heads;
  if (s > n_blocks) s = n_blocks;
  if (s > 256) s = 256;
  return s < 1 ? 1 : s;
}

}  // namespace

size_t attention_decode_workspace_bytes(int64_t n_heads, int64_t head_dim, int64_t n_splits) {
  if (n_heads < 1 || head_dim < 1 || n_splits < 0) return 0;
  if (n_splits == 0) n_splits = 256;  // the most choose_splits picks
  if (n_splits == 1) return 0;
  return (size_t)n_heads * n_splits * (head_dim + 2) * sizeof(float);
}

Status attention_decode(float* out, const float* q, const fl_half* k_cache, const fl_half* v_cache, int64_t n_heads,
                        int64_t n_kv_heads, int64_t head_dim, int64_t capacity, int64_t len, float scale,
                        float softcap, const AttnSparse& sp, int64_t n_splits, void* workspace,
                        size_t workspace_bytes, Stream s) {
  FL_TRY(check_attn(n_heads, n_kv_heads, head_dim, capacity, len));
  FL_TRY(check_ptr(out, "out"));
  FL_TRY(check_ptr(q, "q"));
  FL_TRY(check_ptr(k_cache, "k_cache"));
  FL_TRY(check_ptr(v_cache, "v_cache"));
  if (((uintptr_t)k_cache | (uintptr_t)v_cache) & 15)
    return Status::range("k_cache", "16-byte aligned device pointers", "a misaligned pointer");
  if (sp.block_size < 1 || sp.block_size > (1 << 20)) return Status::range("block_size", "integer in [1, 2^20]", s64(sp.block_size));
  if (sp.window < 0 || sp.sinks < 0) return Status::range("window", "integers >= 0 (window, sinks)", s64(sp.window < 0 ? sp.window : sp.sinks));
  if (sp.blocks && (sp.n_blocks < 0 || sp.blocks_stride < sp.n_blocks))
    return Status::range("n_blocks", "integer in [0, blocks_stride=" + s64(sp.blocks_stride) + "]", s64(sp.n_blocks));
  const int64_t bs = sp.block_size, nbl = (len + bs - 1) / bs;
  const bool ws_on = sp.window > 0 || sp.sinks > 0;
  // phase 2 blocks: sinks [0, sb_end), window [wb_begin, wb_end), disjoint
  const int64_t sinks = sp.sinks < len ? sp.sinks : len;
  const int64_t sb_end = ws_on ? (sinks + bs - 1) / bs : 0;
  int64_t wb_begin = nbl, wb_end = nbl;
  if (ws_on && sp.window > 0) {
    const int64_t first = len - sp.window > 0 ? len - sp.window : 0;
    wb_begin = first / bs > sb_end ? first / bs : sb_end;
  }
  const int64_t n_list = sp.blocks ? sp.n_blocks : (ws_on ? 0 : nbl);
  const int64_t nb_all = n_list + (ws_on ? sb_end + (wb_end - wb_begin) : 0);
  if (n_splits < 0) return Status::range("n_splits", "integer >= 0", s64(n_splits));
  if (n_splits == 0) n_splits = choose_splits(n_heads, nb_all > 0 ? nb_all : 1);
  if (n_splits > 65535) return Status::range("n_splits", "integer <= 65535", s64(n_splits));
  const int64_t bps = nb_all > 0 ? (nb_all + n_splits - 1) / n_splits : 1;
  if (nb_all > 0) n_splits = (nb_all + bps - 1) / bps;
  else n_splits = 1;
  if (n_splits > 1) {
    const size_t need = (size_t)n_heads * n_splits * (head_dim + 2) * sizeof(float);
    if (!workspace || workspace_bytes < need)
      return Status::range("workspace_bytes", "at least " + s64((int64_t)need), s64((int64_t)workspace_bytes));
  }
  DecodeArgs a{};
  a.out = n_splits == 1 ? out : nullptr;
  a.ws = (float*)workspace;
  a.q = q;
  a.k = (const __half*)k_cache;
  a.v = (const __half*)v_cache;
  a.n_heads = (int)n_heads;
  a.group = (int)(n_heads / n_kv_heads);
  a.cap = (int)capacity;
  a.len = (int)len;
  a.n_splits = (int)n_splits;
  a.bps = (int)bps;
  a.scale = scale;
  a.softcap = softcap;
  a.window = (int)sp.window;
  a.sinks = (int)sp.sinks;
  a.blocks = sp.blocks;
  a.n_blocks = (int)sp.n_blocks;
  a.blocks_stride = (int)sp.blocks_stride;
  a.bsz = (int)sp.block_size;
  a.ws_on = ws_on;
  a.n_list = (int)n_list;
  a.sb_end = (int)sb_end;
  a.wb_begin = (int)wb_begin;
  a.wb_end = (int)wb_end;
  dim3 grid((unsigned)n_heads, (unsigned)n_splits);
  FL_DISPATCH_HEAD_DIM(head_dim, D, decode_kernel<D><<<grid, 128, 0, s>>>(a));
  FL_CUDA_LAUNCHED("attention_decode");
  if (n_splits > 1) {
    merge_kernel<<<(unsigned)n_heads, 128, 0, s>>>(out, a.ws, (int)n_splits, (int)head_dim);
    FL_CUDA_LAUNCHED("attention_merge");
  }
  return Status::Ok();
}

Status attention_prefill(float* out, const float* q, const fl_half* k_cache, const fl_half* v_cache, int64_t n_q,
                         int64_t q_pos0, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t capacity,
                         int64_t len, float scale, float softcap, const AttnSparse& sp, Stream s) {
  FL_TRY(check_attn(n_heads, n_kv_heads, head_dim, capacity, len));
  FL_TRY(check_ptr(out, "out"));
  FL_TRY(check_ptr(q, "q"));
  FL_TRY(check_ptr(k_cache, "k_cache"));
  FL_TRY(check_ptr(v_cache, "v_cache"));
  if (n_q < 0) return Status::range("n_q", "integer >= 0", s64(n_q));
  if (q_pos0 < 0 || q_pos0 + n_q > len)
    return Status::range("q_pos0", "integer in [0, len - n_q = " + s64(len - n_q) + "]", s64(q_pos0));
  if (sp.block_size < 1) return Status::range("block_size", "integer >= 1", s64(sp.block_size));
  if (sp.window < 0 || sp.sinks < 0) return Status::range("window", "integers >= 0 (window, sinks)", s64(sp.window < 0 ? sp.window : sp.sinks));
  if (n_q == 0) return Status::Ok();
  PrefillArgs a{};
  a.out = out;
  a.q = q;
  a.k = (const __half*)k_cache;
  a.v = (const __half*)v_cache;
  a.n_q = (int)n_q;
  a.q_pos0 = (int)q_pos0;
  a.n_heads = (int)n_heads;
  a.group = (int)(n_heads / n_kv_heads);
  a.cap = (int)capacity;
  a.len = (int)len;
  a.scale = scale;
  a.softcap = softcap;
  a.window = (int)sp.window;
  a.sinks = (int)sp.sinks;
  a.mask = sp.block_mask;
  a.bsz = (int)sp.block_size;
  a.n_kb = (int)(sp.mask_cols > 0 ? sp.mask_cols : (len + sp.block_size - 1) / sp.block_size);
  if (sp.block_mask) {
    const int64_t need_cols = (len + sp.block_size - 1) / sp.block_size;
    if (a.n_kb < need_cols) return Status::range("mask_cols", "integer >= " + s64(need_cols), s64(a.n_kb));
    if (sp.mask_rows > 0 && sp.mask_rows <= (q_pos0 + n_q - 1) / sp.block_size)
      return Status::range("mask_rows", "integer > " + s64((q_pos0 + n_q - 1) / sp.block_size), s64(sp.mask_rows));
  }
  dim3 grid((unsigned)((n_q + PQ - 1) / PQ), (unsigned)n_heads);
  FL_DISPATCH_HEAD_DIM(head_dim, D, prefill_kernel<D><<<grid, 128, 0, s>>>(a));
  FL_CUDA_LAUNCHED("attention_prefill");
  return Status::Ok();
}

Status kv_append_f16(fl_half* k_cache, fl_half* v_cache, float* kmin, float* kmax, const float* k, const float* v,
                     int64_t n_new, int64_t pos, int64_t n_kv_heads, int64_t head_dim, int64_t capacity,
                     int64_t block_size, Stream s) {
  FL_TRY(need_device());
  FL_TRY(check_ptr(k_cache, "k_cache"));
  FL_TRY(check_ptr(v_cache, "v_cache"));
  FL_TRY(check_ptr(k, "k"));
  FL_TRY(check_ptr(v, "v"));
  if (n_kv_heads < 1 || head_dim < 1) return Status::range("n_kv_heads", "integer >= 1", s64(n_kv_heads));
  if (n_new < 0 || pos < 0 || pos + n_new > capacity)
    return Status::range("n_new", "pos + n_new <= capacity=" + s64(capacity), s64(pos + n_new));
  if ((kmin || kmax) && (!kmin || !kmax || block_size < 1 || capacity % block_size))
    return Status::range("block_size", "a divisor of capacity=" + s64(capacity) + " (with both kmin and kmax)", s64(block_size));
  if (n_new == 0) return Status::Ok();
  const int64_t total = n_new * n_kv_heads * head_dim;
  append_kernel<<<grid1(total, 256, (int64_t)sm_count() * 16), 256, 0, s>>>(
      (__half*)k_cache, (__half*)v_cache, k, v, (int)n_new, (int)pos, (int)n_kv_heads, (int)head_dim, (int)capacity);
  FL_CUDA_LAUNCHED("kv_append");
  if (kmin) {
    const int64_t b0 = pos / block_size, b1 = (pos + n_new - 1) / block_size;
    dim3 grid((unsigned)(b1 - b0 + 1), (unsigned)n_kv_heads);
    summary_kernel<<<grid, 128, 0, s>>>(kmin, kmax, (const __half*)k_cache, (int)b0, (int)(pos + n_new),
                                        (int)head_dim, (int)capacity, (int)block_size);
    FL_CUDA_LAUNCHED("kv_summary");
  }
  return Status::Ok();
}

Status attention_select_blocks(int32_t* blocks, const float* q, const float* kmin, const float* kmax, int64_t n_heads,
                               int64_t n_kv_heads, int64_t head_dim, int64_t capacity, int64_t len, int64_t block_size,
                               int64_t sinks, int64_t window, int64_t k, Stream s) {
  FL_TRY(check_attn(n_heads, n_kv_heads, head_dim, capacity, len));
  FL_TRY(check_ptr(blocks, "blocks"));
  FL_TRY(check_ptr(q, "q"));
  FL_TRY(check_ptr(kmin, "kmin"));
  FL_TRY(check_ptr(kmax, "kmax"));
  if (block_size < 1 || capacity % block_size)
    return Status::range("block_size", "a divisor of capacity=" + s64(capacity), s64(block_size));
  if ((len + block_size - 1) / block_size > SEL_MAX_BLOCKS)
    return Status::range("len", "at most 8192 blocks", s64(len));
  if (sinks < 0 || window < 0) return Status::range("sinks", "integers >= 0 (sinks, window)", s64(sinks < 0 ? sinks : window));
  if (k < 1 || k > SEL_MAX_BLOCKS) return Status::range("k", "integer in [1, 8192]", s64(k));
  if (len == 0) {
    FL_CUDA_TRY(cudaMemsetAsync(blocks, 0xff, sizeof(int32_t) * (size_t)(n_kv_heads * k), s));
    return Status::Ok();
  }
  select_kernel<<<(unsigned)n_kv_heads, 256, 0, s>>>(blocks, q, kmin, kmax, (int)(n_heads / n_kv_heads), (int)head_dim,
                                                     (int)capacity, (int)len, (int)block_size,
                                                     (int)(sinks < len ? sinks : len), (int)(window < len ? window : len), (int)k);
  FL_CUDA_LAUNCHED("attention_select_blocks");
  return Status::Ok();
}

}  // namespace cuda
}  // namespace fuselm
