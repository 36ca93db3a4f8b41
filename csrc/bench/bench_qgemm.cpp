// Native bench cases for family `qgemm` (the same shapes as lib/bench/qgemm.ts):
// GEMV (M = 1) over W 4096x4096 and 14336x4096 per format against DRAM read
// bandwidth; GEMM at M = 512 (int8 dot peak for quantized W, FMA peak for f32) and f32 1024^3.
#include <memory>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "fuselm/ops.h"

namespace {

using fuselm::DType;

std::shared_ptr<std::vector<float>> random_f32(int64_t n, uint32_t seed, float scale) {
  auto v = std::make_shared<std::vector<float>>(n);
  for (float& x : *v) {
    seed = seed * 1664525u + 1013904223u;
    x = ((float)(seed >> 8) * (1.0f / 8388608.0f) - 1.0f) * scale;
  }
  return v;
}

// a 64-row quantized tile repeated: the kernels' speed does not depend on values
std::shared_ptr<std::vector<uint8_t>> weight(DType t, int64_t n, int64_t k) {
  const int64_t tile = 64;
  auto w = random_f32(tile * k, 7, 0.05f);
  const size_t rb = fuselm::row_bytes(t, k);
  const DType base = fuselm::repack_base(t);
  std::vector<uint8_t> q(tile * fuselm::row_bytes(base, k));
  fuselm::quantize(q.data(), base, w->data(), tile, k);
  if (base != t) {  // the repacked formats: 64 rows are 4 whole groups of 16
    std::vector<uint8_t> p(tile * fuselm::row_bytes(t, k));
    fuselm::repack(p.data(), t, q.data(), base, tile, k);
    q.swap(p);
  }
  auto out = std::make_shared<std::vector<uint8_t>>(n * rb);
  for (int64_t r = 0; r < n / tile; r++) std::copy(q.begin(), q.end(), out->begin() + r * tile * rb);
  return out;
}

void add(std::vector<flbench::Case>& cases, DType t, int64_t m, int64_t n, int64_t k, const char* bound) {
  auto W = weight(t, n, k);
  auto x = random_f32(m * k, 3, 1.0f);
  auto out = std::make_shared<std::vector<float>>(m * n);
  const std::string name = std::string("matmul(") + fuselm::dtype_traits((int32_t)t)->name + "," + std::to_string(m) +
                           "x" + std::to_string(k) + "x" + std::to_string(n) + ")";
  cases.push_back({name, bound, (double)W->size() + m * k * 4.0 + m * n * 4.0, 2.0 * m * n * k,
                   [=] { fuselm::matmul(out->data(), x->data(), m, k, W->data(), t, n, nullptr); }});
}

}  // namespace

FL_BENCH(qgemm) {
  const DType gemv[] = {DType::Q4_0, DType::Q4_0X16, DType::Q8_0, DType::Q8_0X16, DType::Q4_K, DType::Q4_KX16, DType::Q6_K, DType::Q6_KX16, DType::F16};
  for (DType t : gemv) add(cases, t, 1, 4096, 4096, "dram");
  for (DType t : gemv) add(cases, t, 1, 14336, 4096, "dram");
  const DType gemm[] = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K};
  for (DType t : gemm) add(cases, t, 512, 4096, 4096, "int8");
  add(cases, DType::F32, 512, 4096, 4096, "fma");
  add(cases, DType::F32, 1024, 1024, 1024, "fma");
}
