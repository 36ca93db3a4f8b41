// Native replay of the rope cases: both layouts, partial rotary, every ISA against float64.
#include "tests/harness.h"

static void rope_f64(std::vector<double>& out, const std::vector<float>& x, const std::vector<int32_t>& pos, int64_t T,
                     int64_t H, int64_t D, int64_t nd, int mode, double base) {
  out.assign(x.begin(), x.end());
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t i = 0; i < nd / 2; i++) {
        const double th = pos[t] * std::pow(base, -2.0 * i / nd), c = std::cos(th), s = std::sin(th);
        const int64_t o = (t * H + h) * D;
        const int64_t ia = mode == fuselm::ROPE_NORM ? o + 2 * i : o + i, ib = mode == fuselm::ROPE_NORM ? ia + 1 : ia + nd / 2;
        const double a = x[ia], b = x[ib];
        out[ia] = a * c - b * s;
        out[ib] = a * s + b * c;
      }
}

TEST(rope_vs_f64) {
  // T, H, D, n_dims, base, first position
  const double cases[][6] = {{1, 1, 2, 2, 1e4, 0},        {3, 2, 18, 18, 1e4, 5},  {5, 4, 128, 128, 1e6, 100000},
                             {17, 3, 80, 32, 1e4, 7},      {2, 2, 4098, 4098, 5e5, 3}, {7, 1, 96, 34, 1e4, 1}};
  for (auto& c : cases) {
    const int64_t T = (int64_t)c[0], H = (int64_t)c[1], D = (int64_t)c[2], nd = (int64_t)c[3];
    fltest::Rng r(T * 100 + D);
    std::vector<float> x(T * H * D), out(T * H * D);
    for (auto& v : x) v = 2 * r.normal();
    std::vector<int32_t> pos(T);
    for (int64_t t = 0; t < T; t++) pos[t] = (int32_t)c[5] + (int32_t)t * 3;
    for (int mode : {fuselm::ROPE_NORM, fuselm::ROPE_NEOX}) {
      std::vector<double> ref;
      rope_f64(ref, x, pos, T, H, D, nd, mode, c[4]);
      double mx = 0;
      for (double v : ref) mx = std::fmax(mx, std::fabs(v));
      fltest::for_each_isa([&](int) {
        CHECK(fuselm::rope_f32(out.data(), x.data(), pos.data(), T, H, D, nd, mode, (float)c[4], 1.0f).ok());
        double worst = 0;
        for (size_t i = 0; i < out.size(); i++) worst = std::fmax(worst, std::fabs(out[i] - ref[i]));
        CHECK_LE(worst / mx, 3e-7);  // see rope.test.ts
        std::vector<float> inplace(x);
        CHECK(fuselm::rope_f32(inplace.data(), inplace.data(), pos.data(), T, H, D, nd, mode, (float)c[4], 1.0f).ok());
        CHECK(inplace == out);
      });
    }
  }
}

TEST(rope_rejects_bad_input) {
  float x[8] = {0};
  int32_t p = 0;
  CHECK(fuselm::rope_f32(x, x, &p, 1, 1, 8, 7, 0, 1e4f, 1.0f).code == fuselm::Code::Range);
  CHECK(fuselm::rope_f32(x, x, &p, 1, 1, 8, 10, 0, 1e4f, 1.0f).code == fuselm::Code::Range);
  CHECK(fuselm::rope_f32(x, x, &p, 1, 1, 8, 8, 1, 1e4f, 1.0f).code == fuselm::Code::Range);
  CHECK(fuselm::rope_f32(x, x, &p, 1, 1, 8, 8, 0, -1.0f, 1.0f).code == fuselm::Code::Range);
  CHECK(fuselm::rope_f32(x, x, nullptr, 1, 1, 8, 8, 0, 1e4f, 1.0f).code == fuselm::Code::Range);
}
