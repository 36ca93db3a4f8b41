// N-API for family `mask`: unwrap, check extents, call the op.
#include "fuselm/ops/mask.h"
#include "napi/args.h"

namespace fuselm {
namespace napi {

// maskLogits(out, x, mask, rows, n)
static Napi::Value MaskLogits(const Napi::CallbackInfo& info) {
  Args a(info, "maskLogits");
  a.count(5);
  int64_t rows = a.integer(3, "rows", 0, INT32_MAX);
  int64_t n = a.integer(4, "n", 1, INT32_MAX);
  Buf out = a.buffer(0, "out", mul_bytes({rows, n, 4}), 4);
  Buf x = a.buffer(1, "x", mul_bytes({rows, n, 4}), 4);
  Buf mask = a.buffer(2, "mask", mul_bytes({rows, (n + 31) / 32, 4}), 4);
  return a.run([=] { return mask_logits_f32(out.as<float>(), x.as<float>(), mask.as<uint32_t>(), rows, n); });
}

FL_NAPI_REGISTER(init_mask) { export_fn(env, exports, "maskLogits", MaskLogits, false); }

}  // namespace napi
}  // namespace fuselm
