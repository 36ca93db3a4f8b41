// AVX2+FMA rope kernels: 8 lanes (4 pairs in NORM layout) a step, the scalar helper for the tail.
#include <immintrin.h>
#include "fuselm/ops/rope.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace avx2 {

static void rope_token(float* out, const float* x, const float* cs, int64_t heads, int64_t head_dim, int64_t n_dims,
                       int mode) {
  const float* c = cs;
  const float* s = cs + n_dims;
  const int64_t half = n_dims / 2;
  for (int64_t h = 0; h < heads; h++) {
    float* o = out + h * head_dim;
    const float* xi = x + h * head_dim;
    if (mode == ROPE_NEOX) {
      int64_t i = 0;
      for (; i + 8 <= half; i += 8) {
        const __m256 x0 = _mm256_loadu_ps(xi + i), x1 = _mm256_loadu_ps(xi + i + half);
        const __m256 vc = _mm256_loadu_ps(c + i), vs = _mm256_loadu_ps(s + i);
        _mm256_storeu_ps(o + i, _mm256_fmsub_ps(x0, vc, _mm256_mul_ps(x1, vs)));
        _mm256_storeu_ps(o + i + half, _mm256_fmadd_ps(x0, vs, _mm256_mul_ps(x1, vc)));
      }
      scalar::rope_neox_pairs(o, xi, c, s, half, i, half);
    } else {
      int64_t j = 0;
      for (; j + 8 <= n_dims; j += 8) {
        const __m256 v = _mm256_loadu_ps(xi + j);
        const __m256 sw = _mm256_permute_ps(v, 0xB1);  // swap each adjacent pair
        _mm256_storeu_ps(o + j, _mm256_fmadd_ps(v, _mm256_loadu_ps(c + j), _mm256_mul_ps(sw, _mm256_loadu_ps(s + j))));
      }
      scalar::rope_norm_pairs(o, xi, c, s, j / 2, half);
    }
    scalar::copy_tail(o, xi, n_dims, head_dim);
  }
}

void fill_rope(RopeTable& t) { FL_IMPL(t, rope_token, avx2); }

}  // namespace avx2
}  // namespace fuselm
