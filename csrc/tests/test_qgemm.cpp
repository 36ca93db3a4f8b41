// Native replay of the qgemm cases: quantizer bytes on hand-worked blocks, every
// format x every ISA against dequantize-then-float64 with the bounds stated in
// test/kernels/qgemm.test.ts, the MoE building blocks, and Status checks.
#include <cstring>

#include "tests/harness.h"

using fuselm::DType;

namespace {

const DType kWeights[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K,
                          DType::Q5_0, DType::Q4_1, DType::Q5_1, DType::IQ4_NL, DType::MXFP4};

int block_of(DType t) { return fuselm::dtype_traits((int32_t)t)->block_elems; }
int partner_block(DType t) {
  switch (t) {
    case DType::Q8_0: case DType::Q4_0: case DType::Q5_0: case DType::Q4_1: case DType::Q5_1: case DType::IQ4_NL:
    case DType::MXFP4:
      return 32;
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: return 256;
    default: return 0;
  }
}

}  // namespace

TEST(qgemm_quantizer_hand_worked_blocks) {
  // q8_0: amax 127 -> d = 1 (fp16 0x3c00); roundf: 2.5 -> 3, -2.5 -> -3, 0.5 -> 1
  float x[32] = {127, 2.5f, -2.5f, 3.5f, 0.49f, -1.5f, -127, 0.5f};
  uint8_t q[34];
  CHECK(fuselm::quantize(q, DType::Q8_0, x, 1, 32).ok());
  const int8_t want8[8] = {127, 3, -3, 4, 0, -2, -127, 1};
  CHECK(q[0] == 0x00 && q[1] == 0x3c);
  CHECK(std::memcmp(q + 2, want8, 8) == 0);
  // q4_0: largest magnitude -8 -> d = 1; q = min(15, trunc(x + 8.5))
  float y[32] = {-8, 7, 7.4f, -0.5f, 0.5f, 6.6f, 7.6f, -7.9f};
  y[16] = 1;
  y[17] = -1;
  uint8_t p[18];
  CHECK(fuselm::quantize(p, DType::Q4_0, y, 1, 32).ok());
  const int lo[8] = {0, 15, 15, 8, 9, 15, 15, 0};
  CHECK(p[0] == 0x00 && p[1] == 0x3c);
  for (int j = 0; j < 16; j++) {
    const int l = j < 8 ? lo[j] : 8, h = j == 0 ? 9 : j == 1 ? 7 : 8;
    CHECK(p[2 + j] == (uint8_t)(l | (h << 4)));
  }
}

// The legacy 32-block formats on hand-worked blocks (ggml's reference rules, as
// test/kernels/qgemm-legacy.test.ts states them).
TEST(qgemm_legacy_quantizer_hand_worked_blocks) {
  // q5_0: largest magnitude -16 -> d = 1; q = min(31, trunc(x + 16.5)), fifth bits in qh
  float x[32] = {-16, 15, 15.6f, -0.5f, 0.4f};
  uint8_t q[22];
  CHECK(fuselm::quantize(q, DType::Q5_0, x, 1, 32).ok());
  CHECK(q[0] == 0x00 && q[1] == 0x3c);
  uint32_t qh;
  std::memcpy(&qh, q + 2, 4);
  const int want[5] = {0, 31, 31, 16, 16};
  for (int j = 0; j < 32; j++) {
    const int c = j < 5 ? want[j] : 16;
    const int lo = j < 16 ? q[6 + j] & 15 : q[6 + j - 16] >> 4;
    CHECK((lo | (int)(((qh >> j) & 1) << 4)) == c);
  }
  // q4_1: d = (max - min) / 15 = 1, m = min = -3; q = min(15, trunc(x - min + 0.5))
  float y[32];
  for (int j = 0; j < 32; j++) y[j] = (float)(j % 16) - 3;
  y[5] = 1.4f;
  uint8_t p[20];
  CHECK(fuselm::quantize(p, DType::Q4_1, y, 1, 32).ok());
  CHECK(p[0] == 0x00 && p[1] == 0x3c && p[2] == 0x00 && p[3] == 0xc2);  // d = 1, m = -3
  CHECK((p[4 + 5] & 15) == 4);                                           // 1.4 + 3 + 0.5 -> 4
  // mxfp4: amax 6 -> e = floor(log2 6) - 2 + 127 = 127, d = 0.5: 6 -> code 7 (12 * 0.5), -1 -> code 10
  float z[32] = {6, -1, 0.24f, 0.26f};
  uint8_t m[17];
  CHECK(fuselm::quantize(m, DType::MXFP4, z, 1, 32).ok());
  CHECK(m[0] == 127);
  CHECK(m[1] == 7 && m[2] == 10 && (m[3] & 15) == 0 && (m[4] & 15) == 1);
  // iq4_nl: an all-zero block is d = 0 with every code 8 (the table value nearest 0)
  float zero[32] = {0};
  uint8_t n[18];
  CHECK(fuselm::quantize(n, DType::IQ4_NL, zero, 1, 32).ok());
  CHECK(n[0] == 0 && n[1] == 0);
  for (int j = 0; j < 16; j++) CHECK(n[2 + j] == 0x88);
}

