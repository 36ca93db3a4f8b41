// Family qgemm on CUDA: out[M,N] = x[M,K] . W[N,K]^T for ggml block formats.
//  - gemv (M <= 8): a warp (or 2..8 warps, split over K) per row of W; the row is
//    staged through shared memory with 128-bit loads, prefetched one chunk ahead
//    in registers, and dequantised in registers against the f32 activation.
//  - gemm (M > 8): 64x128x64 tiles, 8 warps of 32x32, mma.sync m16n8k16 (f16, or
//    bf16 for bf16 weights) with ldmatrix; the W tile is dequantised to 16-bit in
//    shared memory, the next tile's raw bytes are loaded into registers while
//    the current one multiplies; split-K with f32 atomics for skinny grids.
//  - the same GEMM kernel runs the MoE grouped expert GEMM (per-tile expert,
//    gathered rows, combine-weighted scatter-add epilogue).
#include "cuda/formats.cuh"
#include "cuda/internal.cuh"

namespace fuselm {
namespace cuda {

namespace {

// ---------------- GEMV ----------------
// A warp computes two rows of W at once, so each activation load (f32, from L1) feeds two weights: the
// activation traffic per weight byte is what limits an f32-activation GEMV, not HBM.
constexpr int GV_WARPS = 8, GV_MAXM = 8;

template <class F>
struct Gv {
  static constexpr int CW = F::k16bit ? 1024 : 2048;  // weights per chunk
  static constexpr int CB = CW / F::QK * F::BS;      // bytes per chunk, a multiple of 16 for every format
  static constexpr int NV = (CB / 16 + 31) / 32;     // uint4 per lane per chunk
  static_assert(CB % 16 == 0, "chunk bytes");
};

template <class F>
__global__ void __launch_bounds__(256) gemv_kernel(float* __restrict__ out, const float* __restrict__ x,
                                                   const uint8_t* __restrict__ w, const float* __restrict__ bias,
                                                   int M, int N, int K, int64_t rb, int wpr, bool aligned) {
  constexpr int CW = Gv<F>::CW, CB = Gv<F>::CB, NV = Gv<F>::NV;
  __shared__ __align__(16) uint8_t stage[GV_WARPS][2][CB];
  __shared__ float red[GV_WARPS][2][GV_MAXM];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int ppb = GV_WARPS / wpr, rl = warp / wpr, wir = warp % wpr;  // row pairs per block
  const int n0 = (blockIdx.x * ppb + rl) * 2;
  const bool has1 = n0 + 1 < N;
  float acc[2][GV_MAXM];
#pragma unroll
  for (int m = 0; m < GV_MAXM; m++) acc[0][m] = acc[1][m] = 0.0f;

  if (n0 < N) {
    const uint8_t* rows[2] = {w + (int64_t)n0 * rb, w + (int64_t)(has1 ? n0 + 1 : n0) * rb};
    const int nch = (K + CW - 1) / CW;
    uint4 pre[2][NV];
    auto fetch = [&](int c) {
      if (!aligned) return;
      const int64_t left = rb - (int64_t)c * CB;
      const int nb16 = (int)((left < CB ? left : CB) / 16);
#pragma unroll
      for (int r = 0; r < 2; r++) {
        const uint4* src = (const uint4*)(rows[r] + (int64_t)c * CB);
#pragma unroll
        for (int v = 0; v < NV; v++) {
          const int idx = lane + 32 * v;
          if (idx < nb16) pre[r][v] = __ldg(src + idx);
        }
      }
    };
    auto commit = [&](int c) {
      const int64_t left = rb - (int64_t)c * CB;
      const int bytes = (int)(left < CB ? left : CB);
#pragma unroll
      for (int r = 0; r < 2; r++) {
        uint8_t* st = stage[warp][r];
        const uint8_t* src = rows[r] + (int64_t)c * CB;
        int from = 0;
        if (aligned) {
          const int nb16 = bytes / 16;
#pragma unroll
          for (int v = 0; v < NV; v++) {
            const int idx = lane + 32 * v;
            if (idx < nb16) ((uint4*)st)[idx] = pre[r][v];
          }
          from = nb16 * 16;
        }
        for (int i = from + 2 * lane; i < bytes; i += 64) *(uint16_t*)(st + i) = *(const uint16_t*)(src + i);
      }
    };
    int c = wir;
    if (c < nch) fetch(c);
    for (; c < nch; c += wpr) {
      __syncwarp();
      commit(c);
      __syncwarp();
      if (c + wpr < nch) fetch(c + wpr);  // in flight while this chunk is decoded
      const int cw = min(CW, K - c * CW), groups = cw / 8;
      const float* xc = x + (int64_t)c * CW;
      for (int g = lane; g < groups; g += 32) {
        float q0[8], s0, b0, q1[8], s1, b1;
        F::decode(F::load(stage[warp][0], (int64_t)g * 8), q0, s0, b0);
        F::decode(F::load(stage[warp][1], (int64_t)g * 8), q1, s1, b1);
#pragma unroll
        for (int m = 0; m < GV_MAXM; m++) {
          if (m < M) {
            const float4* xp = (const float4*)(xc + (int64_t)m * K + g * 8);
            const float4 a = __ldg(xp), b = __ldg(xp + 1);
            const float xv[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
            float d0 = 0.0f, d1 = 0.0f;
#pragma unroll
            for (int i = 0; i < 8; i++) {
              d0 = fmaf(q0[i], xv[i], d0);
              d1 = fmaf(q1[i], xv[i], d1);
            }
            acc[0][m] = fmaf(s0, d0, acc[0][m]);
            acc[1][m] = fmaf(s1, d1, acc[1][m]);
            if (F::kBias) {
              const float sx = (xv[0] + xv[1]) + (xv[2] + xv[3]) + (xv[4] + xv[5]) + (xv[6] + xv[7]);
              acc[0][m] = fmaf(b0, sx, acc[0][m]);
              acc[1][m] = fmaf(b1, sx, acc[1][m]);
            }
          }
        }
      }
    }
  }
#pragma unroll
  for (int m = 0; m < GV_MAXM; m++) {
    if (m < M) {
      const float v0 = warp_sum(acc[0][m]), v1 = warp_sum(acc[1][m]);
      if (lane == 0) { red[warp][0][m] = v0; red[warp][1][m] = v1; }
    }
  }
  __syncthreads();
  const int t = threadIdx.x;
  if (t < ppb * 2 * M) {
    const int pr = t / (2 * M), r = (t / M) & 1, m = t % M;
    const int nn = (blockIdx.x * ppb + pr) * 2 + r;
    if (nn < N) {
      float v = 0;
      for (int j = 0; j < wpr; j++) v += red[pr * wpr + j][r][m];
      if (bias) v += bias[nn];
      out[(int64_t)m * N + nn] = v;
    }
  }
}

// ---------------- GEMM (mma.sync) ----------------
constexpr int BM = 64, BN = 128, BK = 64, LDS = BK + 8, GT = 256;

struct GemmArgs {
  float* out;
  const float* x;
  const uint8_t* w;
  const float* bias;
  int M, N, K;
  int64_t rb;             // bytes per W row
  int64_t expert_stride;  // bytes per expert (MoE)
  const int32_t* sorted;  // MoE: pair index per row (-1 = padding), or null
  const int32_t* tile_expert;
  int gather;             // MoE: A row = x[sorted[r] / topk] (else x[r])
  int topk;
  const float* combine;   // MoE: out[pair/topk] += combine[pair] * y
  const float* x_up;      // fused SwiGLU on the A operand: A = silu(x) * x_up (same layout as x), or null
  int kt_per_split;
  int atomic;             // split-K: accumulate with atomics into a zeroed out
};

__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const void* p) {
  const uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}
template <bool BF>
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], const uint32_t b[2]) {
  if (BF) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
}
template <bool BF>
__device__ __forceinline__ uint32_t pack2(float a, float b) {
  if (BF) {
    __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
    return *(uint32_t*)&h;
  } else {
    __half2 h = __floats2half2_rn(a, b);
    return *(uint32_t*)&h;
  }
}

__device__ __forceinline__ float silu_f(float v) { return v / (1.0f + __expf(-v)); }

template <class F>
__global__ void __launch_bounds__(GT, 2) gemm_kernel(GemmArgs a) {
  constexpr bool BF = F::kMmaBf16;
  __shared__ __align__(16) uint16_t As[BM][LDS];
  __shared__ __align__(16) uint16_t Bs[BN][LDS];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, wm = warp >> 2, wn = warp & 3;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const uint8_t* w = a.w;
  if (a.tile_expert) {
    const int e = a.tile_expert[blockIdx.y];
    if (e < 0) return;
    w += (int64_t)e * a.expert_stride;
  }
  const int K = a.K;
  const float* arow[4];
  const uint8_t* brow[4];
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int m = m0 + ((tid + i * GT) >> 4);
    const float* src = nullptr;
    if (m < a.M) {
      if (a.sorted) {
        const int p = a.sorted[m];
        if (p >= 0) src = a.x + (int64_t)(a.gather ? p / a.topk : m) * K;
      } else {
        src = a.x + (int64_t)m * K;
      }
    }
    arow[i] = src;
    const int n = n0 + ((tid + i * GT) >> 3);
    brow[i] = n < a.N ? w + (int64_t)n * a.rb : nullptr;
  }
  const int nkt = (K + BK - 1) / BK;
  const int kt0 = blockIdx.z * a.kt_per_split;
  const int kt1 = min(nkt, kt0 + a.kt_per_split);
  if (kt0 >= kt1) return;

