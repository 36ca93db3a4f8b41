// Native replay of the mask cases: every ISA against the plain definition, tails and rows.
#include <cmath>
#include <vector>
#include "tests/harness.h"
#include "fuselm/ops/mask.h"

TEST(mask_logits_vs_definition) {
  const int64_t shapes[][2] = {{1, 1}, {1, 3}, {1, 17}, {3, 33}, {2, 4097}, {1, 151936}, {5, 16385}};
  for (auto& s : shapes) {
    const int64_t rows = s[0], n = s[1], words = (n + 31) / 32;
    fltest::Rng r(rows * 31 + n);
    std::vector<float> x(rows * n), out(rows * n);
    std::vector<uint32_t> mask(rows * words);
    for (auto& v : x) v = 3 * r.normal();
    for (auto& w : mask) w = (uint32_t)r.next();
    fltest::for_each_isa([&](int) {
      for (int inplace = 0; inplace < 2; inplace++) {
        std::vector<float> y = x;
        float* dst = inplace ? y.data() : out.data();
        CHECK(fuselm::mask_logits_f32(dst, y.data(), mask.data(), rows, n).ok());
        int64_t bad = 0;
        for (int64_t i = 0; i < rows; i++)
          for (int64_t j = 0; j < n; j++) {
            const bool keep = (mask[i * words + j / 32] >> (j % 32)) & 1u;
            const float want = keep ? x[i * n + j] : -INFINITY;
            if (dst[i * n + j] != want) bad++;
          }
        CHECK(bad == 0);
      }
    });
  }
}

TEST(mask_logits_rejects_bad_sizes) {
  float x = 1;
  uint32_t m = 1;
  CHECK(fuselm::mask_logits_f32(&x, &x, &m, 1, 0).code == fuselm::Code::Range);
  CHECK(fuselm::mask_logits_f32(&x, &x, &m, -1, 1).code == fuselm::Code::Range);
  CHECK(fuselm::mask_logits_f32(&x, &x, nullptr, 1, 1).code == fuselm::Code::Range);
}
