// Scalar body of the mask kernel: the ref path, and the tail of the SIMD paths.
// static inline: each ISA's translation unit gets its own copy (see STYLE.md).
#pragma once
#include <cmath>
#include <cstdint>

namespace fuselm {
namespace scalar {

static inline void mask_logits(float* out, const float* x, const uint32_t* mask, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; i++) out[i] = (mask[i >> 5] >> (i & 31)) & 1u ? x[i] : -INFINITY;
}

}  // namespace scalar
}  // namespace fuselm
