// Scalar reference for the norm family: the ground truth every path is tested against.
#include <cmath>
#include "fuselm/ops/norm.h"
#include "cpu/scalar.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace ref {

static void rmsnorm_row(float* out, const float* x, const float* w, int64_t dim, float eps) {
  scalar::rmsnorm_row(out, x, w, 0, dim, scalar::sum_sq(x, 0, dim), dim, eps);
}

static void softmax_row(float* out, const float* x, int64_t dim, float scale) { scalar::softmax_row(out, x, dim, scale); }

void fill_norm(NormTable& t) {
  FL_IMPL(t, rmsnorm_row, ref);
  FL_IMPL(t, softmax_row, ref);
}

}  // namespace ref
}  // namespace fuselm
