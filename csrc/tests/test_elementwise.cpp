// Native replay of the elementwise cases: every ISA against float64 loops, f32/f16/bf16 inputs.
#include "fuselm/fp16.h"
#include "tests/harness.h"

using fuselm::DType;

static double silu_d(double x) { return x / (1 + std::exp(-x)); }
static double gelu_d(double x) { return x / (1 + std::exp(-2 * 0.79788456080286535588 * x * (1 + 0.044715 * x * x))); }

// values rounded through dtype d, and the raw bytes holding them
struct Input {
  std::vector<float> v;
  std::vector<uint8_t> raw;
  DType d;
  Input(int64_t n, uint64_t seed, float scale, DType dt) : v(n), raw(n * (dt == DType::F32 ? 4 : 2)), d(dt) {
    fltest::Rng r(seed);
    for (int64_t i = 0; i < n; i++) {
      float x = scale * r.normal();
      if (d == DType::F16) { uint16_t h = fuselm::fp32_to_fp16(x); x = fuselm::fp16_to_fp32(h); std::memcpy(&raw[2 * i], &h, 2); }
      else if (d == DType::BF16) { uint16_t h = fuselm::fp32_to_bf16(x); x = fuselm::bf16_to_fp32(h); std::memcpy(&raw[2 * i], &h, 2); }
      else std::memcpy(&raw[4 * i], &x, 4);
      v[i] = x;
    }
  }
};

static double rel(float got, double want) { return std::fabs(got - want) / (std::fabs(want) + 1e-30); }

TEST(elementwise_vs_f64) {
  const int64_t sizes[] = {1, 3, 17, 33, 4097, 70001};
  const DType dts[] = {DType::F32, DType::F16, DType::BF16};
  for (int64_t n : sizes) {
    for (DType dt : dts) {
      Input a(n, n + 1, 4, dt), b(n, n + 2, 4, DType::F32);
      std::vector<float> out(n);
      fltest::for_each_isa([&](int) {
        double e_add = 0, e_mul = 0, e_silu = 0, e_gelu = 0, e_sw = 0, e_sig = 0;
        CHECK(fuselm::add(out.data(), a.raw.data(), dt, b.raw.data(), DType::F32, n, n).ok());
        for (int64_t i = 0; i < n; i++) e_add = std::fmax(e_add, rel(out[i], (double)a.v[i] + b.v[i]));
        CHECK(fuselm::mul(out.data(), a.raw.data(), dt, b.raw.data(), DType::F32, n, n).ok());
        for (int64_t i = 0; i < n; i++) e_mul = std::fmax(e_mul, rel(out[i], (double)a.v[i] * b.v[i]));
        CHECK(fuselm::silu(out.data(), a.raw.data(), dt, n).ok());
        for (int64_t i = 0; i < n; i++) e_silu = std::fmax(e_silu, rel(out[i], silu_d(a.v[i])));
        CHECK(fuselm::gelu(out.data(), a.raw.data(), dt, n).ok());
        for (int64_t i = 0; i < n; i++) e_gelu = std::fmax(e_gelu, rel(out[i], gelu_d(a.v[i])));
        CHECK(fuselm::sigmoid(out.data(), a.raw.data(), dt, n).ok());
        for (int64_t i = 0; i < n; i++) e_sig = std::fmax(e_sig, rel(out[i], 1 / (1 + std::exp(-(double)a.v[i]))));
        CHECK(fuselm::swiglu(out.data(), a.raw.data(), dt, b.raw.data(), DType::F32, 1, n, n, n).ok());
        for (int64_t i = 0; i < n; i++) e_sw = std::fmax(e_sw, rel(out[i], silu_d(a.v[i]) * b.v[i]));
        CHECK_LE(e_add, 6e-8);  // one f32 rounding
        CHECK_LE(e_mul, 6e-8);
        CHECK_LE(e_silu, 5e-7);  // vectorised exp (<= 2e-7) + division
        CHECK_LE(e_gelu, 2e-5);  // + the f32 rounding of the exp argument (see elementwise.test.ts)
        CHECK_LE(e_sw, 6e-7);
        CHECK_LE(e_sig, 5e-7);
      });
    }
  }
}

TEST(elementwise_broadcast_and_fused_swiglu) {
  const int64_t shapes[][2] = {{1, 1}, {3, 17}, {5, 4097}, {33, 3}, {2000, 40}};
  for (auto& s : shapes) {
    const int64_t rows = s[0], d = s[1];
    Input a(rows * d, rows + d, 2, DType::BF16), b(d, d, 2, DType::F16), gu(rows * 2 * d, 3 * rows + d, 3, DType::F32);
    std::vector<float> out(rows * d);
    fltest::for_each_isa([&](int) {
      double e_add = 0, e_sw = 0;
      CHECK(fuselm::add(out.data(), a.raw.data(), DType::BF16, b.raw.data(), DType::F16, rows * d, d).ok());
      for (int64_t i = 0; i < rows * d; i++) e_add = std::fmax(e_add, rel(out[i], (double)a.v[i] + b.v[i % d]));
      CHECK(fuselm::swiglu(out.data(), gu.raw.data(), DType::F32, gu.raw.data() + 4 * d, DType::F32, rows, d, 2 * d, 2 * d).ok());
      for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < d; j++)
          e_sw = std::fmax(e_sw, rel(out[r * d + j], silu_d(gu.v[r * 2 * d + j]) * gu.v[r * 2 * d + d + j]));
      CHECK_LE(e_add, 6e-8);
      CHECK_LE(e_sw, 6e-7);
    });
  }
}

TEST(elementwise_rejects_bad_input) {
  float x[4] = {0, 0, 0, 0}, o[4];
  CHECK(fuselm::add(o, x, DType::F32, x, DType::F32, 4, 3).code == fuselm::Code::Range);
  CHECK(fuselm::add(o, x, DType::F32, x, DType::F32, -1, 1).code == fuselm::Code::Range);
  CHECK(fuselm::mul(o, x, DType::I32, x, DType::F32, 4, 4).code == fuselm::Code::Type);
  CHECK(fuselm::silu(o, x, DType::Q4_0, 4).code == fuselm::Code::Type);
  CHECK(fuselm::gelu(o, nullptr, DType::F32, 4).code == fuselm::Code::Range);
  CHECK(fuselm::swiglu(o, x, DType::F32, x, DType::F32, 2, 2, 1, 2).code == fuselm::Code::Range);
  CHECK(fuselm::silu(nullptr, nullptr, DType::F32, 0).ok());
}
