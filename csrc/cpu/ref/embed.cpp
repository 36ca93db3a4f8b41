// Scalar reference for the embed family.
#include <cstring>
#include "fuselm/ops/embed.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace ref {

static void decode_row_f32(float* dst, const void* src, int64_t n) { std::memcpy(dst, src, (size_t)n * 4); }
static void decode_row_f16(float* dst, const void* src, int64_t n) { scalar::decode_f16(dst, (const uint16_t*)src, 0, n); }
static void decode_row_bf16(float* dst, const void* src, int64_t n) { scalar::decode_bf16(dst, (const uint16_t*)src, 0, n); }

static int64_t argmax_row(const float* x, int64_t n) {
  const int64_t nan = scalar::first_nan(x, n);
  if (nan >= 0) return nan;
  float m = x[0];
  return scalar::argmax_from(x, 1, n, 0, &m);
}

void fill_embed(EmbedTable& t) {
  FL_IMPL(t, decode_row_f32, ref);
  FL_IMPL(t, decode_row_f16, ref);
  FL_IMPL(t, decode_row_bf16, ref);
  FL_IMPL(t, argmax_row, ref);
}

}  // namespace ref
}  // namespace fuselm