  float acc[2][4][4];
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int r = 0; r < 4; r++) acc[i][j][r] = 0.0f;

  float4 pa[4];
  typename F::Raw pb[4];
  bool vb[4];
  auto load = [&](int kt) {
    const int k0 = kt * BK;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int c = ((tid + i * GT) & 15) * 4;
      pa[i] = (arow[i] && k0 + c < K) ? __ldg((const float4*)(arow[i] + k0 + c)) : make_float4(0, 0, 0, 0);
      if (a.x_up && arow[i] && k0 + c < K) {
        const float4 u = __ldg((const float4*)(a.x_up + (arow[i] - a.x) + k0 + c));
        pa[i] = make_float4(silu_f(pa[i].x) * u.x, silu_f(pa[i].y) * u.y, silu_f(pa[i].z) * u.z, silu_f(pa[i].w) * u.w);
      }
      const int kg = ((tid + i * GT) & 7) * 8;
      vb[i] = brow[i] && k0 + kg < K;
      if (vb[i]) pb[i] = F::load(brow[i], k0 + kg);
    }
  };
  auto store = [&]() {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int r = (tid + i * GT) >> 4, c = ((tid + i * GT) & 15) * 4;
      uint2 v;
      v.x = pack2<BF>(pa[i].x, pa[i].y);
      v.y = pack2<BF>(pa[i].z, pa[i].w);
      *(uint2*)&As[r][c] = v;
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int r = (tid + i * GT) >> 3, kg = ((tid + i * GT) & 7) * 8;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (vb[i]) {
        if constexpr (F::k16bit) {
          v = pb[i].v;
        } else {
          float q[8], sc, bi;
          F::decode(pb[i], q, sc, bi);
          v.x = pack2<BF>(fmaf(sc, q[0], bi), fmaf(sc, q[1], bi));
          v.y = pack2<BF>(fmaf(sc, q[2], bi), fmaf(sc, q[3], bi));
          v.z = pack2<BF>(fmaf(sc, q[4], bi), fmaf(sc, q[5], bi));
          v.w = pack2<BF>(fmaf(sc, q[6], bi), fmaf(sc, q[7], bi));
        }
      }
      *(uint4*)&Bs[r][kg] = v;
    }
  };

  load(kt0);
  store();
  __syncthreads();
  for (int kt = kt0; kt < kt1; kt++) {
    if (kt + 1 < kt1) load(kt + 1);
#pragma unroll
    for (int kk = 0; kk < BK / 16; kk++) {
      uint32_t af[2][4], bfr[4][2];
#pragma unroll
      for (int i = 0; i < 2; i++) ldsm_x4(af[i], &As[wm * 32 + i * 16 + (lane & 15)][kk * 16 + (lane >> 4) * 8]);
#pragma unroll
      for (int j = 0; j < 2; j++) {
        uint32_t r[4];
        ldsm_x4(r, &Bs[wn * 32 + j * 16 + (lane & 7) + ((lane >> 4) << 3)][kk * 16 + ((lane >> 3) & 1) * 8]);
        bfr[2 * j][0] = r[0];
        bfr[2 * j][1] = r[1];
        bfr[2 * j + 1][0] = r[2];
        bfr[2 * j + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) mma16816<BF>(acc[i][j], af[i], bfr[j]);
    }
    __syncthreads();
    if (kt + 1 < kt1) {
      store();
      __syncthreads();
    }
  }

  // epilogue: c0,c1 at (row lane/4, cols 2(lane%4)+{0,1}); c2,c3 at row + 8
  const bool add_bias = a.bias && blockIdx.z == 0;
#pragma unroll
  for (int i = 0; i < 2; i++) {
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const int m = m0 + wm * 32 + i * 16 + (lane >> 2) + h * 8;
      if (m >= a.M) continue;
      int p = -1;
      if (a.sorted) {
        p = a.sorted[m];
        if (p < 0) continue;
      }
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const int col = n0 + wn * 32 + j * 8 + (lane & 3) * 2;
#pragma unroll
        for (int u = 0; u < 2; u++) {
          const int n = col + u;
          if (n >= a.N) continue;
          float v = acc[i][j][2 * h + u];
          if (a.combine) {
            atomicAdd(a.out + (int64_t)(p / a.topk) * a.N + n, a.combine[p] * v);
          } else {
            if (add_bias) v += a.bias[n];
            float* o = a.out + (int64_t)m * a.N + n;
            if (a.atomic) atomicAdd(o, v);
            else *o = v;
          }
        }
      }
    }
  }
}

