// The RopeScaling scalars of a rope call, six arguments from index i: freqScale, extFactor, attnFactor,
// betaFast, betaSlow, origCtx (the op checks their ranges; freq_factors is the caller's buffer).
#pragma once
#include "fuselm/ops/rope.h"
#include "napi/args.h"

namespace fuselm {
namespace napi {

static inline RopeScaling rope_scaling_arg(const Args& a, size_t i) {
  RopeScaling sc;
  sc.freq_scale = (float)a.number(i, "freqScale");
  sc.ext_factor = (float)a.number(i + 1, "extFactor");
  sc.attn_factor = (float)a.number(i + 2, "attnFactor");
  sc.beta_fast = (float)a.number(i + 3, "betaFast");
  sc.beta_slow = (float)a.number(i + 4, "betaSlow");
  sc.orig_ctx = a.integer(i + 5, "origCtx", 0, INT32_MAX);
  return sc;
}

}  // namespace napi
}  // namespace fuselm
