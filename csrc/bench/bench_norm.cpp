// Native bench cases for family `norm` (the same shapes as lib/bench/norm.ts).
#include <memory>
#include <vector>

#include "bench/bench.h"
#include "fuselm/ops.h"

FL_BENCH(norm) {
  const int64_t rows = 4096, dim = 4096;
  auto x = std::make_shared<std::vector<float>>(rows * dim);
  auto w = std::make_shared<std::vector<float>>(dim, 1.0f);
  auto out = std::make_shared<std::vector<float>>(rows * dim);
  uint32_t s = 1;
  for (float& v : *x) {
    s = s * 1664525u + 1013904223u;
    v = (float)(s >> 8) * (1.0f / 8388608.0f) - 1.0f;
  }
  cases.push_back({"rmsnorm(f32,4096x4096)", "dram", (2.0 * rows * dim + dim) * 4, 4.0 * rows * dim, [=] {
                     fuselm::rmsnorm_f32(out->data(), x->data(), w->data(), rows, dim, 1e-6f);
                   }});
}
