// AVX-512 embed kernels: masked-tail row decoders, a 16-lane argmax with per-lane indices.
#include <immintrin.h>
#include <cstring>
#include "fuselm/ops/embed.h"
#include "cpu/avx512/vmath.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace avx512 {

static void decode_row_f32(float* dst, const void* src, int64_t n) { std::memcpy(dst, src, (size_t)n * 4); }

static void decode_row_f16(float* dst, const void* src, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask16(n - i);
    _mm512_mask_storeu_ps(dst + i, m, vload<DType::F16>(src, i, m));
  }
}

static void decode_row_bf16(float* dst, const void* src, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask16(n - i);
    _mm512_mask_storeu_ps(dst + i, m, vload<DType::BF16>(src, i, m));
  }
}

static int64_t argmax_row(const float* x, int64_t n) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 vmax = ninf;
  __m512i vidx = _mm512_setzero_si512(), cur = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i step = _mm512_set1_epi32(16);
  __mmask16 unord = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask16(n - i);
    const __m512 v = _mm512_mask_loadu_ps(ninf, k, x + i);  // lanes past n read -inf and never win
    const __mmask16 gt = _mm512_cmp_ps_mask(v, vmax, _CMP_GT_OQ);
    vmax = _mm512_mask_mov_ps(vmax, gt, v);
    vidx = _mm512_mask_mov_epi32(vidx, gt, cur);
    unord |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    cur = _mm512_add_epi32(cur, step);
  }
  if (unord) return scalar::first_nan(x, n);
  const float m = _mm512_reduce_max_ps(vmax);
  // among lanes holding the maximum, the lowest index (-inf rows: every lane holds index 0)
  const __mmask16 at = _mm512_cmp_ps_mask(vmax, _mm512_set1_ps(m), _CMP_EQ_OQ);
  return (int64_t)_mm512_mask_reduce_min_epi32(at, vidx);
}

void fill_embed(EmbedTable& t) {
  FL_IMPL(t, decode_row_f32, avx512);
  FL_IMPL(t, decode_row_f16, avx512);
  FL_IMPL(t, decode_row_bf16, avx512);
  FL_IMPL(t, argmax_row, avx512);
}

}  // namespace avx512
}  // namespace fuselm
