// Family lut on CUDA: the SqueezeLLM-style dense-and-sparse format (layout in
// fuselm/blocks.h). A warp per row of W: each lane takes whole 32-weight blocks
// (LUT4: one 128-bit load; LUT3: three 32-bit loads), looks the codes up in the
// row's 16- or 8-entry table held in shared memory as f32, and dots them with
// the f32 activation; then the row's CSR outliers are added by the same warp.
// M > 8 runs in passes of 8 activation rows (no tensor-core path for LUT yet).
#include "cuda/common.cuh"

namespace fuselm {
namespace cuda {

namespace {

constexpr int LW = 8, LMAXM = 8;

template <int BITS>
__global__ void __launch_bounds__(256) lut_gemv_kernel(float* __restrict__ out, const float* __restrict__ x,
                                                       const uint8_t* __restrict__ codes, const uint16_t* __restrict__ table,
                                                       const int32_t* __restrict__ row_ptr, const int32_t* __restrict__ col,
                                                       const uint16_t* __restrict__ val, const float* __restrict__ bias,
                                                       int M, int N, int K, int nnz, int ldo) {
  constexpr int NT = 1 << BITS, BB = BITS == 4 ? 16 : 12;
  __shared__ float tab[LW][NT];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int n = blockIdx.x * LW + warp;
  if (n >= N) return;  // no block-wide barrier below
  if (lane < NT) tab[warp][lane] = h2f(table[(int64_t)n * NT + lane]);
  __syncwarp();
  const float* tb = tab[warp];
  float acc[LMAXM];
#pragma unroll
  for (int m = 0; m < LMAXM; m++) acc[m] = 0.0f;
  const int nb = K / 32;
  const uint8_t* row = codes + (int64_t)n * nb * BB;
  for (int b = lane; b < nb; b += 32) {
    float w[32];
    if (BITS == 4) {
      const uint4 v = __ldg((const uint4*)(row + (int64_t)b * 16));
      const uint32_t q[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int j = 0; j < 16; j++) {
        const uint32_t byte = (q[j >> 2] >> (8 * (j & 3))) & 0xff;
        w[j] = tb[byte & 15];
        w[j + 16] = tb[byte >> 4];
      }
    } else {
      const uint32_t* p = (const uint32_t*)(row + (int64_t)b * 12);
      const uint64_t lo = (uint64_t)__ldg(p) | ((uint64_t)__ldg(p + 1) << 32);
      const uint32_t hi = __ldg(p + 2);
#pragma unroll
      for (int j = 0; j < 32; j++) {
        const int bit = 3 * j;
        uint32_t c;
        if (bit + 3 <= 64) c = (uint32_t)(lo >> bit) & 7;
        else if (bit >= 64) c = (hi >> (bit - 64)) & 7;
        else c = (uint32_t)((lo >> bit) | ((uint64_t)hi << (64 - bit))) & 7;
        w[j] = tb[c];
      }
    }
#pragma unroll
    for (int m = 0; m < LMAXM; m++) {
      if (m < M) {
        const float4* xp = (const float4*)(x + (int64_t)m * K + (int64_t)b * 32);
        float d = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; j++) {
          const float4 a = __ldg(xp + j);
          d = fmaf(w[4 * j], a.x, d);
          d = fmaf(w[4 * j + 1], a.y, d);
          d = fmaf(w[4 * j + 2], a.z, d);
          d = fmaf(w[4 * j + 3], a.w, d);
        }
        acc[m] += d;
      }
    }
  }
  // CSR outliers of this row (entries out of range are skipped: device data is not validated on the host)
  int p0 = row_ptr[n], p1 = row_ptr[n + 1];
  p0 = max(0, min(p0, nnz));
  p1 = max(p0, min(p1, nnz));
  for (int p = p0 + lane; p < p1; p += 32) {
    const int c = col[p];
    if (c < 0 || c >= K) continue;
    const float v = h2f(val[p]);
#pragma unroll
    for (int m = 0; m < LMAXM; m++)
      if (m < M) acc[m] = fmaf(v, x[(int64_t)m * K + c], acc[m]);
  }
#pragma unroll
  for (int m = 0; m < LMAXM; m++) {
    if (m < M) {
      const float s = warp_sum(acc[m]);
      if (lane == 0) out[(int64_t)m * ldo + n] = s + (bias ? bias[n] : 0.0f);
    }
  }
}

}  // namespace

Status lut_matmul(float* out, const float* x, const LutMatrix& w, const float* bias, int64_t M, Stream s) {
  FL_TRY(need_device());
  FL_TRY(check_ptr(out, "out"));
  FL_TRY(check_ptr(x, "x"));
  FL_TRY(check_ptr(w.codes, "w.codes"));
  FL_TRY(check_ptr(w.table, "w.table"));
  FL_TRY(check_ptr(w.row_ptr, "w.row_ptr"));
  if (w.bits != 3 && w.bits != 4) return Status::range("w.bits", "3 or 4", s64(w.bits));
  if (w.n < 1 || w.n > 0x7fffffff) return Status::range("w.n", "integer in [1, 2^31)", s64(w.n));
  if (w.k < 32 || w.k % 32 || w.k > 0x7fffffff) return Status::range("w.k", "a positive multiple of 32", s64(w.k));
  if (w.nnz < 0 || w.nnz > 0x7fffffff) return Status::range("w.nnz", "integer in [0, 2^31)", s64(w.nnz));
  if (w.nnz > 0) {
    FL_TRY(check_ptr(w.col, "w.col"));
    FL_TRY(check_ptr(w.val, "w.val"));
  }
  if (M < 0 || M > 0x7fffffff) return Status::range("M", "integer in [0, 2^31)", s64(M));
  if ((uintptr_t)x & 15) return Status::range("x", "a 16-byte aligned device pointer", "a misaligned pointer");
  if (w.bits == 4 && ((uintptr_t)w.codes & 15))
    return Status::range("w.codes", "a 16-byte aligned device pointer for lut4", "a misaligned pointer");
  if (w.bits == 3 && ((uintptr_t)w.codes & 3))
    return Status::range("w.codes", "a 4-byte aligned device pointer for lut3", "a misaligned pointer");
  const unsigned grid = (unsigned)((w.n + LW - 1) / LW);
  for (int64_t m0 = 0; m0 < M; m0 += LMAXM) {
    const int mm = (int)(M - m0 < LMAXM ? M - m0 : LMAXM);
    const float* xm = x + m0 * w.k;
    float* om = out + m0 * w.n;
    if (w.bits == 4)
      lut_gemv_kernel<4><<<grid, 256, 0, s>>>(om, xm, w.codes, w.table, w.row_ptr, w.col, w.val, bias, mm, (int)w.n,
                                              (int)w.k, (int)w.nnz, (int)w.n);
    else
      lut_gemv_kernel<3><<<grid, 256, 0, s>>>(om, xm, w.codes, w.table, w.row_ptr, w.col, w.val, bias, mm, (int)w.n,
                                              (int)w.k, (int)w.nnz, (int)w.n);
    FL_CUDA_LAUNCHED("lut_matmul");
  }
  return Status::Ok();
}

}  // namespace cuda
}  // namespace fuselm
