// AVX2 embed kernels: F16C / shift row decoders, an 8-lane argmax with per-lane indices.
#include <immintrin.h>
#include <cstring>
#include "fuselm/ops/embed.h"
#include "cpu/avx2/vmath.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace avx2 {

static void decode_row_f32(float* dst, const void* src, int64_t n) { std::memcpy(dst, src, (size_t)n * 4); }

static void decode_row_f16(float* dst, const void* src, int64_t n) {
  const uint16_t* s = (const uint16_t*)src;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, vload<DType::F16>(s, i));
  scalar::decode_f16(dst, s, i, n);
}

static void decode_row_bf16(float* dst, const void* src, int64_t n) {
  const uint16_t* s = (const uint16_t*)src;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, vload<DType::BF16>(s, i));
  scalar::decode_bf16(dst, s, i, n);
}

static int64_t argmax_row(const float* x, int64_t n) {
  __m256 vmax = _mm256_set1_ps(-INFINITY), unord = _mm256_setzero_ps();
  __m256i vidx = _mm256_setzero_si256(), cur = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i step = _mm256_set1_epi32(8);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 gt = _mm256_cmp_ps(v, vmax, _CMP_GT_OQ);  // strict: the lowest index per lane wins ties
    vmax = _mm256_blendv_ps(vmax, v, gt);
    vidx = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(vidx), _mm256_castsi256_ps(cur), gt));
    unord = _mm256_or_ps(unord, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    cur = _mm256_add_epi32(cur, step);
  }
  if (_mm256_movemask_ps(unord) || scalar::first_nan(x + i, n - i) >= 0) return scalar::first_nan(x, n);
  float m = hmax(vmax);
  int64_t best = 0;
  if (i > 0) {
    alignas(32) float mv[8];
    alignas(32) int32_t iv[8];
    _mm256_store_ps(mv, vmax);
    _mm256_store_si256((__m256i*)iv, vidx);
    best = INT64_MAX;
    for (int k = 0; k < 8; k++)
      if (mv[k] == m && iv[k] < best) best = iv[k];
  } else {
    m = x[0];
  }
  return scalar::argmax_from(x, i, n, best, &m);
}

void fill_embed(EmbedTable& t) {
  FL_IMPL(t, decode_row_f32, avx2);
  FL_IMPL(t, decode_row_f16, avx2);
  FL_IMPL(t, decode_row_bf16, avx2);
  FL_IMPL(t, argmax_row, avx2);
}

}  // namespace avx2
}  // namespace fuselm
