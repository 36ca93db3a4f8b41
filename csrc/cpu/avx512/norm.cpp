// AVX-512 norm kernels (masked tails): written once for both x86 widths in csrc/cpu/norm_x86.h.
#include "cpu/avx512/vec.h"
#include "cpu/norm_x86.h"

namespace fuselm {
namespace avx512 {

static void rmsnorm_row(float* out, const float* x, const float* w, int64_t dim, float eps) {
  x86::rmsnorm_row<V16f>(out, x, w, dim, eps);
}
static void softmax_row(float* out, const float* x, int64_t dim, float scale) { x86::softmax_row<V16f>(out, x, dim, scale); }

void fill_norm(NormTable& t) {
  FL_IMPL(t, rmsnorm_row, avx512);
  FL_IMPL(t, softmax_row, avx512);
}

}  // namespace avx512
}  // namespace fuselm
