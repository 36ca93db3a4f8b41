// AVX-512 rope kernels: 16 lanes (8 pairs in NORM layout) a step, masked tails.
#include <immintrin.h>
#include "fuselm/ops/rope.h"
#include "cpu/avx512/vmath.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace avx512 {

static void rope_token(float* out, const float* x, const float* cs, int64_t heads, int64_t head_dim, int64_t n_dims,
                       int mode) {
  const float* c = cs;
  const float* s = cs + n_dims;
  const int64_t half = n_dims / 2;
  for (int64_t h = 0; h < heads; h++) {
    float* o = out + h * head_dim;
    const float* xi = x + h * head_dim;
    if (mode == ROPE_NEOX) {
      for (int64_t i = 0; i < half; i += 16) {
        const __mmask16 m = tail_mask16(half - i);
        const __m512 x0 = _mm512_maskz_loadu_ps(m, xi + i), x1 = _mm512_maskz_loadu_ps(m, xi + i + half);
        const __m512 vc = _mm512_maskz_loadu_ps(m, c + i), vs = _mm512_maskz_loadu_ps(m, s + i);
        _mm512_mask_storeu_ps(o + i, m, _mm512_fmsub_ps(x0, vc, _mm512_mul_ps(x1, vs)));
        _mm512_mask_storeu_ps(o + i + half, m, _mm512_fmadd_ps(x0, vs, _mm512_mul_ps(x1, vc)));
      }
    } else {
      for (int64_t j = 0; j < n_dims; j += 16) {
        const __mmask16 m = tail_mask16(n_dims - j);  // n_dims is even: whole pairs
        const __m512 v = _mm512_maskz_loadu_ps(m, xi + j);
        const __m512 sw = _mm512_permute_ps(v, 0xB1);
        const __m512 y = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(m, c + j), _mm512_mul_ps(sw, _mm512_maskz_loadu_ps(m, s + j)));
        _mm512_mask_storeu_ps(o + j, m, y);
      }
    }
    scalar::copy_tail(o, xi, n_dims, head_dim);
  }
}

void fill_rope(RopeTable& t) { FL_IMPL(t, rope_token, avx512); }

}  // namespace avx512
}  // namespace fuselm
