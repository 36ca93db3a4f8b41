// N-API for family `lut`: unwrap, check every extent, call the op.
#include "fuselm/ops.h"
#include "napi/args.h"

namespace fuselm {
namespace napi {

// the five parts of a LUT matrix at argument positions [i, i+5), sizes already checked as integers
static LutMatrix lut_parts(const Args& a, size_t i, int64_t n, int64_t k, int bits, int64_t nnz) {
  const int64_t bb = bits == 4 ? (int64_t)sizeof(block_lut4) : (int64_t)sizeof(block_lut3);
  LutMatrix w{};
  w.codes = a.buffer(i, "codes", mul_bytes({n, k / 32, bb})).as<uint8_t>();
  w.table = a.buffer(i + 1, "table", mul_bytes({n, (int64_t)1 << bits, 2}), 2).as<fl_half>();
  w.row_ptr = a.buffer(i + 2, "rowPtr", mul_bytes({n + 1, 4}), 4).as<int32_t>();
  w.col = a.buffer(i + 3, "col", mul_bytes({nnz, 4}), 4).as<int32_t>();
  w.val = a.buffer(i + 4, "val", mul_bytes({nnz, 2}), 2).as<fl_half>();
  w.n = n;
  w.k = k;
  w.bits = bits;
  w.nnz = nnz;
  return w;
}

static void check_k(const Args& a, int64_t k) {
  if (k % 32 != 0) a.range_error("k", "a multiple of 32 (the lut block)", std::to_string(k));
}

// lutMatmul(out, x, codes, table, rowPtr, col, val, bias | null, m, n, k, bits, nnz)
static Napi::Value LutMatmul(const Napi::CallbackInfo& info) {
  Args a(info, "matmulLut");
  a.count(13);
  const int64_t m = a.integer(8, "m", 0, INT32_MAX), n = a.integer(9, "n", 1, INT32_MAX);
  const int64_t k = a.integer(10, "k", 32, INT32_MAX);
  const int bits = (int)a.integer(11, "bits", 3, 4);
  const int64_t nnz = a.integer(12, "nnz", 0, INT32_MAX);
  check_k(a, k);
  const LutMatrix w = lut_parts(a, 2, n, k, bits, nnz);
  Buf out = a.buffer(0, "out", mul_bytes({m, n, 4}), 4);
  Buf x = a.buffer(1, "x", mul_bytes({m, k, 4}), 4);
  Buf bias = a.opt_buffer(7, "bias", mul_bytes({n, 4}), 4);
  return a.run([=] { return lut_matmul_f32(out.as<float>(), x.as<float>(), w, bias.as<float>(), m); });
}

// lutDequantize(out, codes, table, rowPtr, col, val, n, k, bits, nnz)
static Napi::Value LutDequantize(const Napi::CallbackInfo& info) {
  Args a(info, "dequantizeLut");
  a.count(10);
  const int64_t n = a.integer(6, "n", 1, INT32_MAX), k = a.integer(7, "k", 32, INT32_MAX);
  const int bits = (int)a.integer(8, "bits", 3, 4);
  const int64_t nnz = a.integer(9, "nnz", 0, INT32_MAX);
  check_k(a, k);
  const LutMatrix w = lut_parts(a, 1, n, k, bits, nnz);
  Buf out = a.buffer(0, "out", mul_bytes({n, k, 4}), 4);
  throw_if(a.env(), lut_dequantize_f32(out.as<float>(), w), a.fn());
  return a.env().Undefined();
}

// lutQuantize(codes, table, rowPtr, col, val, w, weights | null, n, k, bits, nnz, iters, seed, init)
static Napi::Value LutQuantize(const Napi::CallbackInfo& info) {
  Args a(info, "quantizeLut");
  a.count(14);
  const int64_t n = a.integer(7, "n", 1, INT32_MAX), k = a.integer(8, "k", 32, INT32_MAX);
  const int bits = (int)a.integer(9, "bits", 3, 4);
  const int64_t nnz = a.integer(10, "nnz", 0, INT32_MAX);
  check_k(a, k);
  LutQuantizeOptions o;
  o.bits = bits;
  o.nnz = nnz;
  o.iters = (int)a.integer(11, "iters", 0, 10000);
  o.seed = (uint64_t)a.integer(12, "seed", 0, (int64_t)9007199254740991);
  o.init = (int)a.integer(13, "init", 0, 1);
  const int64_t bb = bits == 4 ? (int64_t)sizeof(block_lut4) : (int64_t)sizeof(block_lut3);
  Buf codes = a.buffer(0, "codes", mul_bytes({n, k / 32, bb}));
  Buf table = a.buffer(1, "table", mul_bytes({n, (int64_t)1 << bits, 2}), 2);
  Buf row_ptr = a.buffer(2, "rowPtr", mul_bytes({n + 1, 4}), 4);
  Buf col = a.buffer(3, "col", mul_bytes({nnz, 4}), 4);
  Buf val = a.buffer(4, "val", mul_bytes({nnz, 2}), 2);
  Buf w = a.buffer(5, "w", mul_bytes({n, k, 4}), 4);
  Buf imp = a.opt_buffer(6, "weights", mul_bytes({k, 4}), 4);
  if (imp.data) {
    const uint64_t len = imp.bytes / 4;
    o.importance = imp.as<float>();
    o.importance_len = len >= (uint64_t)(n * k) ? n * k : k;
  }
  throw_if(a.env(),
           lut_quantize_f32(codes.as<uint8_t>(), table.as<fl_half>(), row_ptr.as<int32_t>(), col.as<int32_t>(),
                            val.as<fl_half>(), w.as<float>(), n, k, o),
           a.fn());
  return a.env().Undefined();
}

FL_NAPI_REGISTER(init_lut) {
  export_fn(env, exports, "lutMatmul", LutMatmul, true);
  exports.Set("lutDequantize", Napi::Function::New(env, LutDequantize, "lutDequantize"));
  exports.Set("lutQuantize", Napi::Function::New(env, LutQuantize, "lutQuantize"));
}

}  // namespace napi
}  // namespace fuselm
