// N-API for family `rope`: unwrap, check extents, call the op.
#include "fuselm/ops.h"
#include "napi/args.h"
#include "napi/rope_arg.h"

namespace fuselm {
namespace napi {

// rope(out, x, pos, tokens, heads, headDim, nDims, mode, base, freqScale,
//      extFactor, attnFactor, betaFast, betaSlow, origCtx, freqFactors | null)
static Napi::Value Rope(const Napi::CallbackInfo& info) {
  Args a(info, "rope");
  a.count(16);
  const int64_t tokens = a.integer(3, "tokens", 0, INT32_MAX);
  const int64_t heads = a.integer(4, "heads", 1, INT32_MAX);
  const int64_t head_dim = a.integer(5, "headDim", 2, INT32_MAX);
  const int64_t n_dims = a.integer(6, "nDims", 2, head_dim);
  const int mode = (int)a.integer(7, "mode", 0, 2);
  const float base = (float)a.number(8, "base");
  RopeScaling sc = rope_scaling_arg(a, 9);
  Buf out = a.buffer(0, "out", mul_bytes({tokens, heads, head_dim, 4}), 4);
  Buf x = a.buffer(1, "x", mul_bytes({tokens, heads, head_dim, 4}), 4);
  Buf pos = a.buffer(2, "pos", mul_bytes({tokens, 4}), 4);
  Buf ff = a.opt_buffer(15, "freqFactors", mul_bytes({n_dims / 2, 4}), 4);
  sc.freq_factors = ff.data ? ff.as<float>() : nullptr;
  return a.run([=] {
    return rope_ext_f32(out.as<float>(), x.as<float>(), pos.as<int32_t>(), tokens, heads, head_dim, n_dims, mode, base,
                        sc);
  });
}

FL_NAPI_REGISTER(init_rope) { export_fn(env, exports, "rope", Rope, true); }

}  // namespace napi
}  // namespace fuselm
