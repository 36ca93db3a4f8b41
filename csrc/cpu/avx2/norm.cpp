// AVX2+FMA norm kernels.
#include <immintrin.h>
#include "fuselm/ops/norm.h"
#include "cpu/scalar.h"
#include "cpu/scalar_ops.h"
#include "cpu/avx2/vmath.h"

namespace fuselm {
namespace avx2 {

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

// three passes over a row that stays in cache: max, exp (stored) with their sum, scale by 1/sum
static void softmax_row(float* out, const float* x, int64_t dim, float scale) {
  __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
  int64_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
  }
  const float m = scalar::max_of(x, i, dim, hmax(_mm256_max_ps(m0, m1)));
  if (m == -INFINITY) { scalar::softmax_masked_row(out, x, dim); return; }
  const float ms = scale * m;
  const __m256 vs = _mm256_set1_ps(scale), vm = _mm256_set1_ps(ms);
  double sum = 0;  // f32 partial sums over blocks of 1024, added in double: long rows stay accurate
  i = 0;
  while (i + 16 <= dim) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    const int64_t stop = i + 1024 < dim ? i + 1024 : dim;
    for (; i + 16 <= stop; i += 16) {
      const __m256 e0 = vexp(_mm256_fmsub_ps(vs, _mm256_loadu_ps(x + i), vm));
      const __m256 e1 = vexp(_mm256_fmsub_ps(vs, _mm256_loadu_ps(x + i + 8), vm));
      _mm256_storeu_ps(out + i, e0);
      _mm256_storeu_ps(out + i + 8, e1);
      s0 = _mm256_add_ps(s0, e0);
      s1 = _mm256_add_ps(s1, e1);
    }
    sum += (double)hsum(_mm256_add_ps(s0, s1));
  }
  sum += scalar::softmax_exp(out, x, i, dim, scale, ms);
  const float inv = (float)(1.0 / sum);
  const __m256 vi = _mm256_set1_ps(inv);
  int64_t j = 0;
  for (; j + 8 <= dim; j += 8) _mm256_storeu_ps(out + j, _mm256_mul_ps(_mm256_loadu_ps(out + j), vi));
  for (; j < dim; j++) out[j] *= inv;
}

void fill_norm(NormTable& t) {
  FL_IMPL(t, rmsnorm_row, avx2);
  FL_IMPL(t, softmax_row, avx2);
}

}  // namespace avx2
}  // namespace fuselm
