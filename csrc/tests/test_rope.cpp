// Native replay of the rope cases: both layouts, partial rotary, every ISA against float64.
#include "tests/harness.h"

static void rope_ext_f64(std::vector<double>& out, const std::vector<float>& x, const std::vector<int32_t>& pos,
                         int64_t T, int64_t H, int64_t D, int64_t nd, int mode, double base,
                         const fuselm::RopeScaling& sc);

// plain RoPE: ggml_rope_ext without scaling (freq_scale 1, no YaRN, magnitude 1, no freq factors)
static void rope_f64(std::vector<double>& out, const std::vector<float>& x, const std::vector<int32_t>& pos, int64_t T,
                     int64_t H, int64_t D, int64_t nd, int mode, double base) {
  rope_ext_f64(out, x, pos, T, H, D, nd, mode, base, fuselm::RopeScaling{});
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

// ggml_rope_ext's formulas written per element (rope_yarn, ggml_rope_yarn_corr_dims), in double
static void rope_ext_f64(std::vector<double>& out, const std::vector<float>& x, const std::vector<int32_t>& pos,
                         int64_t T, int64_t H, int64_t D, int64_t nd, int mode, double base,
                         const fuselm::RopeScaling& sc) {
  const double pi = 3.14159265358979323846;
  auto corr = [&](double beta) { return nd * std::log(sc.orig_ctx / (beta * 2 * pi)) / (2 * std::log(base)); };
  const double lo = std::fmax(0.0, std::floor(corr(sc.beta_fast)));
  const double hi = std::fmin((double)nd - 1, std::ceil(corr(sc.beta_slow)));
  out.assign(x.begin(), x.end());
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t i = 0; i < nd / 2; i++) {
        const double extrap = pos[t] * std::pow(base, -2.0 * i / nd) / (sc.freq_factors ? sc.freq_factors[i] : 1.0);
        const double interp = sc.freq_scale * extrap;
        double th = interp, m = sc.attn_factor;
        if (sc.ext_factor != 0) {
          const double y = (i - lo) / std::fmax(0.001, hi - lo);
          const double mix = (1 - std::fmin(1.0, std::fmax(0.0, y))) * sc.ext_factor;
          th = interp * (1 - mix) + extrap * mix;
          m *= 1 + 0.1 * std::log(1.0 / sc.freq_scale);
        }
        const double c = std::cos(th) * m, s = std::sin(th) * m;
        const int64_t o = (t * H + h) * D;
        const int64_t ia = mode == fuselm::ROPE_NORM ? o + 2 * i : o + i, ib = mode == fuselm::ROPE_NORM ? ia + 1 : ia + nd / 2;
        const double a = x[ia], b = x[ib];
        out[ia] = a * c - b * s;
        out[ib] = a * s + b * c;
      }
}

TEST(rope_ext_vs_f64) {
  // T, H, D, n_dims, base, first position, freq_scale, ext_factor, attn_factor, orig_ctx, freq factors (0/1)
  const double cases[][11] = {{5, 3, 64, 64, 1e4, 4000, 0.25, 0, 1, 0, 0},   {7, 2, 96, 34, 5e5, 60000, 1, 0, 1, 0, 1},
                              {6, 2, 64, 64, 1e4, 3000, 0.25, 1, 1, 2048, 0}, {3, 4, 128, 128, 1e6, 100000, 0.25, 1, 1, 32768, 0},
                              {17, 1, 80, 34, 1e4, 7, 0.125, 0.5, 0.8, 512, 1}, {3, 1, 10, 10, 1e4, 50, 0.5, 1, 1, 8, 0}};
  for (auto& c : cases) {
    const int64_t T = (int64_t)c[0], H = (int64_t)c[1], D = (int64_t)c[2], nd = (int64_t)c[3];
    fltest::Rng r(T * 77 + D);
    std::vector<float> x(T * H * D), out(T * H * D), ff(nd / 2);
    for (auto& v : x) v = 2 * r.normal();
    for (int64_t i = 0; i < nd / 2; i++) ff[i] = 1.0f + 7.0f * (float)i / (float)(nd / 2);
    std::vector<int32_t> pos(T);
    for (int64_t t = 0; t < T; t++) pos[t] = (int32_t)c[5] + (int32_t)t * 5;
    fuselm::RopeScaling sc;
    sc.freq_scale = (float)c[6];
    sc.ext_factor = (float)c[7];
    sc.attn_factor = (float)c[8];
    sc.orig_ctx = (int64_t)c[9];
    sc.freq_factors = c[10] != 0 ? ff.data() : nullptr;
    for (int mode : {fuselm::ROPE_NORM, fuselm::ROPE_NEOX}) {
      std::vector<double> ref;
      rope_ext_f64(ref, x, pos, T, H, D, nd, mode, c[4], sc);
      double mx = 0;
      for (double v : ref) mx = std::fmax(mx, std::fabs(v));
      fltest::for_each_isa([&](int) {
        CHECK(fuselm::rope_ext_f32(out.data(), x.data(), pos.data(), T, H, D, nd, mode, (float)c[4], sc).ok());
        double worst = 0;
        for (size_t i = 0; i < out.size(); i++) worst = std::fmax(worst, std::fabs(out[i] - ref[i]));
        CHECK_LE(worst / mx, 3e-7);  // see rope.test.ts
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
  fuselm::RopeScaling sc;
  sc.ext_factor = 1.0f;  // YaRN without orig_ctx
  CHECK(fuselm::rope_ext_f32(x, x, &p, 1, 1, 8, 8, 0, 1e4f, sc).arg == "orig_ctx");
  sc.orig_ctx = 4096;
  sc.beta_fast = 0.0f;
  CHECK(fuselm::rope_ext_f32(x, x, &p, 1, 1, 8, 8, 0, 1e4f, sc).arg == "beta_fast");
  sc = fuselm::RopeScaling();
  sc.attn_factor = -1.0f;
  CHECK(fuselm::rope_ext_f32(x, x, &p, 1, 1, 8, 8, 0, 1e4f, sc).arg == "attn_factor");
  sc = fuselm::RopeScaling();
  const float ff[4] = {1.0f, 2.0f, 0.0f, 1.0f};
  sc.freq_factors = ff;
  CHECK(fuselm::rope_ext_f32(x, x, &p, 1, 1, 8, 8, 0, 1e4f, sc).arg == "freq_factors[2]");
}
