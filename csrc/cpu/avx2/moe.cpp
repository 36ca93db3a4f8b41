// AVX2+FMA moe kernels: vectorised keys, sigmoid/exp, group limit and top-k
// argmax; the final weights are the shared scalar helper.
#include <immintrin.h>
#include <cmath>
#include <cstdint>

#include "fuselm/ops/moe.h"
#include "cpu/moe_scalar.h"
#include "cpu/avx2/vmath.h"

namespace fuselm {
namespace avx2 {

using namespace moe_scalar;

static inline __m256 set1(float v) { return _mm256_set1_ps(v); }

static inline __m256i key8(__m256 v) {
  const __m256i i = _mm256_castps_si256(_mm256_add_ps(v, _mm256_setzero_ps()));
  return _mm256_xor_si256(i, _mm256_and_si256(_mm256_srai_epi32(i, 31), _mm256_set1_epi32(0x7fffffff)));
}

// moe_scalar::group_limit on 8 lanes (scalar tails), bit-identical: per group the
// largest sel a and the second largest b counting repeats (b = a when a occurs
// twice, else the largest sel below a), key of a + b; the topk_group best groups
// are kept and the others' experts marked taken.
static inline void group_limit8(int32_t* keys, const float* s, const float* bias, int64_t E, int n_group,
                                int topk_group) {
  if (n_group <= 1 || topk_group >= n_group) return;
  const int64_t gs = E / n_group;
  int32_t gkeys[kMoeMaxExperts];
  auto sel8 = [&](int64_t e) {
    const __m256 v = _mm256_loadu_ps(s + e);
    return _mm256_add_ps(v, bias ? _mm256_loadu_ps(bias + e) : _mm256_setzero_ps());
  };
  auto sel1 = [&](int64_t e) { return s[e] + (bias ? bias[e] : 0.0f); };
  for (int g = 0; g < n_group; g++) {
    const int64_t e0 = g * gs, e1 = e0 + gs;
    __m256 mx = set1(-INFINITY);
    int64_t e = e0;
    for (; e + 8 <= e1; e += 8) mx = _mm256_max_ps(mx, sel8(e));
    float a = hmax(mx);
    for (; e < e1; e++) a = sel1(e) > a ? sel1(e) : a;
    if (gs == 1) { gkeys[g] = key_of(a); continue; }
    const __m256 av = set1(a);
    int cnt = 0;
    __m256 below = set1(-INFINITY);
    for (e = e0; e + 8 <= e1; e += 8) {
      const __m256 v = sel8(e);
      cnt += __builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, av, _CMP_EQ_OQ)));
      below = _mm256_max_ps(below, _mm256_blendv_ps(set1(-INFINITY), v, _mm256_cmp_ps(v, av, _CMP_LT_OQ)));
    }
    float b = hmax(below);
    for (; e < e1; e++) {
      const float v = sel1(e);
      if (v == a) cnt++;
      else if (v < a && v > b) b = v;
    }
    gkeys[g] = key_of(a + (cnt >= 2 ? a : b));
  }
  bool keep[kMoeMaxExperts] = {false};
  for (int i = 0; i < topk_group; i++) keep[take_max(gkeys, n_group)] = true;
  for (int g = 0; g < n_group; g++)
    if (!keep[g])
      for (int64_t e = g * gs; e < (g + 1) * gs; e++) keys[e] = kTaken;
}

// keys padded with kTaken to a multiple of 8 (Ep); lowest index of the max, marked taken
static inline int32_t take_max8(int32_t* keys, int64_t Ep) {
  __m256i m = _mm256_set1_epi32(kTaken);
  for (int64_t e = 0; e < Ep; e += 8) m = _mm256_max_epi32(m, _mm256_loadu_si256((const __m256i*)(keys + e)));
  __m128i h = _mm_max_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
  h = _mm_max_epi32(h, _mm_shuffle_epi32(h, 0x4e));
  h = _mm_max_epi32(h, _mm_shuffle_epi32(h, 0xb1));
  const __m256i best = _mm256_broadcastd_epi32(h);
  for (int64_t e = 0; e < Ep; e += 8) {
    const __m256i eq = _mm256_cmpeq_epi32(_mm256_loadu_si256((const __m256i*)(keys + e)), best);
    const int mask = _mm256_movemask_ps(_mm256_castsi256_ps(eq));
    if (mask) {
      const int32_t id = (int32_t)(e + __builtin_ctz((unsigned)mask));
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
  __m256 badv = _mm256_setzero_ps();
  int64_t e = 0;
  for (; e + 8 <= E; e += 8) {
    const __m256 v = _mm256_loadu_ps(l + e);
    badv = _mm256_or_ps(badv, _mm256_or_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(v, set1(INFINITY), _CMP_EQ_OQ)));
    if (sig) {
      const __m256 sv = _mm256_div_ps(set1(1.0f), _mm256_add_ps(set1(1.0f), vexp(_mm256_sub_ps(_mm256_setzero_ps(), v))));
      _mm256_storeu_ps(s + e, sv);
      const __m256 sel = p.bias ? _mm256_add_ps(sv, _mm256_loadu_ps(p.bias + e)) : _mm256_add_ps(sv, _mm256_setzero_ps());
      _mm256_storeu_si256((__m256i*)(keys + e), key8(sel));
    } else {
      _mm256_storeu_si256((__m256i*)(keys + e), key8(v));
    }
  }
  if (_mm256_movemask_ps(badv)) return false;
  for (; e < E; e++) {
    if (bad_logit(l[e])) return false;
    if (sig) {
      s[e] = sigmoid(l[e]);
      keys[e] = key_of(s[e] + (p.bias ? p.bias[e] : 0.0f));
    } else {
      keys[e] = key_of(l[e]);
    }
  }
  for (; e < Ep; e++) keys[e] = kTaken;
  if (sig) group_limit8(keys, s, p.bias, E, p.n_group, p.topk_group);
  for (int j = 0; j < p.k; j++) ids[j] = take_max8(keys, Ep);
  float sum_all = 0;
  if (p.scoring == MOE_SOFTMAX_TOPK && !p.norm) {
    const float m = l[ids[0]];
    if (m != -INFINITY) {
      __m256 acc = _mm256_setzero_ps();
      const __m256 mv = set1(m);
      int64_t i = 0;
      for (; i + 8 <= E; i += 8) acc = _mm256_add_ps(acc, vexp(_mm256_sub_ps(_mm256_loadu_ps(l + i), mv)));
      sum_all = hsum(acc);
      for (; i < E; i++) sum_all += exp_poly(l[i] - m);
    }
  }
  finish_weights(w, ids, l, s, p, sum_all);
  return true;
}

static void swiglu(float* h, const float* g, const float* u, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 gv = _mm256_loadu_ps(g + i);
    const __m256 d = _mm256_add_ps(set1(1.0f), vexp(_mm256_sub_ps(_mm256_setzero_ps(), gv)));
    _mm256_storeu_ps(h + i, _mm256_mul_ps(_mm256_div_ps(gv, d), _mm256_loadu_ps(u + i)));
  }
  for (; i < n; i++) h[i] = silu(g[i]) * u[i];
}

static void axpy(float* out, const float* y, float a, int64_t n) {
  const __m256 av = set1(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(y + i), _mm256_loadu_ps(out + i)));
  for (; i < n; i++) out[i] = std::fmaf(a, y[i], out[i]);
}

void fill_moe(MoeTable& t) {
  FL_IMPL(t, route_row, avx2);
  FL_IMPL(t, swiglu, avx2);
  FL_IMPL(t, axpy, avx2);
}

}  // namespace avx2
}  // namespace fuselm
