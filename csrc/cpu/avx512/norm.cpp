// AVX-512 norm kernels: masked tails, no scalar loop needed.
#include <immintrin.h>
#include <cmath>
#include "fuselm/ops/norm.h"

namespace fuselm {
namespace avx512 {

static inline __mmask16 tail_mask(int64_t n) { return (__mmask16)((1u << n) - 1u); }

static void rmsnorm_row(float* out, const float* x, const float* w, int64_t dim, float eps) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
    a0 = _mm512_fmadd_ps(v0, v0, a0);
    a1 = _mm512_fmadd_ps(v1, v1, a1);
  }
  for (; i < dim; i += 16) {
    __mmask16 m = dim - i >= 16 ? (__mmask16)0xffff : tail_mask(dim - i);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    a0 = _mm512_fmadd_ps(v, v, a0);
  }
  double ss = (double)_mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  const __m512 vs = _mm512_set1_ps((float)(1.0 / std::sqrt(ss / (double)dim + (double)eps)));
  for (int64_t j = 0; j < dim; j += 16) {
    __mmask16 m = dim - j >= 16 ? (__mmask16)0xffff : tail_mask(dim - j);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), vs);
    if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + j));
    _mm512_mask_storeu_ps(out + j, m, v);
  }
}

void fill_norm(NormTable& t) { FL_IMPL(t, rmsnorm_row, avx512); }

}  // namespace avx512
}  // namespace fuselm
