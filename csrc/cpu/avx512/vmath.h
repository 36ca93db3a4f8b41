// AVX-512 vector math shared by the AVX-512 kernels (include only from csrc/cpu/avx512).
// static inline, so nothing compiled with these flags leaks to other translation units.
#pragma once
#include <immintrin.h>
#include <cmath>
#include <cstdint>
#include "fuselm/blocks.h"

namespace fuselm {
namespace avx512 {

static inline __mmask16 tail_mask16(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

// exp(x) for 16 floats, this ISA's one vector exp (scalar twin: moe_scalar::exp_poly): the same
// reduction and degree-7 polynomial as avx2::vexp, with vscalefps applying 2^n (one rounding of
// p 2^n, as avx2's two exact factors give, so the two agree bit for bit; overflow to +inf, gradual
// underflow to 0). Max relative error <= 2e-7 (about 3 ulp) on normal results; NaN propagates;
// exp(-inf) = 0.
static inline __m512 vexp(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-110.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// x * sigmoid(z) without overflow: (z >= 0 ? x : x e) / (1 + e), e = exp(-|z|); x = -inf gives -0
static inline __m512 vmul_sigmoid(__m512 x, __m512 z) {
  const __m512 e = vexp(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(z)));
  const __m512 num = _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ), x, e);
  const __m512 y = _mm512_div_ps(num, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ), y, _mm512_set1_ps(-0.0f));
}

static inline __m512 vsilu(__m512 x) { return vmul_sigmoid(x, x); }

// 1 / (1 + exp(-x)): sigmoid(-inf) = 0, sigmoid(+inf) = 1
static inline __m512 vsigmoid(__m512 x) { return vmul_sigmoid(_mm512_set1_ps(1.0f), x); }

// ggml's tanh GELU as x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3)
static inline __m512 vgelu(__m512 x) {
  const __m512 c1 = _mm512_set1_ps((float)(2 * 0.79788456080286535588));
  const __m512 c3 = _mm512_set1_ps((float)(2 * 0.79788456080286535588 * 0.044715));
  return vmul_sigmoid(x, _mm512_mul_ps(x, _mm512_fmadd_ps(_mm512_mul_ps(x, x), c3, c1)));
}

// up to 16 elements (lanes outside m read as 0) of an f32/f16/bf16 array as floats
template <DType D>
static inline __m512 vload(const void* p, int64_t i, __mmask16 m) {
  if (D == DType::F32) return _mm512_maskz_loadu_ps(m, (const float*)p + i);
  const __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t*)p + i);
  if (D == DType::F16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
template <DType D>
static inline __m512 vload(const void* p, int64_t i) {
  if (D == DType::F32) return _mm512_loadu_ps((const float*)p + i);
  const __m256i h = _mm256_loadu_si256((const __m256i*)((const uint16_t*)p + i));
  if (D == DType::F16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

}  // namespace avx512
}  // namespace fuselm
