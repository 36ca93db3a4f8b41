// N-API for family `qgemm`: unwrap, check extents, call the op.
#include <vector>

#include "fuselm/ops.h"
#include "napi/args.h"
#include "napi/dtype_arg.h"

namespace fuselm {
namespace napi {

static uint64_t rows_bytes(DType t, int64_t rows, int64_t cols) {
  const DTypeTraits* tr = dtype_traits((int32_t)t);
  if (cols % tr->block_elems != 0) return 0;  // the op reports the block error
  return mul_bytes({rows, cols / tr->block_elems, tr->block_bytes});
}

// quantize(dst, format, src, rows, cols)
static Napi::Value Quantize(const Napi::CallbackInfo& info) {
  Args a(info, "quantize");
  a.count(5);
  const DType t = dtype_arg(a, 1, "format");
  const int64_t rows = a.integer(3, "rows", 0, INT32_MAX);
  const int64_t cols = a.integer(4, "cols", 0, INT32_MAX);
  if (!quant_supported(t)) throw_if(a.env(), quantize(nullptr, t, nullptr, rows, cols), a.fn());
  Buf dst = a.buffer(0, "dst", rows_bytes(t, rows, cols));
  Buf src = a.buffer(2, "src", mul_bytes({rows, cols, 4}), 4);
  throw_if(a.env(), quantize(dst.data, t, src.as<float>(), rows, cols), a.fn());
  return a.env().Undefined();
}

// dequantize(dst, format, src, rows, cols)
static Napi::Value Dequantize(const Napi::CallbackInfo& info) {
  Args a(info, "dequantize");
  a.count(5);
  const DType t = dtype_arg(a, 1, "format");
  const int64_t rows = a.integer(3, "rows", 0, INT32_MAX);
  const int64_t cols = a.integer(4, "cols", 0, INT32_MAX);
  if (!quant_supported(t) && repack_base(t) == t) throw_if(a.env(), dequantize(nullptr, t, nullptr, rows, cols), a.fn());
  Buf dst = a.buffer(0, "dst", mul_bytes({rows, cols, 4}), 4);
  Buf src = a.buffer(2, "src", rows_bytes(t, rows, cols));
  throw_if(a.env(), dequantize(dst.as<float>(), t, src.data, rows, cols), a.fn());
  return a.env().Undefined();
}

// repack(dst, to, src, from, rows, cols)
static Napi::Value Repack(const Napi::CallbackInfo& info) {
  Args a(info, "repack");
  a.count(6);
  const DType to = dtype_arg(a, 1, "to");
  const DType from = dtype_arg(a, 3, "from");
  const int64_t rows = a.integer(4, "rows", 0, INT32_MAX);
  const int64_t cols = a.integer(5, "cols", 0, INT32_MAX);
  if (repack_base(to) == repack_base(from) && to != from && cols % 32 == 0) {
    Buf dst = a.buffer(0, "dst", rows_bytes(to, rows, cols));
    Buf src = a.buffer(2, "src", rows_bytes(from, rows, cols));
    if (dst.data && src.data && (uint8_t*)dst.data < (uint8_t*)src.data + src.bytes &&
        (uint8_t*)src.data < (uint8_t*)dst.data + dst.bytes)
      a.range_error("dst", "memory that does not overlap src", "an overlapping buffer");
    throw_if(a.env(), repack(dst.data, to, src.data, from, rows, cols), a.fn());
  } else {
    throw_if(a.env(), repack(nullptr, to, nullptr, from, rows, cols), a.fn());
  }
  return a.env().Undefined();
}

// matmul(out, x, xBf16, M, K, W, wtype, N, bias | null)
static Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Args a(info, "matmul");
  a.count(9);
  const bool xbf16 = a.boolean(2, "xBf16");
  const int64_t M = a.integer(3, "M", 0, INT32_MAX);
  const int64_t K = a.integer(4, "K", 1, INT32_MAX);
  const DType wt = dtype_arg(a, 6, "wtype");
  const int64_t N = a.integer(7, "N", 0, INT32_MAX);
  Buf W = a.buffer(5, "W", 0);
  throw_if(a.env(), check_weight(wt, N, K, W.bytes), a.fn());
  Buf out = a.buffer(0, "out", mul_bytes({M, N, 4}), 4);
  Buf x = a.buffer(1, "x", mul_bytes({M, K, xbf16 ? 2 : 4}), xbf16 ? 2 : 4);
  Buf bias = a.opt_buffer(8, "bias", mul_bytes({N, 4}), 4);
  return a.run([=] {
    const float* xf = x.as<float>();
    std::vector<float> conv;
    if (xbf16) {
      conv.resize((size_t)(M * K));
      dequantize_row(DType::BF16, x.data, conv.data(), M * K);
      xf = conv.data();
    }
    return matmul(out.as<float>(), xf, M, K, W.data, wt, N, bias.as<float>());
  });
}

FL_NAPI_REGISTER(init_qgemm) {
  exports.Set("quantize", Napi::Function::New(env, Quantize, "quantize"));
  exports.Set("dequantize", Napi::Function::New(env, Dequantize, "dequantize"));
  export_fn(env, exports, "matmul", Matmul, true);
  exports.Set("repack", Napi::Function::New(env, Repack, "repack"));
}

}  // namespace napi
}  // namespace fuselm
