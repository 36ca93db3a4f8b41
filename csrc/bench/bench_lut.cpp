// Native bench cases for family `lut` (the same shapes as lib/bench/lut.ts):
// GEMV over W 4096x4096 in lut3 / lut4 with 0.5% outliers.
#include <memory>
#include <vector>

#include "bench/bench.h"
#include "fuselm/ops.h"

namespace {

struct LutW {
  std::vector<uint8_t> codes;
  std::vector<uint16_t> table, val;
  std::vector<int32_t> row_ptr, col;
  fuselm::LutMatrix m;
};

std::shared_ptr<LutW> make(int bits, int64_t n, int64_t k, const std::vector<float>& w) {
  auto q = std::make_shared<LutW>();
  const int64_t nnz = n * k / 200;
  q->codes.resize(n * (k / 32) * (bits == 4 ? 16 : 12));
  q->table.resize(n << bits);
  q->row_ptr.resize(n + 1);
  q->col.resize(nnz);
  q->val.resize(nnz);
  fuselm::LutQuantizeOptions o;
  o.bits = bits;
  o.nnz = nnz;
  o.iters = 10;
  fuselm::lut_quantize_f32(q->codes.data(), q->table.data(), q->row_ptr.data(), q->col.data(), q->val.data(), w.data(),
                           n, k, o);
  q->m = {q->codes.data(), q->table.data(), q->row_ptr.data(), q->col.data(), q->val.data(), n, k, nnz, bits};
  return q;
}

}  // namespace

FL_BENCH(lut) {
  const int64_t n = 4096, k = 4096;
  std::vector<float> w(n * k);
  auto x = std::make_shared<std::vector<float>>(k);
  auto out = std::make_shared<std::vector<float>>(n);
  uint32_t s = 11;
  for (float& v : w) {
    s = s * 1664525u + 1013904223u;
    v = ((float)(s >> 8) * (1.0f / 8388608.0f) - 1.0f) * 0.05f;
  }
  for (float& v : *x) {
    s = s * 1664525u + 1013904223u;
    v = (float)(s >> 8) * (1.0f / 8388608.0f) - 1.0f;
  }
  // the baseline: Q4_0 through qgemm's matmul (the target is LUT within 1.3x of its time)
  auto q40 = std::make_shared<std::vector<uint8_t>>(fuselm::row_bytes(fuselm::DType::Q4_0, k) * n);
  fuselm::quantize(q40->data(), fuselm::DType::Q4_0, w.data(), n, k);
  cases.push_back({"matmul(q4_0,1x4096x4096) [lut baseline]", "dram", (double)q40->size() + (k + n) * 4.0, 2.0 * n * k,
                   [=] { fuselm::matmul(out->data(), x->data(), 1, k, q40->data(), fuselm::DType::Q4_0, n, nullptr); }});
  for (int bits = 3; bits <= 4; bits++) {
    auto q = make(bits, n, k, w);
    const double bytes = (double)q->codes.size() + q->table.size() * 2.0 + q->row_ptr.size() * 4.0 +
                         q->col.size() * 6.0 + (k + n) * 4.0;
    cases.push_back({std::string("matmulLut(lut") + (char)('0' + bits) + "+0.5%,1x4096x4096)", "dram", bytes,
                     2.0 * n * k, [=] { fuselm::lut_matmul_f32(out->data(), x->data(), q->m, nullptr, 1); }});
  }
}
