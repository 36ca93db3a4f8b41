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

}  // namespace scalar
}  // namespace fuselm
