// N-API for family `norm`: unwrap, check extents, call the op.
#include "fuselm/ops.h"
#include "napi/args.h"

namespace fuselm {
namespace napi {

// rmsnorm(out, x, w | null, rows, dim, eps)
static Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  Args a(info, "rmsnorm");
  a.count(6);
  int64_t rows = a.integer(3, "rows", 0, INT32_MAX);
  int64_t dim = a.integer(4, "dim", 1, INT32_MAX);
  float eps = (float)a.number(5, "eps");
  Buf out = a.buffer(0, "out", mul_bytes({rows, dim, 4}), 4);
  Buf x = a.buffer(1, "x", mul_bytes({rows, dim, 4}), 4);
  Buf w = a.opt_buffer(2, "w", mul_bytes({dim, 4}), 4);
  return a.run([=] { return rmsnorm_f32(out.as<float>(), x.as<float>(), w.as<float>(), rows, dim, eps); });
}

// softmax(out, x, rows, dim, scale)
static Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Args a(info, "softmax");
  a.count(5);
  int64_t rows = a.integer(2, "rows", 0, INT32_MAX);
  int64_t dim = a.integer(3, "dim", 1, INT32_MAX);
  float scale = (float)a.number(4, "scale");
  Buf out = a.buffer(0, "out", mul_bytes({rows, dim, 4}), 4);
  Buf x = a.buffer(1, "x", mul_bytes({rows, dim, 4}), 4);
  throw_if(a.env(), softmax_f32(out.as<float>(), x.as<float>(), rows, dim, scale), a.fn());
  return a.env().Undefined();
}

FL_NAPI_REGISTER(init_norm) {
  export_fn(env, exports, "rmsnorm", RmsNorm, true);
  exports.Set("softmax", Napi::Function::New(env, Softmax, "softmax"));
}

}  // namespace napi
}  // namespace fuselm
