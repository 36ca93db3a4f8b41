// Scalar reference for the rope family (products in double, one rounding per output).
#include "fuselm/ops/rope.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace ref {

static void rope_token(float* out, const float* x, const float* cs, int64_t heads, int64_t head_dim, int64_t n_dims,
                       int mode) {
  const float* c = cs;
  const float* s = cs + n_dims;
  for (int64_t h = 0; h < heads; h++) {
    float* o = out + h * head_dim;
    const float* xi = x + h * head_dim;
    if (mode == ROPE_NEOX) scalar::rope_neox_pairs(o, xi, c, s, n_dims / 2, 0, n_dims / 2);
    else scalar::rope_norm_pairs(o, xi, c, s, 0, n_dims / 2);
    scalar::copy_tail(o, xi, n_dims, head_dim);
  }
}

void fill_rope(RopeTable& t) { FL_IMPL(t, rope_token, ref); }

}  // namespace ref
}  // namespace fuselm
