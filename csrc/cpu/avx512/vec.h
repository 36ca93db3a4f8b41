// The AVX-512 vector traits: 16 f32 lanes, and masked tails (kMaskedTail true: the kernels
// written once for both x86 widths, csrc/cpu/*_x86.h, finish a row with one masked step
// where AVX2 calls the scalar helper). Members are static inline in this ISA's namespace.
#pragma once
#include <immintrin.h>
#include "cpu/avx512/vmath.h"

namespace fuselm {
namespace avx512 {

struct V16f {
  using F = __m512;
  using M = __mmask16;
  static constexpr int W = 16;
  static constexpr int kGemmNR = 12;  // W rows per f32/bf16 GEMM tile (x rows: 2W)
  static constexpr bool kMaskedTail = true;
  static inline F zero() { return _mm512_setzero_ps(); }
  static inline F set1(float v) { return _mm512_set1_ps(v); }
  static inline F load(const float* p) { return _mm512_loadu_ps(p); }
  static inline void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  template <DType D> static inline F load_as(const void* p, int64_t i) { return vload<D>(p, i); }
  static inline F add(F a, F b) { return _mm512_add_ps(a, b); }
  static inline F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static inline F max(F a, F b) { return _mm512_max_ps(a, b); }
  static inline F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static inline F div(F a, F b) { return _mm512_div_ps(a, b); }
  static inline F min(F a, F b) { return _mm512_min_ps(a, b); }
  static inline F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static inline F fmsub(F a, F b, F c) { return _mm512_fmsub_ps(a, b, c); }
  static inline F swap_pairs(F v) { return _mm512_permute_ps(v, 0xB1); }
  static inline float reduce_add(F v) { return _mm512_reduce_add_ps(v); }
  static inline float reduce_max(F v) { return _mm512_reduce_max_ps(v); }
  static inline F exp(F v) { return vexp(v); }
  static inline F silu(F v) { return vsilu(v); }
  static inline F gelu(F v) { return vgelu(v); }
  static inline F sigmoid(F v) { return vsigmoid(v); }
  // lanes kept by the low W bits of a bit mask (attention's key masks): a mask register here
  using Keep = __mmask16;
  static inline Keep keep_bits(uint32_t bits) { return (__mmask16)bits; }
  static inline F max_kept(F acc, Keep k, F x) { return _mm512_mask_max_ps(acc, k, acc, x); }
  static inline F zero_unkept(Keep k, F x) { return _mm512_maskz_mov_ps(k, x); }
  // masked tails: lanes [0, n) of a step (all 16 when n >= 16)
  static inline M tail(int64_t n) { return tail_mask16(n); }
  static inline F load(M m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }          // others 0
  static inline F load(F src, M m, const float* p) { return _mm512_mask_loadu_ps(src, m, p); }  // others src
  static inline void store(float* p, M m, F v) { _mm512_mask_storeu_ps(p, m, v); }
  template <DType D> static inline F load_as(const void* p, int64_t i, M m) { return vload<D>(p, i, m); }
  static inline F add(F src, M m, F a, F b) { return _mm512_mask_add_ps(src, m, a, b); }
};

}  // namespace avx512
}  // namespace fuselm
