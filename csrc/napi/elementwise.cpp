// N-API for family `elementwise`: unwrap, check extents, call the op.
#include "fuselm/ops.h"
#include "napi/args.h"
#include "napi/dtype_arg.h"

namespace fuselm {
namespace napi {

static DType elt_dtype(const Args& a, size_t i, const char* name) {
  return dtype_arg(a, i, name, {DType::F32, DType::F16, DType::BF16});
}

// add|mul(out, a, aDtype, b, bDtype, n, nb)
template <Status (*OP)(float*, const void*, DType, const void*, DType, int64_t, int64_t)>
static Napi::Value Binary(const Napi::CallbackInfo& info, const char* name) {
  Args a(info, name);
  a.count(7);
  const DType ad = elt_dtype(a, 2, "aDtype"), bd = elt_dtype(a, 4, "bDtype");
  const int64_t n = a.integer(5, "n", 0, kMaxElems);
  const int64_t nb = a.integer(6, "nb", 0, kMaxElems);
  const int64_t as = elementwise_size(ad), bs = elementwise_size(bd);
  Buf out = a.buffer(0, "out", mul_bytes({n, 4}), 4);
  Buf ab = a.buffer(1, "a", mul_bytes({n, as}), (size_t)as);
  Buf bb = a.buffer(3, "b", mul_bytes({nb, bs}), (size_t)bs);
  return a.run([=] { return OP(out.as<float>(), ab.data, ad, bb.data, bd, n, nb); });
}
static Napi::Value Add(const Napi::CallbackInfo& info) { return Binary<add>(info, "add"); }
static Napi::Value Mul(const Napi::CallbackInfo& info) { return Binary<mul>(info, "mul"); }

// silu|gelu|sigmoid(out, x, xDtype, n)
template <Status (*OP)(float*, const void*, DType, int64_t)>
static Napi::Value Unary(const Napi::CallbackInfo& info, const char* name) {
  Args a(info, name);
  a.count(4);
  const DType d = elt_dtype(a, 2, "xDtype");
  const int64_t n = a.integer(3, "n", 0, kMaxElems);
  Buf out = a.buffer(0, "out", mul_bytes({n, 4}), 4);
  Buf x = a.buffer(1, "x", mul_bytes({n, elementwise_size(d)}), (size_t)elementwise_size(d));
  throw_if(a.env(), OP(out.as<float>(), x.data, d, n), a.fn());
  return a.env().Undefined();
}
static Napi::Value Silu(const Napi::CallbackInfo& info) { return Unary<silu>(info, "silu"); }
static Napi::Value Gelu(const Napi::CallbackInfo& info) { return Unary<gelu>(info, "gelu"); }
static Napi::Value Sigmoid(const Napi::CallbackInfo& info) { return Unary<sigmoid>(info, "sigmoid"); }

// swiglu(out, gate, gateDtype, up, upDtype, rows, f, gateStride, upStride)
static Napi::Value SwiGlu(const Napi::CallbackInfo& info) {
  Args a(info, "swiglu");
  a.count(9);
  const DType gd = elt_dtype(a, 2, "gateDtype"), ud = elt_dtype(a, 4, "upDtype");
  const int64_t rows = a.integer(5, "rows", 0, kMaxElems);
  const int64_t f = a.integer(6, "f", 0, kMaxElems);
  const int64_t gstride = a.integer(7, "gateStride", f, kMaxElems);
  const int64_t ustride = a.integer(8, "upStride", f, kMaxElems);
  const int64_t gspan = span_elems(rows, gstride, f), uspan = span_elems(rows, ustride, f);
  const int64_t gs = elementwise_size(gd), us = elementwise_size(ud);
  Buf out = a.buffer(0, "out", mul_bytes({rows, f, 4}), 4);
  Buf g = a.buffer(1, "gate", gspan < 0 ? UINT64_MAX : mul_bytes({gspan, gs}), (size_t)gs);
  Buf u = a.buffer(3, "up", uspan < 0 ? UINT64_MAX : mul_bytes({uspan, us}), (size_t)us);
  return a.run([=] { return swiglu(out.as<float>(), g.data, gd, u.data, ud, rows, f, gstride, ustride); });
}

FL_NAPI_REGISTER(init_elementwise) {
  export_fn(env, exports, "add", Add, true);
  export_fn(env, exports, "mul", Mul, true);
  exports.Set("silu", Napi::Function::New(env, Silu, "silu"));
  exports.Set("gelu", Napi::Function::New(env, Gelu, "gelu"));
  exports.Set("sigmoid", Napi::Function::New(env, Sigmoid, "sigmoid"));
  export_fn(env, exports, "swiglu", SwiGlu, true);
}

}  // namespace napi
}  // namespace fuselm
