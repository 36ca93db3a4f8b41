// Family `embed`: argument invariants, the row-decoder choice per table dtype, the split over the pool.
#include <string>

#include "fuselm/ops.h"

namespace fuselm {

static void report_embed(const void* p, void (*emit)(const char*, const char*, void*), void* u) {
  const EmbedTable& t = *(const EmbedTable*)p;
  emit("gather_f32", t.decode_row_f32.isa, u);
  emit("gather_f16", t.decode_row_f16.isa, u);
  emit("gather_bf16", t.decode_row_bf16.isa, u);
  emit("argmax", t.argmax_row.isa, u);
}
static const Dispatch<EmbedTable> embed_dispatch("embed", ref::fill_embed, avx2::fill_embed, avx512::fill_embed,
                                                 report_embed);

// The row decoder for a table dtype: the plain dtypes decode with this family's kernels; quantized
// dtypes plug in here through the format's own dequantize-row function (qgemm's dequantize_row, which
// dispatches per ISA). A dtype with no decoder returns false from gather_supported().
static bool quantized_decoder(DType d) { return dtype_traits((int32_t)d) && dtype_traits((int32_t)d)->quantized && quant_supported(d); }

bool gather_supported(DType d) {
  return d == DType::F32 || d == DType::F16 || d == DType::BF16 || quantized_decoder(d);
}

Status gather(float* out, const void* table, DType dtype, int64_t vocab, int64_t dim, const int32_t* ids,
              int64_t tokens) {
  const DTypeTraits* tr = dtype_traits((int32_t)dtype);
  if (!tr) return Status::type("table.dtype", "a known dtype", std::to_string((int)dtype));
  if (!gather_supported(dtype))
    return Status::unsupported(std::string("gather is not implemented for dtype ") + tr->name +
                               " (no row decoder for it: f32, f16, bf16, q4_0, q8_0, q4_k, q5_k, q6_k, q8_k, q5_0, q4_1, q5_1, iq4_nl, mxfp4, iq4_xs, q3_k, q2_k are)");
  if (vocab < 1) return Status::range("vocab", "integer >= 1", std::to_string(vocab));
  if (dim < 1 || dim % tr->block_elems != 0)
    return Status::range("dim", std::string("a positive multiple of ") + std::to_string(tr->block_elems) + " (the " +
                                    tr->name + " block)",
                         std::to_string(dim));
  if (tokens < 0) return Status::range("tokens", "integer >= 0", std::to_string(tokens));
  if (tokens == 0) return Status::Ok();
  if (!out || !table || !ids) return Status::range(!out ? "out" : !table ? "table" : "ids", "a non-null pointer", "null");
  // every id before any row is touched
  for (int64_t t = 0; t < tokens; t++)
    if (ids[t] < 0 || ids[t] >= vocab)
      return Status::range("ids[" + std::to_string(t) + "]", "integer in [0, " + std::to_string(vocab - 1) + "]",
                           std::to_string(ids[t]));
  const int64_t row_bytes = dim / tr->block_elems * tr->block_bytes;
  const EmbedTable& k = embed_dispatch();
  RowDecodeFn fn = dtype == DType::F32 ? k.decode_row_f32.fn
                 : dtype == DType::F16 ? k.decode_row_f16.fn
                 : dtype == DType::BF16 ? k.decode_row_bf16.fn
                                        : nullptr;
  parallel_for(tokens, (1 << 14) / dim + 1, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; t++) {
      const void* row = (const uint8_t*)table + ids[t] * row_bytes;
      if (fn) fn(out + t * dim, row, dim);
      else dequantize_row(dtype, row, out + t * dim, dim);
    }
  });
  return Status::Ok();
}

Status argmax_f32(int32_t* out, const float* x, int64_t rows, int64_t dim) {
  if (rows < 0) return Status::range("rows", "integer >= 0", std::to_string(rows));
  if (dim < 1 || dim > INT32_MAX) return Status::range("dim", "integer in [1, 2147483647]", std::to_string(dim));
  if (rows == 0) return Status::Ok();
  if (!out || !x) return Status::range(!out ? "out" : "x", "a non-null pointer", "null");
  auto fn = embed_dispatch().argmax_row.fn;
  parallel_for(rows, (1 << 14) / dim + 1, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; r++) out[r] = (int32_t)fn(x + r * dim, dim);
  });
  return Status::Ok();
}

}  // namespace fuselm
