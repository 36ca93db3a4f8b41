// The addon's entry: runs every family's registration, and exports the core
// functions (cpu report, threads, ISA, dtype table).
#include <cstdlib>

#include "fuselm/ops.h"
#include "napi/args.h"

namespace fuselm {
namespace napi {

static std::vector<InitFn>& registry() {
  static std::vector<InitFn> v;
  return v;
}
Register::Register(InitFn fn) { registry().push_back(fn); }

static Napi::Value Cpu(const Napi::CallbackInfo& info) {
  Args a(info, "cpu");
  a.count(0);
  Napi::Env env = info.Env();
  const CpuFeatures& f = cpu_features();
  Napi::Object o = Napi::Object::New(env);
  Napi::Object feat = Napi::Object::New(env);
  feat.Set("avx2", f.avx2);
  feat.Set("fma", f.fma);
  feat.Set("f16c", f.f16c);
  feat.Set("avx512f", f.avx512f);
  feat.Set("avx512bw", f.avx512bw);
  feat.Set("avx512vl", f.avx512vl);
  feat.Set("avx512dq", f.avx512dq);
  feat.Set("avx512vnni", f.avx512vnni);
  feat.Set("avx512bf16", f.avx512bf16);
  feat.Set("avx512vbmi", f.avx512vbmi);
  feat.Set("avxvnni", f.avxvnni);
  o.Set("features", feat);
  o.Set("isa", isa_name(active_isa()));
  o.Set("bestIsa", isa_name(isa_supported()));
  o.Set("threads", n_threads());
  o.Set("physicalCores", physical_cores());
  Napi::Object kernels = Napi::Object::New(env);
  report_kernels(
      [](const char* fam, const char* k, const char* isa, void* u) {
        Napi::Object* ks = (Napi::Object*)u;
        ks->Set(std::string(fam) + "." + k, isa);
      },
      &kernels);
  o.Set("kernels", kernels);
  return o;
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Args a(info, "setThreads");
  a.count(1);
  set_threads((int)a.integer(0, "n", 1, 1024));
  return info.Env().Undefined();
}

static Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Args a(info, "setIsa");
  a.count(1);
  std::string s = a.string(0, "isa");
  int want = -1;
  for (int i = 0; i < ISA_COUNT; i++)
    if (s == isa_name(i)) want = i;
  if (want < 0) a.range_error("isa", "one of 'ref', 'avx2', 'avx512'", "'" + s + "'");
  if (!set_isa(want))
    a.range_error("isa", std::string("a level this CPU supports (best: '") + isa_name(isa_supported()) + "')", "'" + s + "'");
  return info.Env().Undefined();
}

static Napi::Value DTypeTable(const Napi::CallbackInfo& info) {
  Args a(info, "dtypeTraits");
  a.count(0);
  Napi::Env env = info.Env();
  Napi::Array arr = Napi::Array::New(env);
  uint32_t i = 0;
  for (const DTypeTraits& t : kDTypeTraits) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", (int)t.id);
    o.Set("name", t.name);
    o.Set("blockElems", t.block_elems);
    o.Set("blockBytes", t.block_bytes);
    o.Set("quantized", t.quantized);
    arr.Set(i++, o);
  }
  return arr;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("cpu", Napi::Function::New(env, Cpu, "cpu"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("dtypeTraits", Napi::Function::New(env, DTypeTable, "dtypeTraits"));
#ifdef FUSELM_NO_CUDA
  exports.Set("cudaBuilt", false);
#else
  exports.Set("cudaBuilt", true);
#endif
  init_async(env, exports);
  for (InitFn fn : registry()) fn(env, exports);
  return exports;
}

}  // namespace napi
}  // namespace fuselm

static Napi::Object InitFuselm(Napi::Env env, Napi::Object exports) { return fuselm::napi::Init(env, exports); }
NODE_API_MODULE(fuselm, InitFuselm)
