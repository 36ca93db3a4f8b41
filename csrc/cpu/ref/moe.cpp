// Scalar reference for the moe family: the ground truth every path is tested against.
#include <cmath>
#include <cstdint>

#include "fuselm/ops/moe.h"
#include "cpu/moe_scalar.h"

namespace fuselm {
namespace ref {

using namespace moe_scalar;

static bool route_row(int32_t* ids, float* w, const float* l, int64_t E, const MoeRouteParams& p, float* scratch) {
  const int64_t Ep = (E + 15) / 16 * 16;
  float* s = scratch;
  int32_t* keys = reinterpret_cast<int32_t*>(scratch + Ep);
  for (int64_t e = 0; e < E; e++)
    if (bad_logit(l[e])) return false;
  if (p.scoring == MOE_SIGMOID_GROUP) {
    for (int64_t e = 0; e < E; e++) {
      s[e] = sigmoid(l[e]);
      keys[e] = key_of(s[e] + (p.bias ? p.bias[e] : 0.0f));
    }
    group_limit(keys, s, p.bias, E, p.n_group, p.topk_group);
  } else {
    for (int64_t e = 0; e < E; e++) keys[e] = key_of(l[e]);
  }
  for (int j = 0; j < p.k; j++) ids[j] = take_max(keys, E);
  float sum_all = 0;
  if (p.scoring == MOE_SOFTMAX_TOPK && !p.norm) {
    const float m = l[ids[0]];
    if (m != -INFINITY)
      for (int64_t e = 0; e < E; e++) sum_all += exp_poly(l[e] - m);
  }
  finish_weights(w, ids, l, s, p, sum_all);
  return true;
}

static void swiglu(float* h, const float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; i++) h[i] = silu(g[i]) * u[i];
}

static void axpy(float* out, const float* y, float a, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = std::fmaf(a, y[i], out[i]);
}

void fill_moe(MoeTable& t) {
  FL_IMPL(t, route_row, ref);
  FL_IMPL(t, swiglu, ref);
  FL_IMPL(t, axpy, ref);
}

}  // namespace ref
}  // namespace fuselm
