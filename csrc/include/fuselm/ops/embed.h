// Family `embed`: embedding row gather and row argmax.
#pragma once
#include <cstdint>
#include "fuselm/blocks.h"
#include "fuselm/cpu.h"
#include "fuselm/status.h"

namespace fuselm {

// out[t, :] = row ids[t] of table [vocab, dim] decoded to f32 (out: [tokens, dim]).
// table rows are row-major, each dim/block_elems blocks of `dtype` (f32/f16/bf16, or a quantized dtype
// decoded by qgemm's dequantize_row: q4_0, q8_0, q4_k, q5_k, q6_k, q8_k). Every id is checked before any
// row is read: one outside [0, vocab) gives Range naming ids[t] and its value.
Status gather(float* out, const void* table, DType dtype, int64_t vocab, int64_t dim, const int32_t* ids,
              int64_t tokens);
// Whether gather() can decode rows of this dtype.
bool gather_supported(DType dtype);

// out[r] = the index of the largest x[r, :]. Ties go to the lowest index (so +0 and -0 tie); a row holding
// NaN gives the index of its first NaN (as numpy and torch do: a broken row is never silently skipped);
// a row of only -inf gives 0. dim <= INT32_MAX.
Status argmax_f32(int32_t* out, const float* x, int64_t rows, int64_t dim);

// per-ISA kernels. A row decoder turns n elements of one dtype into f32.
typedef void (*RowDecodeFn)(float* dst, const void* src, int64_t n);
struct EmbedTable {
  Kernel<RowDecodeFn> decode_row_f32, decode_row_f16, decode_row_bf16;
  Kernel<int64_t (*)(const float* x, int64_t n)> argmax_row;
};

namespace ref { void fill_embed(EmbedTable& t); }
namespace avx2 { void fill_embed(EmbedTable& t); }
namespace avx512 { void fill_embed(EmbedTable& t); }

}  // namespace fuselm
