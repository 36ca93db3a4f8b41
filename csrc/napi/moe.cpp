// N-API for family `moe`: unwrap, check extents, call the op.
#include "fuselm/ops.h"
#include "napi/args.h"
#include "napi/dtype_arg.h"

#include <cmath>
#include <memory>
#include <vector>

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
  return a.run([=] { return moe_route(ids.as<int32_t>(), w.as<float>(), logits.as<float>(), T, E, p); });
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

// One projection's weights for all E experts: either one stacked buffer [E, N, K]
// with one dtype id, or an Array of E buffers with an Array of E dtype ids.
static void expert_matrices(const Napi::CallbackInfo& info, const Args& a, size_t ib, size_t it, const char* name, int64_t E, int64_t N, int64_t K,
                            std::vector<MoeMatrix>& out) {
  out.assign((size_t)E, MoeMatrix{});
  if (info[ib].IsArray()) {
    Napi::Array bufs = info[ib].As<Napi::Array>();
    if (!info[it].IsArray()) a.type_error(std::string(name) + "Types", "an Array of dtype ids", describe(info[it]));
    Napi::Array types = info[it].As<Napi::Array>();
    if (bufs.Length() != (uint32_t)E)
      a.range_error(name, "an Array of E=" + std::to_string(E) + " buffers", std::to_string(bufs.Length()) + " entries");
    if (types.Length() != (uint32_t)E)
      a.range_error(std::string(name) + "Types", "an Array of E=" + std::to_string(E) + " dtype ids",
                    std::to_string(types.Length()) + " entries");
    for (uint32_t e = 0; e < (uint32_t)E; e++) {
      const std::string en = std::string(name) + "[" + std::to_string(e) + "]";
      const DType td = dtype_of(a, types.Get(e), en + ".dtype");
      Napi::Value bv = bufs.Get(e);
      if (!bv.IsTypedArray()) a.type_error(en, "a TypedArray", describe(bv));
      Napi::TypedArray ta = bv.As<Napi::TypedArray>();
      Napi::ArrayBuffer ab = ta.ArrayBuffer();
      if (ab.IsDetached()) a.type_error(en, "a TypedArray", "a detached buffer");
      a.keep_value(bv);
      MoeMatrix& m = out[e];
      m.type = td;
      m.bytes = ta.ByteLength();
      m.data = m.bytes ? static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset() : nullptr;
      Status st = check_weight(m.type, N, K, m.bytes);
      if (!st.ok()) { if (!st.arg.empty()) st.arg = en; throw_if(a.env(), st, a.fn()); }
    }
    return;
  }
  const DType t = dtype_of(a, a.at(it), std::string(name) + ".dtype");
  Buf b = a.buffer(ib, name, 0, 1);
  Status st = check_weight(t, E * N, K, b.bytes);
  if (!st.ok()) { if (!st.arg.empty()) st.arg = name; throw_if(a.env(), st, a.fn()); }
  const size_t eb = (size_t)N * row_bytes(t, K);
  for (int64_t e = 0; e < E; e++) out[e] = MoeMatrix{b.data + e * eb, t, eb};
}

static MoeMatrix one_matrix(const Args& a, size_t ib, size_t it, const char* name, int64_t N, int64_t K) {
  const DType t = dtype_of(a, a.at(it), std::string(name) + ".dtype");
  Buf b = a.buffer(ib, name, 0, 1);
  MoeMatrix m{b.data, t, b.bytes};
  Status st = check_weight(m.type, N, K, m.bytes);
  if (!st.ok()) { if (!st.arg.empty()) st.arg = name; throw_if(a.env(), st, a.fn()); }
  return m;
}

