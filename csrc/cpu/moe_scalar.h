// Scalar helpers of the moe family, shared by the ref kernels and the SIMD
// kernels' scalar parts. static inline: each ISA's translation unit gets its
// own copy (see STYLE.md). Every multiply-add is an explicit fmaf so that the
// SIMD versions (same operations, same order) give bit-identical results.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "fuselm/ops/moe.h"

namespace fuselm {
namespace moe_scalar {

// exp(x): the scalar twin of the vector exp of every ISA (csrc/cpu/avx2/vmath.h, csrc/cpu/avx512/vmath.h
// vexp), the same operations in the same order, so a SIMD kernel's scalar tail and the ref kernel agree
// with its vector lanes bit for bit. x = n ln2 + r (n = round-to-even(x log2e), ln2 in two parts), a
// degree-7 Taylor polynomial for e^r, 2^n applied as two factors (overflow to +inf above ln(FLT_MAX),
// gradual underflow below); relative error <= 2e-7 on normal results; NaN propagates; exp(-inf) = 0.
static inline float exp_poly(float x) {
  if (x != x) return x;
  x = x < -110.0f ? -110.0f : (x > 89.0f ? 89.0f : x);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  float r = std::fmaf(-n, 0.693145751953125f, x);
  r = std::fmaf(-n, 1.428606765330187045e-06f, r);
  float p = 1.0f / 5040.0f;
  p = std::fmaf(p, r, 1.0f / 720.0f);
  p = std::fmaf(p, r, 1.0f / 120.0f);
  p = std::fmaf(p, r, 1.0f / 24.0f);
  p = std::fmaf(p, r, 1.0f / 6.0f);
  p = std::fmaf(p, r, 0.5f);
  p = std::fmaf(p, r, 1.0f);
  p = std::fmaf(p, r, 1.0f);
  const int32_t ni = (int32_t)n, n1 = ni >> 1, n2 = ni - n1;
  const uint32_t b1 = (uint32_t)(n1 + 127) << 23, b2 = (uint32_t)(n2 + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, 4);
  std::memcpy(&s2, &b2, 4);
  return p * s1 * s2;
}

static inline float sigmoid(float x) { return 1.0f / (1.0f + exp_poly(-x)); }
static inline float silu(float x) { return x / (1.0f + exp_poly(-x)); }

// A total order on floats as int32 (no NaN): -0 equals +0.
static inline int32_t key_of(float v) {
  v = v + 0.0f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return i ^ ((i >> 31) & 0x7fffffff);
}
static const int32_t kTaken = INT32_MIN;  // below every float's key

static inline bool bad_logit(float v) { return v != v || v == INFINITY; }

// index of the largest key in [0, n), the lowest on ties; marks it taken
static inline int32_t take_max(int32_t* keys, int64_t n) {
  int32_t best = 0;
  for (int64_t e = 1; e < n; e++)
    if (keys[e] > keys[best]) best = (int32_t)e;
  keys[best] = kTaken;
  return best;
}

// DeepSeek-V3 group limit: keeps the topk_group groups whose two largest sel
// (s + bias) sum highest; marks every expert of the other groups taken.
static inline void group_limit(int32_t* keys, const float* s, const float* bias, int64_t E, int n_group,
                               int topk_group) {
  if (n_group <= 1 || topk_group >= n_group) return;
  const int64_t gs = E / n_group;
  int32_t gkeys[kMoeMaxExperts];
  for (int g = 0; g < n_group; g++) {
    float a = -INFINITY, b = -INFINITY;
    for (int64_t e = g * gs; e < (g + 1) * gs; e++) {
      const float v = s[e] + (bias ? bias[e] : 0.0f);
      if (v > a) { b = a; a = v; }
      else if (v > b) b = v;
    }
    gkeys[g] = key_of(gs > 1 ? a + b : a);
  }
  bool keep[kMoeMaxExperts] = {false};
  for (int i = 0; i < topk_group; i++) keep[take_max(gkeys, n_group)] = true;
  for (int g = 0; g < n_group; g++)
    if (!keep[g])
      for (int64_t e = g * gs; e < (g + 1) * gs; e++) keys[e] = kTaken;
}

// The weights from the selected ids. s: the sigmoids (MOE_SIGMOID_GROUP);
// sum_all: sum_e exp(l_e - l_{id_0}) (MOE_SOFTMAX_TOPK without norm).
static inline void finish_weights(float* w, const int32_t* ids, const float* l, const float* s,
                                  const MoeRouteParams& p, float sum_all) {
  const int k = p.k;
  float den = 0;
  if (p.scoring == MOE_SIGMOID_GROUP) {
    for (int j = 0; j < k; j++) w[j] = s[ids[j]];
    if (p.norm) {
      for (int j = 0; j < k; j++) den += w[j];
      for (int j = 0; j < k; j++) w[j] = den > 0 ? w[j] / den : 0.0f;
    }
  } else {
    const float m = l[ids[0]];
    if (m == -INFINITY) {
      for (int j = 0; j < k; j++) w[j] = 0.0f;
      return;
    }
    for (int j = 0; j < k; j++) w[j] = exp_poly(l[ids[j]] - m);
    if (p.scoring == MOE_TOPK_SOFTMAX || p.norm) {
      for (int j = 0; j < k; j++) den += w[j];
    } else {
      den = sum_all;
    }
    for (int j = 0; j < k; j++) w[j] = w[j] / den;  // den >= 1: the selected max contributes exp(0)
  }
  if (p.scale != 1.0f)
    for (int j = 0; j < k; j++) w[j] = w[j] * p.scale;
}

}  // namespace moe_scalar
}  // namespace fuselm
