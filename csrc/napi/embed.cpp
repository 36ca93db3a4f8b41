// N-API for family `embed`: unwrap, check extents, call the op.
#include "fuselm/ops.h"
#include "napi/args.h"
#include "napi/dtype_arg.h"

namespace fuselm {
namespace napi {

// gather(out, table, tableDtype, vocab, dim, ids, tokens)
static Napi::Value Gather(const Napi::CallbackInfo& info) {
  Args a(info, "gather");
  a.count(7);
  const DType dt = dtype_arg(a, 2, "tableDtype", {});
  const DTypeTraits* tr = dtype_traits((int32_t)dt);
  const int64_t vocab = a.integer(3, "vocab", 1, INT32_MAX);
  const int64_t dim = a.integer(4, "dim", 1, INT32_MAX);
  const int64_t tokens = a.integer(6, "tokens", 0, INT32_MAX);
  if (dim % tr->block_elems != 0)
    a.range_error("dim", "a multiple of " + std::to_string(tr->block_elems) + " (the " + tr->name + " block)",
                  std::to_string(dim));
  Buf out = a.buffer(0, "out", mul_bytes({tokens, dim, 4}), 4);
  // f32 rows are read as floats, every other format holds 16-bit fields (halves, block scales)
  Buf table = a.buffer(1, "table", mul_bytes({vocab, dim / tr->block_elems, tr->block_bytes}), dt == DType::F32 ? 4 : 2);
  Buf ids = a.buffer(5, "ids", mul_bytes({tokens, 4}), 4);
  return a.run([=] { return gather(out.as<float>(), table.data, dt, vocab, dim, ids.as<int32_t>(), tokens); });
}

// argmax(out, x, rows, dim)
static Napi::Value Argmax(const Napi::CallbackInfo& info) {
  Args a(info, "argmax");
  a.count(4);
  const int64_t rows = a.integer(2, "rows", 0, INT32_MAX);
  const int64_t dim = a.integer(3, "dim", 1, INT32_MAX);
  Buf out = a.buffer(0, "out", mul_bytes({rows, 4}), 4);
  Buf x = a.buffer(1, "x", mul_bytes({rows, dim, 4}), 4);
  throw_if(a.env(), argmax_f32(out.as<int32_t>(), x.as<float>(), rows, dim), a.fn());
  return a.env().Undefined();
}

FL_NAPI_REGISTER(init_embed) {
  export_fn(env, exports, "gather", Gather, true);
  exports.Set("argmax", Napi::Function::New(env, Argmax, "argmax"));
}

}  // namespace napi
}  // namespace fuselm