Status check_args(const float* out, const float* x, const void* w, DType wtype, int64_t M, int64_t N, int64_t K,
                  int64_t* rb) {
  FL_TRY(need_device());
  FL_TRY(check_ptr(out, "out"));
  FL_TRY(check_ptr(x, "x"));
  FL_TRY(check_ptr(w, "w"));
  if (M < 0 || M > 0x7fffffff) return Status::range("M", "integer in [0, 2^31)", s64(M));
  if (N < 1 || N > 0x7fffffff) return Status::range("N", "integer in [1, 2^31)", s64(N));
  if (K < 1 || K > 0x7fffffff) return Status::range("K", "integer in [1, 2^31)", s64(K));
  const DTypeTraits* tr = dtype_traits((int32_t)wtype);
  if (!tr) return Status::type("wtype", "a weight format", "dtype id " + s64((int32_t)wtype));
  *rb = row_bytes(wtype, K);
  if (*rb == 0) {
    const int64_t qk = (wtype == DType::F16 || wtype == DType::BF16) ? 8 : tr->block_elems;
    return Status::range("K", "a multiple of " + s64(qk) + " for " + tr->name + " on CUDA", s64(K));
  }
  if ((uintptr_t)x & 15) return Status::range("x", "a 16-byte aligned device pointer", "a misaligned pointer");
  if ((wtype == DType::F16 || wtype == DType::BF16) && ((uintptr_t)w & 15))
    return Status::range("w", "a 16-byte aligned device pointer for f16/bf16", "a misaligned pointer");
  return Status::Ok();
}

