// Scalar helpers shared by the ref kernels and the tails of the SIMD kernels.
// static inline: each ISA's translation unit gets its own copy (see STYLE.md).
#pragma once
#include <cmath>
#include <cstdint>

namespace fuselm {
namespace scalar {

// sum of squares over [b, e), accumulated in double so the ref path is exact to float rounding
static inline double sum_sq(const float* x, int64_t b, int64_t e) {
  double s = 0;
  for (int64_t i = b; i < e; i++) s += (double)x[i] * x[i];
  return s;
}

// writes out[b, e) given the whole row's sum of squares
static inline void rmsnorm_row(float* out, const float* x, const float* w, int64_t b, int64_t e, double ss,
                               int64_t dim, float eps) {
  const float scale = (float)(1.0 / std::sqrt(ss / (double)dim + (double)eps));
  for (int64_t i = b; i < e; i++) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

}  // namespace scalar
}  // namespace fuselm
