// Family `rope`: the YaRN helpers the CPU op (csrc/ops/rope.cpp) and the CUDA op (csrc/cuda/ops.cu) share, static
// inline. Included by those two only (not by the ISA translation units: it uses std::to_string).
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include "fuselm/status.h"
#include "fuselm/ops/rope.h"

namespace fuselm {

static inline bool rope_finite_pos(float v) { return v > 0.0f && std::isfinite(v); }

// The scalars of a RopeScaling (freq_factors' values are checked by the CPU op, which can read them).
static inline Status rope_scaling_check(const RopeScaling& sc) {
  if (!rope_finite_pos(sc.freq_scale))
    return Status::range("freq_scale", "finite number > 0", std::to_string(sc.freq_scale));
  if (!(sc.ext_factor >= 0.0f) || !std::isfinite(sc.ext_factor))
    return Status::range("ext_factor", "finite number >= 0", std::to_string(sc.ext_factor));
  if (!rope_finite_pos(sc.attn_factor))
    return Status::range("attn_factor", "finite number > 0", std::to_string(sc.attn_factor));
  if (sc.ext_factor != 0.0f) {
    if (!rope_finite_pos(sc.beta_fast))
      return Status::range("beta_fast", "finite number > 0", std::to_string(sc.beta_fast));
    if (!rope_finite_pos(sc.beta_slow))
      return Status::range("beta_slow", "finite number > 0", std::to_string(sc.beta_slow));
    if (sc.orig_ctx < 1 || sc.orig_ctx > INT32_MAX)
      return Status::range("orig_ctx", "integer in [1, 2^31-1] when ext_factor != 0", std::to_string(sc.orig_ctx));
  }
  return Status::Ok();
}

// ggml_rope_yarn_corr_dims (ggml.c): the pair range [dims[0], dims[1]] over which YaRN's ramp goes from
// extrapolation (pairs below, fast rotations) to interpolation (pairs above). d(b) = n_dims ln(orig_ctx / (2 pi b))
// / (2 ln base); dims = [max(0, floor(d(beta_fast))), min(n_dims - 1, ceil(d(beta_slow)))]. In double; ggml
// computes it in float: the floors and ceils agree unless d lies within float rounding of an integer.
static inline void rope_yarn_corr_dims(int64_t n_dims, int64_t orig_ctx, float base, float beta_fast, float beta_slow,
                                       double dims[2]) {
  const double pi = 3.14159265358979323846;
  const double lb = 2.0 * std::log((double)base);
  const double lo = std::floor((double)n_dims * std::log((double)orig_ctx / ((double)beta_fast * 2.0 * pi)) / lb);
  const double hi = std::ceil((double)n_dims * std::log((double)orig_ctx / ((double)beta_slow * 2.0 * pi)) / lb);
  dims[0] = lo > 0.0 ? lo : 0.0;
  dims[1] = hi < (double)(n_dims - 1) ? hi : (double)(n_dims - 1);
}

// rope_yarn_ramp (ggml-cpu/ops.cpp) times ext_factor: 1 below dims[0] (extrapolate), 0 above dims[1] (interpolate)
static inline double rope_yarn_ramp_mix(int64_t i, const double dims[2], float ext_factor) {
  const double span = dims[1] - dims[0] > 0.001 ? dims[1] - dims[0] : 0.001;
  double y = ((double)i - dims[0]) / span;
  y = y < 0.0 ? 0.0 : y > 1.0 ? 1.0 : y;
  return (1.0 - y) * (double)ext_factor;
}

}  // namespace fuselm
