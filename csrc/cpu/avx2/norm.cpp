// AVX2+FMA norm kernels.
#include <immintrin.h>
#include "fuselm/ops/norm.h"
#include "cpu/scalar.h"

namespace fuselm {
namespace avx2 {

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static void rmsnorm_row(float* out, const float* x, const float* w, int64_t dim, float eps) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    a0 = _mm256_fmadd_ps(v0, v0, a0);
    a1 = _mm256_fmadd_ps(v1, v1, a1);
  }
  double ss = (double)hsum(_mm256_add_ps(a0, a1)) + scalar::sum_sq(x, i, dim);
  const float scale = (float)(1.0 / std::sqrt(ss / (double)dim + (double)eps));
  const __m256 vs = _mm256_set1_ps(scale);
  int64_t j = 0;
  for (; j + 8 <= dim; j += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + j), vs);
    if (w) v = _mm256_mul_ps(v, _mm256_loadu_ps(w + j));
    _mm256_storeu_ps(out + j, v);
  }
  scalar::rmsnorm_row(out, x, w, j, dim, ss, dim, eps);
}

void fill_norm(NormTable& t) { FL_IMPL(t, rmsnorm_row, avx2); }

}  // namespace avx2
}  // namespace fuselm
