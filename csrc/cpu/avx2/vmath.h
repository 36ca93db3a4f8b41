// AVX2+FMA vector math shared by the AVX2 kernels (include only from csrc/cpu/avx2).
// static inline, so nothing compiled with these flags leaks to other translation units.
#pragma once
#include <immintrin.h>
#include <cmath>
#include <cstdint>
#include "fuselm/blocks.h"

namespace fuselm {
namespace avx2 {

// exp(x) for 8 floats: this ISA's one vector exp (elementwise, norm, attention, moe); its scalar
// twin, for tails and the ref kernels that must agree bit for bit, is moe_scalar::exp_poly. Range reduction x = n ln2 + r (|r| <= ln2/2, ln2 in two parts), a degree-7
// Taylor polynomial for e^r (truncation < 6e-9 relative), then 2^n applied as two factors so that
// results overflow to +inf above ln(FLT_MAX) and underflow gracefully (subnormals, then 0) below.
// Max relative error <= 2e-7 (about 3 ulp) on normal results; NaN propagates; exp(-inf) = 0.
static inline __m256 vexp(__m256 x) {
  // min/max keep NaN when it is the second operand
  x = _mm256_max_ps(_mm256_set1_ps(-110.0f), _mm256_min_ps(_mm256_set1_ps(89.0f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);  // ln2 high part (exact product)
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);  // ln2 low part
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

// x * sigmoid(z) = x / (1 + exp(-z)), evaluated without overflow as (z >= 0 ? x : x e) / (1 + e) with
// e = exp(-|z|), so results stay relative-accurate down to FLT_MIN; x = -inf gives -0.
static inline __m256 vmul_sigmoid(__m256 x, __m256 z) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 e = vexp(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_and_ps(z, absmask)));
  const __m256 num = _mm256_blendv_ps(x, _mm256_mul_ps(x, e), _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ));
  const __m256 y = _mm256_div_ps(num, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  return _mm256_blendv_ps(y, _mm256_set1_ps(-0.0f), _mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ));
}

// SiLU: x * sigmoid(x)
static inline __m256 vsilu(__m256 x) { return vmul_sigmoid(x, x); }

// 1 / (1 + exp(-x)): sigmoid(-inf) = 0, sigmoid(+inf) = 1
static inline __m256 vsigmoid(__m256 x) { return vmul_sigmoid(_mm256_set1_ps(1.0f), x); }

// ggml's tanh GELU, 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3), as the identical x * sigmoid(2u)
static inline __m256 vgelu(__m256 x) {
  const __m256 c1 = _mm256_set1_ps((float)(2 * 0.79788456080286535588));
  const __m256 c3 = _mm256_set1_ps((float)(2 * 0.79788456080286535588 * 0.044715));
  return vmul_sigmoid(x, _mm256_mul_ps(x, _mm256_fmadd_ps(_mm256_mul_ps(x, x), c3, c1)));
}

// 8 elements of an f32/f16/bf16 array as floats
template <DType D>
static inline __m256 vload(const void* p, int64_t i) {
  if (D == DType::F32) return _mm256_loadu_ps((const float*)p + i);
  const __m128i h = _mm_loadu_si128((const __m128i*)((const uint16_t*)p + i));
  if (D == DType::F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace avx2
}  // namespace fuselm
