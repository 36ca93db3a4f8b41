// N-API for family `moe`: unwrap, check extents, call the op.
#include "fuselm/ops.h"
#include "napi/args.h"

namespace fuselm {
namespace napi {

// moeRoute(ids, weights, logits, T, E, scoring, k, norm, nGroup, topkGroup, scale, bias | null)
static Napi::Value MoeRoute(const Napi::CallbackInfo& info) {
  Args a(info, "moeRoute");
  a.count(12);
  const int64_t T = a.integer(3, "T", 0, INT32_MAX);
  const int64_t E = a.integer(4, "E", 1, kMoeMaxExperts);
  MoeRouteParams p;
  p.scoring = (int32_t)a.integer(5, "scoring", 0, 2);
  p.k = (int32_t)a.integer(6, "k", 1, kMoeMaxK);
  p.norm = a.boolean(7, "norm");
  p.n_group = (int32_t)a.integer(8, "nGroup", 1, kMoeMaxExperts);
  p.topk_group = (int32_t)a.integer(9, "topkGroup", 1, kMoeMaxExperts);
  p.scale = (float)a.number(10, "scale");
  Buf ids = a.buffer(0, "ids", mul_bytes({T, p.k, 4}), 4);
  Buf w = a.buffer(1, "weights", mul_bytes({T, p.k, 4}), 4);
  Buf logits = a.buffer(2, "logits", mul_bytes({T, E, 4}), 4);
  Buf bias = a.opt_buffer(11, "bias", mul_bytes({E, 4}), 4);
  p.bias = bias.as<float>();
  throw_if(a.env(), moe_route(ids.as<int32_t>(), w.as<float>(), logits.as<float>(), T, E, p), a.fn());
  return a.env().Undefined();
}

// moePermute(counts, offsets, pairs, inverse, ids, T, k, E, pad) -> total
static Napi::Value MoePermute(const Napi::CallbackInfo& info) {
  Args a(info, "moePermute");
  a.count(9);
  const int64_t T = a.integer(5, "T", 0, INT32_MAX);
  const int64_t k = a.integer(6, "k", 1, kMoeMaxK);
  const int64_t E = a.integer(7, "E", 1, 1 << 20);
  const int64_t pad = a.integer(8, "pad", 1, 4096);
  Buf counts = a.buffer(0, "counts", mul_bytes({E, 4}), 4);
  Buf offsets = a.buffer(1, "offsets", mul_bytes({E + 1, 4}), 4);
  Buf pairs = a.buffer(2, "pairs", mul_bytes({moe_permute_capacity(T, k, E, pad), 4}), 4);
  Buf inverse = a.buffer(3, "inverse", mul_bytes({T, k, 4}), 4);
  Buf ids = a.buffer(4, "ids", mul_bytes({T, k, 4}), 4);
  int64_t total = 0;
  throw_if(a.env(),
           moe_permute(counts.as<int32_t>(), offsets.as<int32_t>(), pairs.as<int32_t>(), inverse.as<int32_t>(), &total,
                       ids.as<int32_t>(), T, k, E, pad),
           a.fn());
  return Napi::Number::New(a.env(), (double)total);
}

FL_NAPI_REGISTER(init_moe) {
  exports.Set("moeRoute", Napi::Function::New(env, MoeRoute, "moeRoute"));
  exports.Set("moePermute", Napi::Function::New(env, MoePermute, "moePermute"));
}

}  // namespace napi
}  // namespace fuselm
