// Family `norm`: argument invariants and the split over the pool.
#include <cmath>
#include <string>

#include "fuselm/ops.h"

namespace fuselm {

static void report_norm(const void* p, void (*emit)(const char*, const char*, void*), void* u) {
  const NormTable& t = *(const NormTable*)p;
  emit("rmsnorm", t.rmsnorm_row.isa, u);
  emit("softmax", t.softmax_row.isa, u);
}
static const Dispatch<NormTable> norm_dispatch("norm", ref::fill_norm, avx2::fill_norm, avx512::fill_norm,
                                               report_norm);

Status rmsnorm_f32(float* out, const float* x, const float* w, int64_t rows, int64_t dim, float eps) {
  if (rows < 0) return Status::range("rows", "integer >= 0", std::to_string(rows));
  if (dim < 1) return Status::range("dim", "integer >= 1", std::to_string(dim));
  if (!(eps >= 0.0f) || std::isinf(eps)) return Status::range("eps", "finite number >= 0", std::to_string(eps));
  auto fn = norm_dispatch().rmsnorm_row.fn;
  parallel_for(rows, (1 << 14) / dim + 1, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; r++) fn(out + r * dim, x + r * dim, w, dim, eps);
  });
  return Status::Ok();
}

Status softmax_f32(float* out, const float* x, int64_t rows, int64_t dim, float scale) {
  if (rows < 0) return Status::range("rows", "integer >= 0", std::to_string(rows));
  if (dim < 1) return Status::range("dim", "integer >= 1", std::to_string(dim));
  if (!(scale > 0.0f) || std::isinf(scale)) return Status::range("scale", "finite number > 0", std::to_string(scale));
  if (rows > 0 && (!out || !x)) return Status::range(!out ? "out" : "x", "a non-null pointer", "null");
  auto fn = norm_dispatch().softmax_row.fn;
  parallel_for(rows, (1 << 14) / dim + 1, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; r++) fn(out + r * dim, x + r * dim, dim, scale);
  });
  return Status::Ok();
}

}  // namespace fuselm
