// AVX2+FMA attention kernels: the AVX-512 design at 8 lanes. Scores for 2 rows x
// 32 keys per pass (8 accumulators + 4 key vectors), f16 -> f32 with vcvtph2ps,
// online softmax with the ISA's one vector exp (vmath.h), P.V in chunks of 4 vectors x 2 rows; the
// next tile the driver names is prefetched alongside.
#include <immintrin.h>
#include <cmath>
#include <cstdint>

#include "fuselm/ops/attention_kernels.h"
#include "cpu/avx2/vec.h"
#include "cpu/attention_x86.h"

namespace fuselm {
namespace avx2 {

static inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
static inline __m256 load8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
static inline __m256 load8(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)p)));
}

// acc rows r0, r0+1 (W vectors at column offset c0) += P V
// pf (or null): the next tile's V, whose same channels of the same key are prefetched alongside
template <int D, int W, class T>
static inline void pv_chunk(float* acc0, float* acc1, bool two, __m256 al0, __m256 al1, const float* p0,
                            const float* p1, const T* v, int64_t n, int c0, const char* pf) {
  __m256 o0[W], o1[W];
#pragma GCC unroll 4
  for (int j = 0; j < W; j++) {
    o0[j] = _mm256_mul_ps(_mm256_loadu_ps(acc0 + c0 + 8 * j), al0);
    o1[j] = _mm256_mul_ps(_mm256_loadu_ps(acc1 + c0 + 8 * j), al1);
  }
  for (int64_t k = 0; k < n; k++) {
    const float w0 = p0[k], w1 = two ? p1[k] : 0.0f;
    if (w0 == 0.0f && w1 == 0.0f) continue;
    const __m256 b0 = _mm256_set1_ps(w0), b1 = _mm256_set1_ps(w1);
    const T* vk = v + k * D + c0;
    if (pf) {
      const char* a = pf + (k * D + c0) * (int64_t)sizeof(T);
#pragma GCC unroll 4
      for (int i = 0; i < W * 8 * (int)sizeof(T); i += 64) _mm_prefetch(a + i, _MM_HINT_T1);
    }
#pragma GCC unroll 4
    for (int j = 0; j < W; j++) {
      const __m256 vv = load8(vk + 8 * j);
      o0[j] = _mm256_fmadd_ps(b0, vv, o0[j]);
      o1[j] = _mm256_fmadd_ps(b1, vv, o1[j]);
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < W; j++) {
    if (two) _mm256_storeu_ps(acc1 + c0 + 8 * j, o1[j]);
    _mm256_storeu_ps(acc0 + c0 + 8 * j, o0[j]);
  }
}

template <int D, class T>
static void tile(const AttnTile& t) {
  const T* kt = (const T*)t.kt;
  const T* v = (const T*)t.v;
  const int64_t M = t.M;
  const int64_t Mpad = (M + 3) & ~(int64_t)3;
  // 1. scores: 2 rows x 32 keys per pass
  for (int64_t r0 = 0; r0 < Mpad; r0 += 2) {
    const uint64_t any = (r0 < M ? t.mask[r0] : 0) | (r0 + 1 < M ? t.mask[r0 + 1] : 0);
    if (!any) continue;
    const float* q = t.q + r0 * D;
    // the first row pair pulls the next tile's K in, alongside the channel rows it reads
    const char* pk = r0 == 0 ? (const char*)t.pf_kt : nullptr;
    for (int h = 0; h < 2; h++) {
      if (!((any >> (32 * h)) & 0xffffffffu)) continue;
      __m256 a[2][4];
#pragma GCC unroll 2
      for (int r = 0; r < 2; r++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) a[r][j] = _mm256_setzero_ps();
      for (int c = 0; c < D; c++) {
        const T* kc = kt + (int64_t)c * KV_BLOCK + 32 * h;
        if (pk) {
#pragma GCC unroll 2
          for (int i = 0; i < 32 * (int)sizeof(T); i += 64)
            _mm_prefetch(pk + ((int64_t)c * KV_BLOCK + 32 * h) * (int)sizeof(T) + i, _MM_HINT_T1);
        }
        const __m256 k0 = load8(kc), k1 = load8(kc + 8), k2 = load8(kc + 16), k3 = load8(kc + 24);
#pragma GCC unroll 2
        for (int r = 0; r < 2; r++) {
          const __m256 qb = _mm256_broadcast_ss(q + r * D + c);
          a[r][0] = _mm256_fmadd_ps(qb, k0, a[r][0]);
          a[r][1] = _mm256_fmadd_ps(qb, k1, a[r][1]);
          a[r][2] = _mm256_fmadd_ps(qb, k2, a[r][2]);
          a[r][3] = _mm256_fmadd_ps(qb, k3, a[r][3]);
        }
      }
#pragma GCC unroll 2
      for (int r = 0; r < 2; r++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
          __m256 s = a[r][j];
          if (t.kscale) s = _mm256_mul_ps(s, _mm256_loadu_ps(t.kscale + 32 * h + 8 * j));
          _mm256_storeu_ps(t.scores + (r0 + r) * KV_BLOCK + 32 * h + 8 * j, s);
        }
    }
  }
  // 2. online softmax per row: scores become p (times vscale for int8)
  float alpha[64 * 8];  // M <= 512
  for (int64_t r = 0; r < M; r++)
    alpha[r] = x86::attn_softmax_row<V8f>(t.scores + r * KV_BLOCK, t.mask[r], t.m + r, t.l + r, t.softcap, t.vscale);
  // 3. acc = acc * alpha + P V
  constexpr int NV = D / 8;
  for (int64_t r0 = 0; r0 < M; r0 += 2) {
    const bool two = r0 + 1 < M;
    if (!t.mask[r0] && !(two && t.mask[r0 + 1])) continue;
    float* acc0 = t.acc + r0 * D;
    float* acc1 = two ? acc0 + D : acc0;
    const __m256 al0 = _mm256_set1_ps(alpha[r0]), al1 = _mm256_set1_ps(two ? alpha[r0 + 1] : 1.0f);
    const float* p0 = t.scores + r0 * KV_BLOCK;
    const float* p1 = p0 + KV_BLOCK;
    const char* pf = r0 == 0 ? (const char*)t.pf_v : nullptr;
    for (int c = 0; c + 32 <= D; c += 32) pv_chunk<D, 4, T>(acc0, acc1, two, al0, al1, p0, p1, v, t.n, c, pf);
    if constexpr (NV % 4 != 0) pv_chunk<D, NV % 4, T>(acc0, acc1, two, al0, al1, p0, p1, v, t.n, (NV / 4) * 32, pf);
  }
}

static void attn_tile_f32(const AttnTile& t) { FL_DISPATCH_HEAD_DIM(t.D, tile<D, float>(t)); }
static void attn_tile_f16(const AttnTile& t) { FL_DISPATCH_HEAD_DIM(t.D, tile<D, uint16_t>(t)); }
static void attn_tile_i8(const AttnTile& t) { FL_DISPATCH_HEAD_DIM(t.D, tile<D, int8_t>(t)); }

static void score_blocks(float* scores, const float* q, int64_t G, int64_t D, const float* const* summ, int64_t nb) {
  // one summary per KV page (scattered 1 KiB reads): every line prefetched PF blocks ahead
  constexpr int64_t PF = 6;
  for (int64_t b = 0; b < nb && b < PF; b++)
    for (int64_t o = 0; o < 2 * D; o += 16) _mm_prefetch((const char*)(summ[b] + o), _MM_HINT_T0);
  for (int64_t b = 0; b < nb; b++) {
    const float* mn = summ[b];
    const float* mx = summ[b] + D;
    if (b + PF < nb)
      for (int64_t o = 0; o < 2 * D; o += 16) _mm_prefetch((const char*)(summ[b + PF] + o), _MM_HINT_T0);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t c = 0; c < D; c += 8) {
      const __m256 lo = _mm256_loadu_ps(mn + c), hi = _mm256_loadu_ps(mx + c);
      for (int64_t g = 0; g < G; g++) {
        const __m256 qv = _mm256_loadu_ps(q + g * D + c);
        acc = _mm256_add_ps(acc, _mm256_max_ps(_mm256_mul_ps(qv, lo), _mm256_mul_ps(qv, hi)));
      }
    }
    scores[b] = hsum(acc);
  }
}

void fill_attention(AttentionTable& t) {
  FL_IMPL(t, attn_tile_f32, avx2);
  FL_IMPL(t, attn_tile_f16, avx2);
  FL_IMPL(t, attn_tile_i8, avx2);
  FL_IMPL(t, score_blocks, avx2);
}

}  // namespace avx2
}  // namespace fuselm
