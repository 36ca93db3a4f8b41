// Native replay of the lut cases: quantize, then every ISA's matmul and
// dequantize against float64 math on an independent decode of the documented layout.
#include <cstring>
#include "fuselm/fp16.h"
#include "tests/harness.h"

namespace {

struct Lut {
  int bits;
  int64_t n, k, nnz;
  std::vector<uint8_t> codes;
  std::vector<uint16_t> table, val;
  std::vector<int32_t> row_ptr, col;
  fuselm::LutMatrix view() const {
    return {codes.data(), table.data(), row_ptr.data(), col.data(), val.data(), n, k, nnz, bits};
  }
};

Lut make(int bits, int64_t n, int64_t k, int64_t nnz, const std::vector<float>& w) {
  Lut q{bits, n, k, nnz};
  q.codes.resize(n * k / 32 * (bits == 4 ? 16 : 12));
  q.table.resize(n << bits);
  q.row_ptr.resize(n + 1);
  q.col.resize(nnz + 1);
  q.val.resize(nnz + 1);
  fuselm::LutQuantizeOptions o;
  o.bits = bits;
  o.nnz = nnz;
  o.seed = 7;
  CHECK(fuselm::lut_quantize_f32(q.codes.data(), q.table.data(), q.row_ptr.data(), q.col.data(), q.val.data(),
                                 w.data(), n, k, o).ok());
  return q;
}

// W[n, k] in double from the layout in blocks.h
std::vector<double> decode(const Lut& q) {
  std::vector<double> d(q.n * q.k);
  const int64_t bb = q.bits == 4 ? 16 : 12, rb = q.k / 32 * bb;
  for (int64_t r = 0; r < q.n; r++)
    for (int64_t i = 0; i < q.k; i++) {
      const uint8_t* blk = q.codes.data() + r * rb + (i / 32) * bb;
      const int j = (int)(i % 32);
      int c;
      if (q.bits == 4) {
        c = j < 16 ? blk[j] & 15 : blk[j - 16] >> 4;
      } else {
        const int bit = 3 * j;
        uint32_t v = blk[bit / 8] | (bit / 8 + 1 < 12 ? blk[bit / 8 + 1] << 8 : 0);
        c = (int)((v >> (bit % 8)) & 7);
      }
      d[r * q.k + i] = fuselm::fp16_to_fp32(q.table[(r << q.bits) + c]);
    }
  for (int64_t r = 0; r < q.n; r++)
    for (int32_t e = q.row_ptr[r]; e < q.row_ptr[r + 1]; e++) d[r * q.k + q.col[e]] += fuselm::fp16_to_fp32(q.val[e]);
  return d;
}

}  // namespace

TEST(lut_matmul_vs_f64) {
  const int64_t shapes[][3] = {{1, 1, 32}, {1, 17, 96}, {2, 33, 256}, {7, 5, 512}, {4, 64, 4096}, {64, 9, 160}, {3, 40, 64}};
  for (int bits = 3; bits <= 4; bits++)
    for (auto& s : shapes) {
      const int64_t m = s[0], n = s[1], k = s[2];
      fltest::Rng r(m * 7919 + n * 31 + k + bits);
      std::vector<float> w(n * k), x(m * k), bias(n), out(m * n);
      for (auto& v : w) v = r.normal() / (0.2f + r.uniform());  // heavy-ish tails
      for (auto& v : x) v = r.normal();
      for (auto& v : bias) v = r.normal();
      const Lut q = make(bits, n, k, (n * k) / 100, w);
      const std::vector<double> d = decode(q);
      fltest::for_each_isa([&](int) {
        std::vector<double> deq(n * k);
        std::vector<float> df(n * k);
        CHECK(fuselm::lut_dequantize_f32(df.data(), q.view()).ok());
        double worst_d = 0;
        for (int64_t i = 0; i < n * k; i++) worst_d = std::fmax(worst_d, std::fabs(df[i] - (float)d[i]));
        CHECK_LE(worst_d, 0.0);  // dense value + fp16 residual, one f32 add: exact
        CHECK(fuselm::lut_matmul_f32(out.data(), x.data(), q.view(), bias.data(), m).ok());
        double worst = 0;
        for (int64_t i = 0; i < m; i++)
          for (int64_t j = 0; j < n; j++) {
            double ref = bias[j], mag = std::fabs(bias[j]);
            for (int64_t t = 0; t < k; t++) {
              ref += d[j * k + t] * x[i * k + t];
              mag += std::fabs(d[j * k + t] * x[i * k + t]);
            }
            worst = std::fmax(worst, std::fabs(out[i * n + j] - ref) / (mag + 1e-30));
          }
        // f32 accumulation; plus bf16 x and table on AVX-512's GEMV path (see fuselm/ops/lut.h)
        const bool bf16 = fuselm::active_isa() == fuselm::ISA_AVX512 && m <= 4;
        CHECK_LE(worst, (bf16 ? std::ldexp(1.0, -8) : 0.0) + (k / 16.0 + 16) * std::ldexp(1.0, -24));
      });
    }
}

TEST(lut_rejects_bad_input) {
  std::vector<float> w(64, 1.0f), x(32, 1.0f), out(2);
  Lut q = make(4, 2, 32, 2, w);
  CHECK(fuselm::lut_matmul_f32(out.data(), x.data(), q.view(), nullptr, 1).ok());
  Lut bad = q;
  bad.col[0] = 32;
  CHECK(fuselm::lut_matmul_f32(out.data(), x.data(), bad.view(), nullptr, 1).code == fuselm::Code::Range);
  bad = q;
  bad.col[1] = -1;
  CHECK(fuselm::lut_dequantize_f32(w.data(), bad.view()).code == fuselm::Code::Range);
  bad = q;
  bad.row_ptr[1] = 3;
  CHECK(fuselm::lut_matmul_f32(out.data(), x.data(), bad.view(), nullptr, 1).code == fuselm::Code::Range);
  bad = q;
  bad.row_ptr[0] = 1;
  CHECK(fuselm::lut_matmul_f32(out.data(), x.data(), bad.view(), nullptr, 1).code == fuselm::Code::Range);
  fuselm::LutMatrix v = q.view();
  v.k = 48;
  CHECK(fuselm::lut_matmul_f32(out.data(), x.data(), v, nullptr, 1).code == fuselm::Code::Range);
  v = q.view();
  v.bits = 5;
  CHECK(fuselm::lut_matmul_f32(out.data(), x.data(), v, nullptr, 1).code == fuselm::Code::Range);
  w[3] = NAN;
  fuselm::LutQuantizeOptions o;
  CHECK(fuselm::lut_quantize_f32(q.codes.data(), q.table.data(), q.row_ptr.data(), q.col.data(), q.val.data(),
                                 w.data(), 2, 32, o).code == fuselm::Code::Range);
}
