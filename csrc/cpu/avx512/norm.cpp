// AVX-512 norm kernels: masked tails, no scalar loop needed.
#include <immintrin.h>
#include <cmath>
#include "fuselm/ops/norm.h"
#include "cpu/avx512/vmath.h"
#include "cpu/scalar_ops.h"

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

// three passes over a row that stays in cache: max, exp (stored) with their sum, scale by 1/sum
static void softmax_row(float* out, const float* x, int64_t dim, float scale) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 m0 = ninf, m1 = ninf;
  int64_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
    m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + i + 16));
  }
  for (; i < dim; i += 16) m0 = _mm512_max_ps(m0, _mm512_mask_loadu_ps(ninf, tail_mask(dim - i < 16 ? dim - i : 16), x + i));
  const float m = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
  if (m == -INFINITY) { scalar::softmax_masked_row(out, x, dim); return; }
  const __m512 vs = _mm512_set1_ps(scale), vm = _mm512_set1_ps(scale * m);
  double sum = 0;  // f32 partial sums over blocks of 2048, added in double: long rows stay accurate
  i = 0;
  while (i + 32 <= dim) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    const int64_t stop = i + 2048 < dim ? i + 2048 : dim;
    for (; i + 32 <= stop; i += 32) {
      const __m512 e0 = vexp(_mm512_fmsub_ps(vs, _mm512_loadu_ps(x + i), vm));
      const __m512 e1 = vexp(_mm512_fmsub_ps(vs, _mm512_loadu_ps(x + i + 16), vm));
      _mm512_storeu_ps(out + i, e0);
      _mm512_storeu_ps(out + i + 16, e1);
      s0 = _mm512_add_ps(s0, e0);
      s1 = _mm512_add_ps(s1, e1);
    }
    sum += (double)_mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  }
  __m512 st = _mm512_setzero_ps();
  for (; i < dim; i += 16) {
    const __mmask16 k = tail_mask(dim - i < 16 ? dim - i : 16);
    const __m512 e = vexp(_mm512_fmsub_ps(vs, _mm512_maskz_loadu_ps(k, x + i), vm));
    _mm512_mask_storeu_ps(out + i, k, e);
    st = _mm512_mask_add_ps(st, k, st, e);
  }
  sum += (double)_mm512_reduce_add_ps(st);
  const __m512 vi = _mm512_set1_ps((float)(1.0 / sum));
  for (int64_t j = 0; j < dim; j += 16) {
    const __mmask16 k = tail_mask(dim - j < 16 ? dim - j : 16);
    _mm512_mask_storeu_ps(out + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, out + j), vi));
  }
}

void fill_norm(NormTable& t) {
  FL_IMPL(t, rmsnorm_row, avx512);
  FL_IMPL(t, softmax_row, avx512);
}

}  // namespace avx512
}  // namespace fuselm