TEST(qgemm_matmul_vs_f64_every_format) {
  const int64_t shapes[][2] = {{1, 33}, {2, 17}, {7, 5}, {9, 37}, {64, 13}, {333, 7}};
  for (DType wt : kWeights) {
    const int blk = block_of(wt);
    const int64_t K = blk == 256 ? 512 : blk == 32 ? 160 : 97;
    for (auto& s : shapes) {
      const int64_t M = s[0], N = s[1];
      fltest::Rng r(M * 31 + N * 7 + (int)wt);
      std::vector<float> w(N * K), x(M * K), bias(N), wd(N * K), out(M * N);
      for (auto& v : w) v = r.normal();
      for (auto& v : x) v = 2 * r.normal();
      for (auto& v : bias) v = r.normal();
      std::vector<uint8_t> W(N * fuselm::row_bytes(wt, K));
      CHECK(fuselm::quantize(W.data(), wt, w.data(), N, K).ok());
      CHECK(fuselm::dequantize(wd.data(), wt, W.data(), N, K).ok());
      CHECK(fuselm::check_weight(wt, N, K, W.size()).ok());
      // bounds: see test/kernels/qgemm.test.ts
      const bool gemv = M <= fuselm::kGemvMaxM;
      // x quantized to W's partner blocks in both regimes (the GEMM as int8 block dots)
      const int pb = partner_block(wt);
      const bool bf = !gemv && wt == DType::BF16;
      std::vector<double> ref(M * N), bound(M * N), mag(M * N);
      for (int64_t m = 0; m < M; m++) {
        std::vector<double> half(K, 0.0);
        if (pb)
          for (int64_t b = 0; b < K / pb; b++) {
            double amax = 0;
            for (int j = 0; j < pb; j++) amax = std::fmax(amax, std::fabs(x[m * K + b * pb + j]));
            for (int j = 0; j < pb; j++) half[b * pb + j] = amax / 127 / 2;
          }
        for (int64_t n = 0; n < N; n++) {
          double sum = bias[n], a = 0, aq = 0;
          for (int64_t k = 0; k < K; k++) {
            sum += (double)x[m * K + k] * wd[n * K + k];
            a += std::fabs((double)x[m * K + k] * wd[n * K + k]);
            aq += std::fabs(wd[n * K + k]) * half[k];
          }
          ref[m * N + n] = sum;
          mag[m * N + n] = a;
          bound[m * N + n] = aq * 1.0001 + (bf ? std::ldexp(1.0, -8) + std::ldexp(1.0, -16) : 0.0) * a + 2e-6 * a + 1e-6;
        }
      }
      std::vector<float> ref_out;
      fltest::for_each_isa([&](int isa) {
        CHECK(fuselm::matmul(out.data(), x.data(), M, K, W.data(), wt, N, bias.data()).ok());
        double worst = 0;
        if (isa == fuselm::ISA_REF) {
          for (int64_t i = 0; i < M * N; i++) worst = std::fmax(worst, std::fabs(out[i] - ref[i]) / bound[i]);
          ref_out = out;
        } else {
          for (int64_t i = 0; i < M * N; i++)
            worst = std::fmax(worst, std::fabs(out[i] - ref_out[i]) / (1e-5 * mag[i] + 1e-6));
        }
        if (!(worst <= 1.0))
          std::fprintf(stderr, "  %s M=%lld N=%lld K=%lld: %g of the bound\n", fuselm::dtype_traits((int32_t)wt)->name,
                       (long long)M, (long long)N, (long long)K, worst);
        CHECK_LE(worst, 1.0);
      });
    }
  }
}

