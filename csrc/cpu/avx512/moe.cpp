// AVX-512 moe kernels: masked tails, vectorised keys, sigmoid/exp, group limit
// and top-k; the final weights are the shared scalar helper.
#include <immintrin.h>
#include <cmath>
#include <cstdint>

#include "fuselm/ops/moe.h"
#include "cpu/moe_scalar.h"
#include "cpu/avx512/vmath.h"

namespace fuselm {
namespace avx512 {

using namespace moe_scalar;

static inline __m512 set1(float v) { return _mm512_set1_ps(v); }
static inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

static inline __m512i key16(__m512 v) {
  const __m512i i = _mm512_castps_si512(_mm512_add_ps(v, _mm512_setzero_ps()));
  return _mm512_xor_si512(i, _mm512_and_si512(_mm512_srai_epi32(i, 31), _mm512_set1_epi32(0x7fffffff)));
}

// moe_scalar::group_limit on 16 lanes, bit-identical: per group the largest sel a
// and the second largest b counting repeats (b = a when a occurs twice, else the
// largest sel below a), key of a + b; the topk_group best groups are kept (ref's
// take_max on the group keys) and the others' experts marked taken.
static inline void group_limit16(int32_t* keys, const float* s, const float* bias, int64_t E, int n_group,
                                 int topk_group) {
  if (n_group <= 1 || topk_group >= n_group) return;
  const int64_t gs = E / n_group;
  int32_t gkeys[kMoeMaxExperts];
  auto sel = [&](int64_t e, __mmask16 m) {
    const __m512 v = _mm512_maskz_loadu_ps(m, s + e);
    return bias ? _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + e)) : _mm512_add_ps(v, _mm512_setzero_ps());
  };
  for (int g = 0; g < n_group; g++) {
    const int64_t e0 = g * gs;
    __m512 mx = set1(-INFINITY);
    for (int64_t i = 0; i < gs; i += 16) {
      const __mmask16 m = tail_mask(gs - i);
      mx = _mm512_mask_max_ps(mx, m, mx, sel(e0 + i, m));
    }
    const float a = _mm512_reduce_max_ps(mx);
    if (gs == 1) { gkeys[g] = key_of(a); continue; }
    const __m512 av = set1(a);
    int cnt = 0;
    __m512 below = set1(-INFINITY);
    for (int64_t i = 0; i < gs; i += 16) {
      const __mmask16 m = tail_mask(gs - i);
      const __m512 v = sel(e0 + i, m);
      cnt += __builtin_popcount((unsigned)_mm512_mask_cmp_ps_mask(m, v, av, _CMP_EQ_OQ));
      below = _mm512_mask_max_ps(below, _mm512_mask_cmp_ps_mask(m, v, av, _CMP_LT_OQ), below, v);
    }
    const float b = cnt >= 2 ? a : _mm512_reduce_max_ps(below);
    gkeys[g] = key_of(a + b);
  }
  bool keep[kMoeMaxExperts] = {false};
  for (int i = 0; i < topk_group; i++) keep[take_max(gkeys, n_group)] = true;
  const __m512i taken = _mm512_set1_epi32(kTaken);
  for (int g = 0; g < n_group; g++)
    if (!keep[g])
      for (int64_t i = 0; i < gs; i += 16) _mm512_mask_storeu_epi32(keys + g * gs + i, tail_mask(gs - i), taken);
}

// Top-k without marking anything taken: each (key, id) becomes one int64,
// key << 32 | (2^32 - 1 - id), so the larger composite is the larger key and, on
// equal keys, the lower id (ref's take_max order), and no two are equal. Pick j is
// the largest composite below pick j - 1's: loads and masked maxima only (a scalar
// "taken" store followed by vector reloads of the same line defeats store forwarding).
// keys: Ep (a multiple of 16) entries, padded with kTaken; k <= the real keys.
static inline void top_k16(int32_t* ids, int k, const int32_t* keys, int64_t* comp, int64_t Ep) {
  const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  const __m512i low = _mm512_set1_epi64(0xffffffffLL);
  for (int64_t e = 0; e < Ep; e += 8) {
    const __m512i k64 = _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i*)(keys + e)));
    const __m512i id = _mm512_sub_epi64(low, _mm512_add_epi64(_mm512_set1_epi64(e), lane));
    _mm512_storeu_si512(comp + e, _mm512_or_si512(_mm512_slli_epi64(k64, 32), id));
  }
  int64_t prev = INT64_MAX;
  for (int j = 0; j < k; j++) {
    const __m512i pv = _mm512_set1_epi64(prev);
    __m512i m0 = _mm512_set1_epi64(INT64_MIN), m1 = m0;
    for (int64_t e = 0; e < Ep; e += 16) {
      const __m512i c0 = _mm512_loadu_si512(comp + e), c1 = _mm512_loadu_si512(comp + e + 8);
      m0 = _mm512_mask_max_epi64(m0, _mm512_cmplt_epi64_mask(c0, pv), m0, c0);
      m1 = _mm512_mask_max_epi64(m1, _mm512_cmplt_epi64_mask(c1, pv), m1, c1);
    }
    prev = _mm512_reduce_max_epi64(_mm512_max_epi64(m0, m1));
    ids[j] = (int32_t)(0xffffffffLL - (prev & 0xffffffffLL));
  }
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
      const __m512 sv = _mm512_div_ps(set1(1.0f), _mm512_add_ps(set1(1.0f), vexp(_mm512_sub_ps(_mm512_setzero_ps(), v))));
      _mm512_storeu_ps(s + e, sv);
      const __m512 b = p.bias ? _mm512_maskz_loadu_ps(m, p.bias + e) : _mm512_setzero_ps();
      kv = key16(_mm512_add_ps(sv, b));
    } else {
      kv = key16(v);
    }
    _mm512_storeu_si512(keys + e, _mm512_mask_blend_epi32(m, _mm512_set1_epi32(kTaken), kv));
  }
  if (bad) return false;
  if (sig) group_limit16(keys, s, p.bias, E, p.n_group, p.topk_group);
  top_k16(ids, p.k, keys, reinterpret_cast<int64_t*>(scratch + 2 * Ep), Ep);
  float sum_all = 0;
  if (p.scoring == MOE_SOFTMAX_TOPK && !p.norm) {
    const float m = l[ids[0]];
    if (m != -INFINITY) {
      __m512 acc = _mm512_setzero_ps();
      const __m512 mv = set1(m);
      for (int64_t i = 0; i < E; i += 16) {
        const __mmask16 tm = tail_mask(E - i);
        acc = _mm512_mask_add_ps(acc, tm, acc, vexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(tm, l + i), mv)));
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
    const __m512 d = _mm512_add_ps(set1(1.0f), vexp(_mm512_sub_ps(_mm512_setzero_ps(), gv)));
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
