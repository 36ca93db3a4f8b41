// N-API for the bench: the roofline measurement and a no-op call that costs
// exactly the boundary (argument count + one buffer unwrap), so the bench can
// report the per-call overhead every kernel pays.
#include "fuselm/roofline.h"
#include "napi/args.h"

namespace fuselm {
namespace napi {

// roofline(kind, threads, bufferBytes, reps, targetMs) -> { kind, median, best, unit, threads, reps, isa, instr }
static Napi::Value Roofline(const Napi::CallbackInfo& info) {
  Args a(info, "roofline");
  a.count(5);
  std::string k = a.string(0, "kind");
  RoofKind kind;
  if (!roof_kind_parse(k.c_str(), &kind))
    a.range_error("kind", "one of 'read', 'write', 'copy', 'fma', 'int8', 'bf16'", "'" + k + "'");
  int threads = (int)a.integer(1, "threads", 1, 1024);
  int64_t buffer_bytes = a.integer(2, "bufferBytes", int64_t(1) << 20, int64_t(1) << 36);
  int reps = (int)a.integer(3, "reps", 1, 1000);
  double target_ms = a.number(4, "targetMs");
  if (!(target_ms >= 1 && target_ms <= 10000)) a.range_error("targetMs", "a number in [1, 10000]", describe(info[4]));
  RoofFigure f;
  throw_if(a.env(), roofline_measure(kind, threads, buffer_bytes, reps, target_ms, &f), a.fn());
  Napi::Env env = a.env();
  Napi::Object o = Napi::Object::New(env);
  const bool memory = kind == RoofKind::Read || kind == RoofKind::Write || kind == RoofKind::Copy;
  o.Set("kind", roof_kind_name(kind));
  o.Set("median", f.median);
  o.Set("best", f.best);
  o.Set("unit", memory ? "GB/s" : kind == RoofKind::Int8 ? "GOP/s" : "GFLOP/s");
  o.Set("threads", f.threads);
  o.Set("reps", f.reps);
  o.Set("isa", f.isa);
  o.Set("instr", f.instr);
  return o;
}

// noop(buffer) -> undefined: the cheapest call through Args
static Napi::Value Noop(const Napi::CallbackInfo& info) {
  Args a(info, "noop");
  a.count(1);
  a.buffer(0, "buffer", 0);
  return a.env().Undefined();
}

FL_NAPI_REGISTER(init_bench) {
  exports.Set("roofline", Napi::Function::New(env, Roofline, "roofline"));
  exports.Set("noop", Napi::Function::New(env, Noop, "noop"));
}

}  // namespace napi
}  // namespace fuselm
