// AVX2+FMA: 8 lanes (4 pairs in NORM layout) a step, the scalar helper for the tail;
// the kernel itself is written once for both x86 widths in csrc/cpu/rope_x86.h.
#include "cpu/avx2/vec.h"
#include "cpu/rope_x86.h"

namespace fuselm {
namespace avx2 {

static void rope_token(float* out, const float* x, const float* cs, int64_t heads, int64_t head_dim, int64_t n_dims,
                       int mode) {
  x86::rope_token<V8f>(out, x, cs, heads, head_dim, n_dims, mode);
}

void fill_rope(RopeTable& t) { FL_IMPL(t, rope_token, avx2); }

}  // namespace avx2
}  // namespace fuselm