template <class F>
Status launch_gemv(float* out, const float* x, const uint8_t* w, const float* bias, int M, int N, int K, int64_t rb,
                   Stream s) {
  const int sms = sm_count();
  const int nch = (K + Gv<F>::CW - 1) / Gv<F>::CW;
  const int64_t pairs = (N + 1) / 2;
  int wpr = 1;  // warps per row pair, splitting its chunks, when there are too few pairs to fill the device
  while (wpr < GV_WARPS && 2 * wpr <= nch && pairs * wpr < (int64_t)sms * 32) wpr *= 2;
  const int ppb = GV_WARPS / wpr;
  const bool aligned = ((uintptr_t)w & 15) == 0 && rb % 16 == 0;
  gemv_kernel<F><<<(unsigned)((pairs + ppb - 1) / ppb), 256, 0, s>>>(out, x, w, bias, M, N, K, rb, wpr, aligned);
  FL_CUDA_LAUNCHED("gemv");
  return Status::Ok();
}

template <class F>
Status launch_gemm(const GemmArgs& a0, int64_t tiles_m, int split_k, Stream s) {
  GemmArgs a = a0;
  const int nkt = (a.K + BK - 1) / BK;
  const int64_t tiles = tiles_m * ((a.N + BN - 1) / BN);
  if (tiles_m > 65535) return Status::range("M", "at most 65535 tiles of 64 rows", s64(tiles_m));
  int splits = split_k;
  if (splits <= 0) {
    splits = 1;
    const int64_t want = 2LL * sm_count();
    if (!a.combine && tiles < want) {
      splits = (int)((want + tiles - 1) / tiles);
      const int most = nkt / 4 > 1 ? nkt / 4 : 1;  // at least 4 k-tiles per split
      if (splits > most) splits = most;
    }
  }
  if (splits > nkt) splits = nkt;
  if (splits < 1) splits = 1;
  a.kt_per_split = (nkt + splits - 1) / splits;
  splits = (nkt + a.kt_per_split - 1) / a.kt_per_split;
  if (splits > 1) {
    if (a.combine || a.sorted) return Status::unsupported("split-K with MoE rows");
    a.atomic = 1;
    FL_CUDA_TRY(cudaMemsetAsync(a.out, 0, (size_t)a.M * a.N * sizeof(float), s));
  }
  dim3 grid((unsigned)((a.N + BN - 1) / BN), (unsigned)tiles_m, (unsigned)splits);
  gemm_kernel<F><<<grid, GT, 0, s>>>(a);
  FL_CUDA_LAUNCHED("gemm_mma");
  return Status::Ok();
}

