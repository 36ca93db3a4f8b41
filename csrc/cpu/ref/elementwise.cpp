// Scalar reference for the elementwise family: the ground truth every path is tested against.
#include "fuselm/ops/elementwise.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace ref {

static void add(float* out, const void* a, DType ad, const void* b, DType bd, int64_t n) { scalar::add(out, a, ad, b, bd, 0, n); }
static void mul(float* out, const void* a, DType ad, const void* b, DType bd, int64_t n) { scalar::mul(out, a, ad, b, bd, 0, n); }
static void swiglu(float* out, const void* a, DType ad, const void* b, DType bd, int64_t n) {
  scalar::swiglu(out, a, ad, b, bd, 0, n);
}
static void silu(float* out, const void* x, DType d, int64_t n) { scalar::silu(out, x, d, 0, n); }
static void gelu(float* out, const void* x, DType d, int64_t n) { scalar::gelu(out, x, d, 0, n); }
static void sigmoid(float* out, const void* x, DType d, int64_t n) { scalar::sigmoid(out, x, d, 0, n); }

void fill_elementwise(ElementwiseTable& t) {
  FL_IMPL(t, add, ref);
  FL_IMPL(t, mul, ref);
  FL_IMPL(t, swiglu, ref);
  FL_IMPL(t, silu, ref);
  FL_IMPL(t, gelu, ref);
  FL_IMPL(t, sigmoid, ref);
}

}  // namespace ref
}  // namespace fuselm
