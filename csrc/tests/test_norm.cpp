// Native replay of the norm cases: every ISA against a float64 loop.
#include "tests/harness.h"

TEST(rmsnorm_vs_f64) {
  const int64_t shapes[][2] = {{1, 1}, {1, 3}, {3, 17}, {2, 4097}, {7, 4096}, {300, 33}};
  for (auto& s : shapes) {
    const int64_t rows = s[0], dim = s[1];
    fltest::Rng r(rows * 1000 + dim);
    std::vector<float> x(rows * dim), w(dim), out(rows * dim);
    for (auto& v : x) v = 3 * r.normal();
    for (auto& v : w) v = r.normal();
    fltest::for_each_isa([&](int) {
      CHECK(fuselm::rmsnorm_f32(out.data(), x.data(), w.data(), rows, dim, 1e-5f).ok());
      double worst = 0;
      for (int64_t i = 0; i < rows; i++) {
        double ss = 0;
        for (int64_t j = 0; j < dim; j++) ss += (double)x[i * dim + j] * x[i * dim + j];
        double sc = 1 / std::sqrt(ss / dim + 1e-5);
        for (int64_t j = 0; j < dim; j++) {
          double ref = x[i * dim + j] * sc * w[j];
          worst = std::fmax(worst, std::fabs(out[i * dim + j] - ref) / (std::fabs(ref) + 1e-3));
        }
      }
      CHECK_LE(worst, 4e-6);
    });
  }
}

TEST(rmsnorm_rejects_bad_sizes) {
  float x = 1, o = 0;
  CHECK(fuselm::rmsnorm_f32(&o, &x, nullptr, 1, 0, 1e-5f).code == fuselm::Code::Range);
  CHECK(fuselm::rmsnorm_f32(&o, &x, nullptr, -1, 1, 1e-5f).code == fuselm::Code::Range);
  CHECK(fuselm::rmsnorm_f32(&o, &x, nullptr, 1, 1, -1.0f).code == fuselm::Code::Range);
}

TEST(softmax_vs_f64) {
  const int64_t shapes[][2] = {{1, 1}, {1, 3}, {3, 17}, {2, 4097}, {7, 4096}, {300, 33}, {1, 151936}};
  for (auto& s : shapes) {
    const int64_t rows = s[0], dim = s[1];
    fltest::Rng r(rows * 7 + dim);
    std::vector<float> x(rows * dim), out(rows * dim);
    for (size_t i = 0; i < x.size(); i++) x[i] = (i % 11 == 5 && dim > 1) ? -INFINITY : 4 * r.normal();
    const float scale = 0.75f;
    fltest::for_each_isa([&](int) {
      CHECK(fuselm::softmax_f32(out.data(), x.data(), rows, dim, scale).ok());
      double worst = 0;
      for (int64_t i = 0; i < rows; i++) {
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < dim; j++) m = std::fmax(m, (double)scale * x[i * dim + j]);
        for (int64_t j = 0; j < dim; j++) sum += std::exp((double)scale * x[i * dim + j] - m);
        for (int64_t j = 0; j < dim; j++) {
          double ref = std::exp((double)scale * x[i * dim + j] - m) / sum;
          worst = std::fmax(worst, std::fabs(out[i * dim + j] - ref) / (ref + 1e-37));
        }
      }
      CHECK_LE(worst, 5e-6);  // see softmax.test.ts
    });
  }
}

TEST(softmax_masked_and_nan_rows) {
  const float x[6] = {-INFINITY, -INFINITY, -INFINITY, NAN, -INFINITY, -INFINITY};
  float out[6];
  fltest::for_each_isa([&](int) {
    CHECK(fuselm::softmax_f32(out, x, 2, 3, 1.0f).ok());
    CHECK(out[0] == 0.0f && out[1] == 0.0f && out[2] == 0.0f);
    CHECK(std::isnan(out[3]) && std::isnan(out[4]) && std::isnan(out[5]));
  });
  CHECK(fuselm::softmax_f32(out, x, 1, 3, 0.0f).code == fuselm::Code::Range);
  CHECK(fuselm::softmax_f32(out, x, 1, 0, 1.0f).code == fuselm::Code::Range);
}
