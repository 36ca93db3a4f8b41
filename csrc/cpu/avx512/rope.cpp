// AVX-512: 16 lanes a step, one masked step for the tail;
// the kernel itself is written once for both x86 widths in csrc/cpu/rope_x86.h.
#include "cpu/avx512/vec.h"
#include "cpu/rope_x86.h"

namespace fuselm {
namespace avx512 {

static void rope_token(float* out, const float* x, const float* cs, int64_t heads, int64_t head_dim, int64_t n_dims,
                       int mode) {
  x86::rope_token<V16f>(out, x, cs, heads, head_dim, n_dims, mode);
}

void fill_rope(RopeTable& t) { FL_IMPL(t, rope_token, avx512); }

}  // namespace avx512
}  // namespace fuselm