// moeFfn(out, x, ids, weights, T, D, k, E, FF,
//        gate, gateTypes, up, upTypes, down, downTypes,          (stacked buffer + id, or Arrays)
//        FFs, shGate, shGateType, shUp, shUpType, shDown, shDownType, shGateInp | null,
//        skipThreshold, accumulate, stats | null) -> {pairs, skipped, experts, bytes}
static Napi::Value MoeFfn(const Napi::CallbackInfo& info) {
  Args a(info, "moeFfn");
  a.count(26);
  const int64_t T = a.integer(4, "T", 0, INT32_MAX);
  const int64_t D = a.integer(5, "D", 1, INT32_MAX);
  const int64_t k = a.integer(6, "k", 1, kMoeMaxK);
  const int64_t E = a.integer(7, "E", 1, 1 << 16);
  const int64_t FF = a.integer(8, "FF", 1, INT32_MAX);
  const int64_t FFs = a.integer(15, "FFs", 0, INT32_MAX);
  Buf out = a.buffer(0, "out", mul_bytes({T, D, 4}), 4);
  Buf x = a.buffer(1, "x", mul_bytes({T, D, 4}), 4);
  Buf ids = a.buffer(2, "ids", mul_bytes({T, k, 4}), 4);
  Buf w = a.buffer(3, "weights", mul_bytes({T, k, 4}), 4);
  thread_local std::vector<MoeMatrix> gate, up, down;  // sized once per E, no allocation per call
  expert_matrices(info, a, 9, 10, "gate", E, FF, D, gate);
  expert_matrices(info, a, 11, 12, "up", E, FF, D, up);
  expert_matrices(info, a, 13, 14, "down", E, D, FF, down);
  MoeFfnWeights W;
  W.E = E; W.D = D; W.FF = FF;
  W.gate = gate.data(); W.up = up.data(); W.down = down.data();
  W.FFs = FFs;
  if (FFs > 0) {
    W.sh_gate = one_matrix(a, 16, 17, "shared.gate", FFs, D);
    W.sh_up = one_matrix(a, 18, 19, "shared.up", FFs, D);
    W.sh_down = one_matrix(a, 20, 21, "shared.down", D, FFs);
    W.sh_gate_inp = a.opt_buffer(22, "shared.gateInp", mul_bytes({D, 4}), 4).as<float>();
  }
  MoeFfnOptions opt;
  opt.skip_threshold = (float)a.number(23, "skipThreshold");
  opt.accumulate = a.boolean(24, "accumulate");
  Buf stats = a.opt_buffer(25, "stats", mul_bytes({moe_stats_len(E), 8}), 8);
  auto rep = std::make_shared<MoeFfnReport>();
  auto report = [rep](Napi::Env env) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("pairs", (double)rep->pairs);
    r.Set("skipped", (double)rep->skipped);
    r.Set("experts", (double)rep->experts);
    r.Set("bytes", rep->bytes);
    return r;
  };
  if (!a.async() && !a.recording()) {
    return a.run([&] { return moe_ffn(out.as<float>(), x.as<float>(), T, ids.as<int32_t>(), w.as<float>(), k, W, opt, stats.as<double>(), rep.get()); },
                 {}, report);
  }
  // the async (or recorded) op owns copies of the per-expert matrix tables (the thread_local ones are reused by the next call)
  std::vector<MoeMatrix> g(gate.begin(), gate.begin() + E), u(up.begin(), up.begin() + E), d(down.begin(), down.begin() + E);
  return a.run([=]() mutable {
    W.gate = g.data(); W.up = u.data(); W.down = d.data();
    return moe_ffn(out.as<float>(), x.as<float>(), T, ids.as<int32_t>(), w.as<float>(), k, W, opt, stats.as<double>(), rep.get());
  }, {}, report);
}

FL_NAPI_REGISTER(init_moe) {
  export_fn(env, exports, "moeFfn", MoeFfn, true);
  export_fn(env, exports, "moeRoute", MoeRoute, true);
  exports.Set("moePermute", Napi::Function::New(env, MoePermute, "moePermute"));
}

}  // namespace napi
}  // namespace fuselm