GemmArgs dense_args(float* out, const float* x, const void* w, const float* bias, int64_t M, int64_t N, int64_t K,
                    int64_t rb) {
  GemmArgs a{};
  a.out = out;
  a.x = x;
  a.w = (const uint8_t*)w;
  a.bias = bias;
  a.M = (int)M;
  a.N = (int)N;
  a.K = (int)K;
  a.rb = rb;
  a.topk = 1;
  return a;
}

}  // namespace

namespace {
template <class F>
void decode_row_host_t(float* out, const uint8_t* row, int64_t K) {
  for (int64_t e = 0; e < K; e += 8) {
    float q[8], sc, bi;
    F::decode(F::load(row, e), q, sc, bi);
    for (int i = 0; i < 8; i++) out[e + i] = sc * q[i] + bi;
  }
}
}  // namespace

Status decode_row_host(float* out, const void* row, DType wtype, int64_t K) {
  if (row_bytes(wtype, K) == 0) return Status::range("K", "a multiple of the format's block", s64(K));
  FL_CUDA_DISPATCH_FORMAT(wtype, F, decode_row_host_t<F>(out, (const uint8_t*)row, K));
  return Status::Ok();
}

int64_t row_bytes(DType wtype, int64_t K) {
  if (K < 1) return 0;
  switch (wtype) {
    case DType::F16:
    case DType::BF16: return K % 8 ? 0 : K * 2;
    case DType::Q4_0: return K % 32 ? 0 : K / 32 * 18;
    case DType::Q8_0: return K % 32 ? 0 : K / 32 * 34;
    case DType::Q4_K: return K % 256 ? 0 : K / 256 * 144;
    case DType::Q6_K: return K % 256 ? 0 : K / 256 * 210;
    case DType::Q5_0: case DType::Q4_1: case DType::Q5_1: case DType::IQ4_NL: case DType::MXFP4:
      return K % 32 ? 0 : K / 32 * dtype_traits((int32_t)wtype)->block_bytes;
    case DType::IQ4_XS: case DType::Q3_K: case DType::Q2_K:
      return K % 256 ? 0 : K / 256 * dtype_traits((int32_t)wtype)->block_bytes;
    default: return 0;
  }
}

