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

// exp range: below kExpLo -> 0 (-inf included), above kExpHi -> +inf
static const float kExpLo = -87.33654f;
static const float kExpHi = 88.37626f;
static const float kLog2e = 1.44269504088896341f;
static const float kMagic = 12582912.0f;  // 1.5 * 2^23: fma(x, log2e, magic) rounds x*log2e to an integer
static const float kLn2Hi = -0.693359375f;
static const float kLn2Lo = 2.12194440e-4f;
static const float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                   kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

// exp(x) within ~2 ulp (Cephes' expf polynomial with fma range reduction).
static inline float exp_poly(float x) {
  if (x < kExpLo) return 0.0f;
  if (x > kExpHi) return INFINITY;
  const float t = std::fmaf(x, kLog2e, kMagic);
  const float n = t - kMagic;
  float r = std::fmaf(n, kLn2Hi, x);
  r = std::fmaf(n, kLn2Lo, r);
  float p = kP0;
  p = std::fmaf(p, r, kP1);
  p = std::fmaf(p, r, kP2);
  p = std::fmaf(p, r, kP3);
  p = std::fmaf(p, r, kP4);
  p = std::fmaf(p, r, kP5);
  const float r2 = r * r;
  p = std::fmaf(p, r2, r);
  p = p + 1.0f;
  const int32_t ni = (int32_t)n;
  uint32_t bits = (uint32_t)(ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
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
