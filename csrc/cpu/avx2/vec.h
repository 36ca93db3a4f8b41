// The AVX2+FMA vector traits: 8 f32 lanes. The kernels written once for both x86 widths
// (csrc/cpu/*_x86.h, included inside this ISA's namespace with `using V = V8f`) use only
// these; the tail is the scalar helper's (kMaskedTail false). Members are static inline
// (in this ISA's namespace), so nothing compiled with these flags leaks to other units.
#pragma once
#include <immintrin.h>
#include "cpu/avx2/vmath.h"

namespace fuselm {
namespace avx2 {

struct V8f {
  using F = __m256;
  static constexpr int W = 8;
  static constexpr int kGemmNR = 6;  // W rows per f32/bf16 GEMM tile (x rows: 2W)
  static constexpr bool kMaskedTail = false;
  static inline F zero() { return _mm256_setzero_ps(); }
  static inline F set1(float v) { return _mm256_set1_ps(v); }
  static inline F load(const float* p) { return _mm256_loadu_ps(p); }
  static inline void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  template <DType D> static inline F load_as(const void* p, int64_t i) { return vload<D>(p, i); }
  static inline F add(F a, F b) { return _mm256_add_ps(a, b); }
  static inline F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static inline F max(F a, F b) { return _mm256_max_ps(a, b); }
  static inline F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static inline F div(F a, F b) { return _mm256_div_ps(a, b); }
  static inline F min(F a, F b) { return _mm256_min_ps(a, b); }
  static inline F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }  // a b + c
  static inline F fmsub(F a, F b, F c) { return _mm256_fmsub_ps(a, b, c); }  // a b - c
  static inline F swap_pairs(F v) { return _mm256_permute_ps(v, 0xB1); }     // (x0, x1) -> (x1, x0) per pair
  static inline float reduce_add(F v) { return hsum(v); }
  static inline float reduce_max(F v) { return hmax(v); }
  static inline F exp(F v) { return vexp(v); }
  static inline F silu(F v) { return vsilu(v); }
  static inline F gelu(F v) { return vgelu(v); }
  static inline F sigmoid(F v) { return vsigmoid(v); }
  // lanes kept by the low W bits of a bit mask (attention's key masks): an all-ones lane mask here
  using Keep = __m256;
  static inline Keep keep_bits(uint32_t bits) {
    const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i b = _mm256_and_si256(_mm256_set1_epi32((int)(bits & 0xff)), sel);
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(b, sel));
  }
  static inline F max_kept(F acc, Keep k, F x) { return _mm256_max_ps(acc, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x, k)); }
  static inline F zero_unkept(Keep k, F x) { return _mm256_and_ps(x, k); }
};

}  // namespace avx2
}  // namespace fuselm