Status gemv(float* out, const float* x, const void* w, DType wtype, int64_t M, int64_t N, int64_t K,
            const float* bias, Stream s) {
  int64_t rb = 0;
  FL_TRY(check_args(out, x, w, wtype, M, N, K, &rb));
  if (M > GV_MAXM) return Status::range("M", "integer in [0, 8] for gemv", s64(M));
  if (M == 0) return Status::Ok();
  FL_CUDA_DISPATCH_FORMAT(wtype, F, return launch_gemv<F>(out, x, (const uint8_t*)w, bias, (int)M, (int)N, (int)K, rb, s));
  return Status::Ok();
}

Status gemm_mma(float* out, const float* x, const void* w, DType wtype, int64_t M, int64_t N, int64_t K,
                const float* bias, int split_k, Stream s) {
  int64_t rb = 0;
  FL_TRY(check_args(out, x, w, wtype, M, N, K, &rb));
  if (M == 0) return Status::Ok();
  GemmArgs a = dense_args(out, x, w, bias, M, N, K, rb);
  FL_CUDA_DISPATCH_FORMAT(wtype, F, return launch_gemm<F>(a, (M + BM - 1) / BM, split_k, s));
  return Status::Ok();
}

Status matmul(float* out, const float* x, const void* w, DType wtype, int64_t M, int64_t N, int64_t K,
              const float* bias, Stream s) {
  if (M <= GV_MAXM) return gemv(out, x, w, wtype, M, N, K, bias, s);
  return gemm_mma(out, x, w, wtype, M, N, K, bias, 0, s);
}

Status moe_grouped_matmul(float* out, const float* x, const void* w, DType wtype, int64_t E, int64_t N, int64_t K,
                          const int32_t* sorted, const int32_t* tile_expert, int64_t n_tiles, int64_t gather_k,
                          const float* combine_weights, Stream s) {
  return moe_grouped_matmul_ex(out, x, nullptr, w, wtype, E, N, K, sorted, tile_expert, n_tiles, gather_k,
                               combine_weights, s);
}

Status moe_grouped_matmul_ex(float* out, const float* x, const float* x_up, const void* w, DType wtype, int64_t E,
                             int64_t N, int64_t K, const int32_t* sorted, const int32_t* tile_expert, int64_t n_tiles,
                             int64_t gather_k, const float* combine_weights, Stream s) {
  int64_t rb = 0;
  FL_TRY(check_args(out, x, w, wtype, n_tiles * kMoeTile, N, K, &rb));
  FL_TRY(check_ptr(sorted, "sorted"));
  FL_TRY(check_ptr(tile_expert, "tile_expert"));
  if (E < 1) return Status::range("E", "integer >= 1", s64(E));
  if (n_tiles < 0 || n_tiles > 65535) return Status::range("n_tiles", "integer in [0, 65535]", s64(n_tiles));
  if (gather_k < 0 || gather_k > 64) return Status::range("gather_k", "integer in [0, 64]", s64(gather_k));
  if (combine_weights && gather_k == 0)
    return Status::range("gather_k", "the router's k (>= 1) when combine_weights is given", s64(gather_k));
  if (n_tiles == 0) return Status::Ok();
  static_assert(kMoeTile == BM, "MoE tile = GEMM tile rows");
  GemmArgs a = dense_args(out, x, w, nullptr, n_tiles * kMoeTile, N, K, rb);
  a.expert_stride = rb * N;
  a.sorted = sorted;
  a.tile_expert = tile_expert;
  a.topk = gather_k > 0 ? (int)gather_k : 1;
  a.gather = combine_weights ? 0 : (gather_k > 0);
  a.combine = combine_weights;
  a.x_up = x_up;
  if (x_up && ((uintptr_t)x_up & 15)) return Status::range("x_up", "a 16-byte aligned device pointer", "a misaligned pointer");
  FL_CUDA_DISPATCH_FORMAT(wtype, F, return launch_gemm<F>(a, n_tiles, 1, s));
  return Status::Ok();
}

}  // namespace cuda
}  // namespace fuselm
