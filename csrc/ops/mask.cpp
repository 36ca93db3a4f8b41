// Family `mask`: argument invariants and the split over the pool.
#include <string>

#include "fuselm/ops/mask.h"

namespace fuselm {

static void report_mask(const void* p, void (*emit)(const char*, const char*, void*), void* u) {
  emit("mask_logits", ((const MaskTable*)p)->mask_logits.isa, u);
}
static const Dispatch<MaskTable> mask_dispatch("mask", ref::fill_mask, avx2::fill_mask, avx512::fill_mask, report_mask);

// elements per work item: a multiple of 32, so items start on a mask word
static constexpr int64_t kMaskChunk = 1 << 14;

Status mask_logits_f32(float* out, const float* x, const uint32_t* mask, int64_t rows, int64_t n) {
  if (rows < 0) return Status::range("rows", "integer >= 0", std::to_string(rows));
  if (n < 1) return Status::range("n", "integer >= 1", std::to_string(n));
  if (rows > 0 && (!out || !x || !mask)) return Status::range(!out ? "out" : !x ? "x" : "mask", "a non-null pointer", "null");
  const int64_t words = (n + 31) / 32, chunks = (n + kMaskChunk - 1) / kMaskChunk;
  auto fn = mask_dispatch().mask_logits.fn;
  // one 152k-vocabulary row is ~600 KB of stores: two chunks' worth per thread at least
  parallel_for(rows * chunks, 4, [&](int64_t b, int64_t e, int) {
    for (int64_t k = b; k < e; k++) {
      const int64_t r = k / chunks, c = k % chunks;
      const int64_t lo = c * kMaskChunk, hi = lo + kMaskChunk < n ? lo + kMaskChunk : n;
      fn(out + r * n, x + r * n, mask + r * words, lo, hi);
    }
  });
  return Status::Ok();
}

}  // namespace fuselm
