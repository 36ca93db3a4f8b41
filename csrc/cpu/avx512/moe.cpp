// AVX-512 moe kernels: masked tails, vectorised keys, sigmoid/exp and top-k
// argmax; the group limit and the final weights are the shared scalar helpers.
#include <immintrin.h>
#include <cmath>
#include <cstdint>

#include "fuselm/ops/moe.h"
#include "cpu/moe_scalar.h"

namespace fuselm {
namespace avx512 {

using namespace moe_scalar;

static inline __m512 set1(float v) { return _mm512_set1_ps(v); }
static inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

// exp_poly on 16 lanes: the same operations as moe_scalar::exp_poly
static inline __m512 exp16(__m512 x) {
  const __m512 lo = set1(kExpLo), hi = set1(kExpHi);
  const __mmask16 below = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  const __mmask16 above = _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ);
  const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
  const __m512 t = _mm512_fmadd_ps(xc, set1(kLog2e), set1(kMagic));
  const __m512 n = _mm512_sub_ps(t, set1(kMagic));
  __m512 r = _mm512_fmadd_ps(n, set1(kLn2Hi), xc);
  r = _mm512_fmadd_ps(n, set1(kLn2Lo), r);
  __m512 p = set1(kP0);
  p = _mm512_fmadd_ps(p, r, set1(kP1));
  p = _mm512_fmadd_ps(p, r, set1(kP2));
  p = _mm512_fmadd_ps(p, r, set1(kP3));
  p = _mm512_fmadd_ps(p, r, set1(kP4));
  p = _mm512_fmadd_ps(p, r, set1(kP5));
  const __m512 r2 = _mm512_mul_ps(r, r);
  p = _mm512_fmadd_ps(p, r2, r);
  p = _mm512_add_ps(p, set1(1.0f));
  const __m512i ni = _mm512_cvtps_epi32(n);
  const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(ni, _mm512_set1_epi32(127)), 23));
  __m512 res = _mm512_mul_ps(p, scale);
  res = _mm512_mask_mov_ps(res, below, _mm512_setzero_ps());
  return _mm512_mask_mov_ps(res, above, set1(INFINITY));
}

static inline __m512i key16(__m512 v) {
  const __m512i i = _mm512_castps_si512(_mm512_add_ps(v, _mm512_setzero_ps()));
  return _mm512_xor_si512(i, _mm512_and_si512(_mm512_srai_epi32(i, 31), _mm512_set1_epi32(0x7fffffff)));
}

// keys padded with kTaken to a multiple of 16 (Ep); lowest index of the max, marked taken
static inline int32_t take_max16(int32_t* keys, int64_t Ep) {
  __m512i m = _mm512_set1_epi32(kTaken);
  for (int64_t e = 0; e < Ep; e += 16) m = _mm512_max_epi32(m, _mm512_loadu_si512(keys + e));
  const __m512i best = _mm512_set1_epi32(_mm512_reduce_max_epi32(m));
  for (int64_t e = 0; e < Ep; e += 16) {
    const __mmask16 eq = _mm512_cmpeq_epi32_mask(_mm512_loadu_si512(keys + e), best);
    if (eq) {
      const int32_t id = (int32_t)(e + __builtin_ctz((unsigned)eq));
      keys[id] = kTaken;
      return id;
    }
  }
  return 0;  // unreachable: the max is in keys
}

static bool route_row(int32_t* ids, float* w, const float* l, int64_t E, const MoeRouteParams& p, float* scratch) {
  const int64_t Ep = (E + 15) / 16 * 16;
  float* s = scratch;
  int32_t* keys = reinterpret_cast<int32_t*>(scratch + Ep);
  const bool sig = p.scoring == MOE_SIGMOID_GROUP;
  __mmask16 bad = 0;
  for (int64_t e = 0; e < Ep; e += 16) {
    const __mmask16 m = tail_mask(E - e);
    const __m512 v = _mm512_maskz_loadu_ps(m, l + e);
    bad |= _mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q) | _mm512_mask_cmp_ps_mask(m, v, set1(INFINITY), _CMP_EQ_OQ);
    __m512i kv;
    if (sig) {
      const __m512 sv = _mm512_div_ps(set1(1.0f), _mm512_add_ps(set1(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), v))));
      _mm512_storeu_ps(s + e, sv);
      const __m512 b = p.bias ? _mm512_maskz_loadu_ps(m, p.bias + e) : _mm512_setzero_ps();
      kv = key16(_mm512_add_ps(sv, b));
    } else {
      kv = key16(v);
    }
    _mm512_storeu_si512(keys + e, _mm512_mask_blend_epi32(m, _mm512_set1_epi32(kTaken), kv));
  }
  if (bad) return false;
  if (sig) group_limit(keys, s, p.bias, E, p.n_group, p.topk_group);
  for (int j = 0; j < p.k; j++) ids[j] = take_max16(keys, Ep);
  float sum_all = 0;
  if (p.scoring == MOE_SOFTMAX_TOPK && !p.norm) {
    const float m = l[ids[0]];
    if (m != -INFINITY) {
      __m512 acc = _mm512_setzero_ps();
      const __m512 mv = set1(m);
      for (int64_t i = 0; i < E; i += 16) {
        const __mmask16 tm = tail_mask(E - i);
        acc = _mm512_mask_add_ps(acc, tm, acc, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tm, l + i), mv)));
      }
      sum_all = _mm512_reduce_add_ps(acc);
    }
  }
  finish_weights(w, ids, l, s, p, sum_all);
  return true;
}

static void swiglu(float* h, const float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
    const __m512 d = _mm512_add_ps(set1(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), gv)));
    _mm512_mask_storeu_ps(h + i, m, _mm512_mul_ps(_mm512_div_ps(gv, d), _mm512_maskz_loadu_ps(m, u + i)));
  }
}

static void axpy(float* out, const float* y, float a, int64_t n) {
  const __m512 av = set1(a);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, out + i)));
  }
}

void fill_moe(MoeTable& t) {
  FL_IMPL(t, route_row, avx512);
  FL_IMPL(t, swiglu, avx512);
  FL_IMPL(t, axpy, avx512);
}

}  // namespace avx512
}  // namespace fuselm
