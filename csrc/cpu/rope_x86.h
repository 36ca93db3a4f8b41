// Family `rope`, the x86 kernel written once over a vector-traits type V (csrc/cpu/avx2/vec.h V8f,
// csrc/cpu/avx512/vec.h V16f): W lanes a step (W/2 pairs in NORM layout), then the tail: one masked
// step (V::kMaskedTail) or the scalar helper the ref path uses. Static, so each ISA's translation
// unit that instantiates it gets its own copy compiled with its flags.
#pragma once
#include <cstdint>
#include "fuselm/ops/rope.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace x86 {

template <class V>
static void rope_token(float* out, const float* x, const float* cs, int64_t heads, int64_t head_dim, int64_t n_dims,
                       int mode) {
  using F = typename V::F;
  constexpr int W = V::W;
  const float* c = cs;
  const float* s = cs + n_dims;
  const int64_t half = n_dims / 2;
  for (int64_t h = 0; h < heads; h++) {
    float* o = out + h * head_dim;
    const float* xi = x + h * head_dim;
    if (mode == ROPE_NEOX) {
      int64_t i = 0;
      for (; i + W <= half; i += W) {
        const F x0 = V::load(xi + i), x1 = V::load(xi + i + half);
        const F vc = V::load(c + i), vs = V::load(s + i);
        V::store(o + i, V::fmsub(x0, vc, V::mul(x1, vs)));
        V::store(o + i + half, V::fmadd(x0, vs, V::mul(x1, vc)));
      }
      if constexpr (V::kMaskedTail) {
        if (i < half) {
          const auto m = V::tail(half - i);
          const F x0 = V::load(m, xi + i), x1 = V::load(m, xi + i + half);
          const F vc = V::load(m, c + i), vs = V::load(m, s + i);
          V::store(o + i, m, V::fmsub(x0, vc, V::mul(x1, vs)));
          V::store(o + i + half, m, V::fmadd(x0, vs, V::mul(x1, vc)));
        }
      } else {
        scalar::rope_neox_pairs(o, xi, c, s, half, i, half);
      }
    } else {
      // out[j] = x[j] c[j] + x[j^1] s[j]: the pair swap is a lane permute
      int64_t j = 0;
      for (; j + W <= n_dims; j += W) {
        const F v = V::load(xi + j);
        V::store(o + j, V::fmadd(v, V::load(c + j), V::mul(V::swap_pairs(v), V::load(s + j))));
      }
      if constexpr (V::kMaskedTail) {
        if (j < n_dims) {
          const auto m = V::tail(n_dims - j);  // n_dims is even: whole pairs
          const F v = V::load(m, xi + j);
          V::store(o + j, m, V::fmadd(v, V::load(m, c + j), V::mul(V::swap_pairs(v), V::load(m, s + j))));
        }
      } else {
        scalar::rope_norm_pairs(o, xi, c, s, j / 2, half);
      }
    }
    scalar::copy_tail(o, xi, n_dims, head_dim);
  }
}

}  // namespace x86
}  // namespace fuselm
