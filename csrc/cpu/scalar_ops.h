// Scalar helpers for the elementwise, softmax, rope and embed families: the ref
// kernels are built from them and the SIMD kernels call them for their tails.
// Computed in double and rounded once, so the ref path is within 1 ulp of exact.
// static inline: each ISA's translation unit gets its own copy (see STYLE.md).
#pragma once
#include <cmath>
#include <cstdint>
#include "fuselm/blocks.h"
#include "fuselm/fp16.h"

namespace fuselm {
namespace scalar {

// element i of an f32/f16/bf16 array
static inline float load_elt(const void* p, DType d, int64_t i) {
  if (d == DType::F32) return ((const float*)p)[i];
  if (d == DType::F16) return fp16_to_fp32(((const uint16_t*)p)[i]);
  return bf16_to_fp32(((const uint16_t*)p)[i]);
}

static inline double silu_d(float x) {
  if (x == -INFINITY) return -0.0;
  return (double)x / (1.0 + std::exp(-(double)x));
}
static inline float silu(float x) { return (float)silu_d(x); }

// ggml's GELU constants: sqrt(2/pi) and the cubic coefficient of the tanh approximation
constexpr double kGeluSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluCoefA = 0.044715;

static inline float gelu(float x) {
  if (x == -INFINITY) return -0.0f;
  // 0.5 x (1 + tanh(u)) == x / (1 + exp(-2u)): the second form has no cancellation for x << 0
  const double d = x;
  return (float)(d / (1.0 + std::exp(-2.0 * kGeluSqrt2OverPi * d * (1.0 + kGeluCoefA * d * d))));
}

static inline float sigmoid(float x) { return (float)(1.0 / (1.0 + std::exp(-(double)x))); }
static inline void sigmoid(float* out, const void* x, DType d, int64_t i0, int64_t n) {
  for (int64_t i = i0; i < n; i++) out[i] = sigmoid(load_elt(x, d, i));
}

static inline void add(float* out, const void* a, DType ad, const void* b, DType bd, int64_t i0, int64_t n) {
  for (int64_t i = i0; i < n; i++) out[i] = load_elt(a, ad, i) + load_elt(b, bd, i);
}
static inline void mul(float* out, const void* a, DType ad, const void* b, DType bd, int64_t i0, int64_t n) {
  for (int64_t i = i0; i < n; i++) out[i] = load_elt(a, ad, i) * load_elt(b, bd, i);
}
static inline void swiglu(float* out, const void* a, DType ad, const void* b, DType bd, int64_t i0, int64_t n) {
  for (int64_t i = i0; i < n; i++) out[i] = (float)(silu_d(load_elt(a, ad, i)) * load_elt(b, bd, i));
}
static inline void silu(float* out, const void* x, DType d, int64_t i0, int64_t n) {
  for (int64_t i = i0; i < n; i++) out[i] = silu(load_elt(x, d, i));
}
static inline void gelu(float* out, const void* x, DType d, int64_t i0, int64_t n) {
  for (int64_t i = i0; i < n; i++) out[i] = gelu(load_elt(x, d, i));
}

// ---- softmax ----------------------------------------------------------------
// max over x[b, e) (NaN entries are skipped here; they reach the sum through exp and poison it)
static inline float max_of(const float* x, int64_t b, int64_t e, float m) {
  for (int64_t i = b; i < e; i++) m = x[i] > m ? x[i] : m;
  return m;
}

// out[i] = exp(scale x[i] - ms) for i in [b, e), returns their sum (float exp: the SIMD tails)
static inline double softmax_exp(float* out, const float* x, int64_t b, int64_t e, float scale, float ms) {
  double s = 0;
  for (int64_t i = b; i < e; i++) {
    out[i] = std::exp(std::fma(scale, x[i], -ms));
    s += out[i];
  }
  return s;
}

// a row whose maximum is -inf: all zeros (fully masked), or all NaN when an entry is NaN
static inline void softmax_masked_row(float* out, const float* x, int64_t n) {
  bool nan = false;
  for (int64_t i = 0; i < n; i++) nan = nan || x[i] != x[i];
  for (int64_t i = 0; i < n; i++) out[i] = nan ? NAN : 0.0f;
}

// the reference row: double throughout
static inline void softmax_row(float* out, const float* x, int64_t dim, float scale) {
  const float m = max_of(x, 0, dim, -INFINITY);
  if (m == -INFINITY) { softmax_masked_row(out, x, dim); return; }
  const double ms = (double)scale * m;
  double s = 0;
  for (int64_t i = 0; i < dim; i++) s += std::exp((double)scale * x[i] - ms);
  const double inv = 1.0 / s;
  for (int64_t i = 0; i < dim; i++) out[i] = (float)(std::exp((double)scale * x[i] - ms) * inv);
}

// ---- rope -------------------------------------------------------------------
// rotates pairs [p0, p1) of one head (see RopeTable for the cs layout); head pointers already offset.
// Reads both members of a pair before writing, so out may be x.
static inline void rope_norm_pairs(float* out, const float* x, const float* c, const float* s, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; p++) {
    const double x0 = x[2 * p], x1 = x[2 * p + 1];
    out[2 * p] = (float)(x0 * c[2 * p] + x1 * s[2 * p]);
    out[2 * p + 1] = (float)(x1 * c[2 * p + 1] + x0 * s[2 * p + 1]);
  }
}
static inline void rope_neox_pairs(float* out, const float* x, const float* c, const float* s, int64_t half, int64_t p0,
                                   int64_t p1) {
  for (int64_t i = p0; i < p1; i++) {
    const double x0 = x[i], x1 = x[i + half];
    out[i] = (float)(x0 * c[i] - x1 * s[i]);
    out[i + half] = (float)(x0 * s[i] + x1 * c[i]);
  }
}
static inline void copy_tail(float* out, const float* x, int64_t b, int64_t e) {
  if (out != x)
    for (int64_t i = b; i < e; i++) out[i] = x[i];
}

// ---- embed ------------------------------------------------------------------
static inline void decode_f16(float* dst, const uint16_t* src, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; i++) dst[i] = fp16_to_fp32(src[i]);
}
static inline void decode_bf16(float* dst, const uint16_t* src, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; i++) dst[i] = bf16_to_fp32(src[i]);
}
// index of the first NaN in x[0, n), or -1
static inline int64_t first_nan(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (x[i] != x[i]) return i;
  return -1;
}
// argmax over x[b, e) continuing from (best, m): strict > keeps the lowest index among ties
static inline int64_t argmax_from(const float* x, int64_t b, int64_t e, int64_t best, float* m) {
  for (int64_t i = b; i < e; i++)
    if (x[i] > *m) { *m = x[i]; best = i; }
  return best;
}

}  // namespace scalar
}  // namespace fuselm