// The repacked Q4_0X16 / Q8_0X16: matmul_rows_st over ranges that cut groups
// (the scratch-tile path), M = 1..9, every ISA, against the plain format's rows.
TEST(qgemm_repacked_rows_cut_groups) {
  const int64_t N = 48;
  const DType pairs[9][2] = {{DType::Q4_0, DType::Q4_0X16}, {DType::Q8_0, DType::Q8_0X16},
                             {DType::Q4_K, DType::Q4_KX16}, {DType::Q6_K, DType::Q6_KX16},
                             {DType::Q5_0, DType::Q5_0X16}, {DType::Q4_1, DType::Q4_1X16},
                             {DType::Q5_1, DType::Q5_1X16}, {DType::IQ4_NL, DType::IQ4_NLX16},
                             {DType::MXFP4, DType::MXFP4X16}};
  for (const auto& pr : pairs) {
    const int64_t K = pr[0] == DType::Q4_K || pr[0] == DType::Q6_K ? 512 : 96;
    fltest::Rng r(5 + (int)pr[0]);
    std::vector<float> w(N * K);
    for (auto& v : w) v = r.normal();
    std::vector<uint8_t> W(N * fuselm::row_bytes(pr[0], K)), P(N * fuselm::row_bytes(pr[1], K)), B(W.size());
    CHECK(fuselm::quantize(W.data(), pr[0], w.data(), N, K).ok());
    CHECK(fuselm::repack(P.data(), pr[1], W.data(), pr[0], N, K).ok());
    CHECK(fuselm::repack(B.data(), pr[0], P.data(), pr[1], N, K).ok());
    CHECK(std::memcmp(B.data(), W.data(), W.size()) == 0);
    CHECK(fuselm::repack(B.data(), pr[1], W.data(), pr[0], N - 1, K).code == fuselm::Code::Range);
    CHECK(fuselm::check_weight(pr[1], N - 8, K, 1 << 20).code == fuselm::Code::Range);
    for (int64_t M = 1; M <= 9; M += 4) {
      std::vector<float> x(M * K), a(M * N), b(M * N, -1.0f);
      for (auto& v : x) v = r.normal();
      std::vector<uint8_t> acts(fuselm::qacts_bytes(pr[1], M, K));
      fltest::for_each_isa([&](int) {
        CHECK(fuselm::quantize_acts(acts.data(), pr[1], x.data(), M, K).ok());
        fuselm::matmul_rows_st(a.data(), N, acts.data(), M, K, W.data(), pr[0], 0, N);
        const int64_t cuts[] = {0, 5, 16, 21, 40, 47, 48};
        for (int c = 0; c + 1 < 7; c++)
          fuselm::matmul_rows_st(b.data(), N, acts.data(), M, K, P.data(), pr[1], cuts[c], cuts[c + 1]);
        double worst = 0;
        for (int64_t i = 0; i < M * N; i++) worst = std::fmax(worst, std::fabs(a[i] - b[i]) / (1e-5 * std::fabs(a[i]) + 1e-4));
        CHECK_LE(worst, 1.0);
      });
    }
  }
}

// The MoE building blocks: quantize_acts + matmul_rows_st over row ranges equal matmul (M <= 8).
TEST(qgemm_rows_st_equals_matmul) {
  const int64_t M = 3, N = 21, K = 512;
  for (DType wt : kWeights) {
    fltest::Rng r(77 + (int)wt);
    std::vector<float> w(N * K), x(M * K), a(M * N), b(M * N, -1.0f);
    for (auto& v : w) v = r.normal();
    for (auto& v : x) v = r.normal();
    std::vector<uint8_t> W(N * fuselm::row_bytes(wt, K));
    CHECK(fuselm::quantize(W.data(), wt, w.data(), N, K).ok());
    fltest::for_each_isa([&](int) {
      CHECK(fuselm::matmul(a.data(), x.data(), M, K, W.data(), wt, N, nullptr).ok());
      std::vector<uint8_t> acts(fuselm::qacts_bytes(wt, M, K));
      CHECK(fuselm::quantize_acts(acts.data(), wt, x.data(), M, K).ok());
      fuselm::matmul_rows_st(b.data(), N, acts.data(), M, K, W.data(), wt, 0, 10);
      fuselm::matmul_rows_st(b.data(), N, acts.data(), M, K, W.data(), wt, 10, N);
      CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
    });
  }
}

TEST(qgemm_dequantize_row_and_rejects) {
  float x[256], y[256];
  for (int i = 0; i < 256; i++) x[i] = (float)(i % 17) - 8.0f;
  uint8_t q[256 * 4];
  CHECK(fuselm::quantize(q, DType::Q8_0, x, 1, 256).ok());
  CHECK(fuselm::dequantize_row(DType::Q8_0, q, y, 256));
  CHECK(std::fabs(y[5] - x[5]) <= 8.0f / 127 / 2 + 1e-6f);
  CHECK(!fuselm::dequantize_row(DType::LUT4, q, y, 32));
  using fuselm::Code;
  CHECK(fuselm::check_weight(DType::Q4_0, 4, 48, 1 << 20).code == Code::Range);       // K not whole blocks
  CHECK(fuselm::check_weight(DType::Q4_K, 4, 256, 4 * 144 - 1).code == Code::Range);  // W too small
  CHECK(fuselm::check_weight(DType::LUT3, 4, 256, 1 << 20).code == Code::Type);
  CHECK(fuselm::check_weight(DType::I8, 4, 256, 1 << 20).code == Code::Type);
  CHECK(fuselm::quantize(q, DType::Q6_K, x, 1, 100).code == Code::Range);
  CHECK(fuselm::quantize(q, DType::I32, x, 1, 32).code == Code::Type);
  CHECK(fuselm::matmul(y, x, -1, 32, q, DType::Q8_0, 1, nullptr).code == Code::Range);
  CHECK(fuselm::quantize_acts(q, DType::Q4_K, x, 1, 200).code == Code::Range);
  CHECK(fuselm::check_weight(DType::Q4_0, 4, 64, 4 * 36).ok());
}

// The int8 GEMM (M > 8) at extreme codes against +-127 activations (x = +-1): the AVX2
// kernel's int16 chains of maddubs pairs and the VNNI q8_0 offset must not saturate
// (bounds as in test/kernels/qgemm.test.ts).
TEST(qgemm_int8_gemm_extreme_codes) {
  const int64_t M = 9, N = 19, K = 512;
  const DType fmts[] = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K};
  std::vector<float> w(N * K), wd(N * K), x(M * K), out(M * N), ref_out;
  for (int64_t n = 0; n < N; n++)
    for (int64_t k = 0; k < K; k++) w[n * K + k] = ((k % 32 == 0) == (n % 2 == 0)) ? -1.0f : 0.875f;
  for (float sign : {1.0f, -1.0f}) {
    for (auto& v : x) v = sign;
    for (DType wt : fmts) {
      std::vector<uint8_t> W(N * fuselm::row_bytes(wt, K));
      CHECK(fuselm::quantize(W.data(), wt, w.data(), N, K).ok());
      CHECK(fuselm::dequantize(wd.data(), wt, W.data(), N, K).ok());
      std::vector<double> ref(M * N), bound(M * N), mag(M * N);
      for (int64_t n = 0; n < N; n++) {
        double s = 0, a = 0;
        for (int64_t k = 0; k < K; k++) {
          s += (double)sign * wd[n * K + k];
          a += std::fabs((double)wd[n * K + k]);
        }
        for (int64_t m = 0; m < M; m++) {
          ref[m * N + n] = s;
          mag[m * N + n] = a;
          bound[m * N + n] = a * (1.0 / 127 / 2) * 1.0001 + 2e-6 * a + 1e-6;  // amax = 1 in every block
        }
      }
      fltest::for_each_isa([&](int isa) {
        CHECK(fuselm::matmul(out.data(), x.data(), M, K, W.data(), wt, N, nullptr).ok());
        double worst = 0, worst_ref = 0;
        for (int64_t i = 0; i < M * N; i++) worst = std::fmax(worst, std::fabs(out[i] - ref[i]) / bound[i]);
        if (isa == fuselm::ISA_REF) ref_out = out;
        for (int64_t i = 0; i < M * N; i++)
          worst_ref = std::fmax(worst_ref, std::fabs(out[i] - ref_out[i]) / (1e-5 * mag[i] + 1e-6));
        CHECK_LE(worst, 1.0);
        CHECK_LE(worst_ref, 1.0);
      });
    }
  }
}
