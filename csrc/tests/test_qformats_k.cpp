// Native replay of test/kernels/qgemm-k.test.ts for IQ4_XS, Q3_K and Q2_K: a hand-worked
// IQ4_XS block, every format (GGUF and x16 layouts) x every ISA against
// dequantize-then-float64 (the q8_K activation bound) and the ref path, the repack round
// trip, and the MoE building blocks.
#include <cstring>

#include "fuselm/iq4_values.h"
#include "tests/harness.h"

using fuselm::DType;

namespace {

const DType kPlain[] = {DType::IQ4_XS, DType::Q3_K, DType::Q2_K};
DType packed_of(DType t) {
  return t == DType::IQ4_XS ? DType::IQ4_XSX16 : t == DType::Q3_K ? DType::Q3_KX16 : DType::Q2_KX16;
}

}  // namespace

TEST(qformats_k_iq4_xs_hand_worked_block) {
  // sub-block j: the 16 levels twice, times j + 1: d = -max_scale / 32 = -0.25 (fp16 0xb400),
  // ls - 32 = -4 (j + 1), weight l codes as level l % 16; the round trip is exact
  float x[256], y[256];
  for (int j = 0; j < 8; j++)
    for (int l = 0; l < 32; l++) x[32 * j + l] = (float)((j + 1) * fuselm::kIq4nlValues[l % 16]);
  uint8_t q[136];
  CHECK(fuselm::quantize(q, DType::IQ4_XS, x, 1, 256).ok());
  CHECK(q[0] == 0x00 && q[1] == 0xb4);
  const int sh = q[2] | (q[3] << 8);
  for (int j = 0; j < 8; j++) CHECK((((q[4 + j / 2] >> (4 * (j % 2))) & 15) | (((sh >> (2 * j)) & 3) << 4)) - 32 == -4 * (j + 1));
  for (int l = 0; l < 16; l++) CHECK(q[8 + l] == (uint8_t)(l | (l << 4)));
  CHECK(fuselm::dequantize(y, DType::IQ4_XS, q, 1, 256).ok());
  CHECK(std::memcmp(x, y, sizeof x) == 0);
}

TEST(qformats_k_matmul_vs_f64_every_isa) {
  const int64_t Ms[] = {1, 3, 8, 9, 17};
  for (DType base : kPlain)
    for (int pk = 0; pk < 2; pk++)
      for (int64_t K : {256, 4352})
        for (int64_t N : {17, 48}) {
          if (pk && N % 16) continue;
          const DType wt = pk ? packed_of(base) : base;
          fltest::Rng r(N * 7 + K + (int)wt);
          std::vector<float> w(N * K), wd(N * K);
          for (auto& v : w) v = r.normal();
          std::vector<uint8_t> W(N * fuselm::row_bytes(base, K)), P(N * fuselm::row_bytes(wt, K)), B(W.size());
          CHECK(fuselm::quantize(W.data(), base, w.data(), N, K).ok());
          CHECK(fuselm::dequantize(wd.data(), base, W.data(), N, K).ok());
          if (pk) {
            CHECK(fuselm::repack(P.data(), wt, W.data(), base, N, K).ok());
            CHECK(fuselm::repack(B.data(), base, P.data(), wt, N, K).ok());
            CHECK(std::memcmp(B.data(), W.data(), W.size()) == 0);
          } else {
            P = W;
          }
          CHECK(fuselm::check_weight(wt, N, K, P.size()).ok());
          for (int64_t M : Ms) {
            std::vector<float> x(M * K), out(M * N), ref_out;
            for (auto& v : x) v = 2 * r.normal();
            std::vector<double> ref(M * N), bound(M * N), mag(M * N);
            for (int64_t m = 0; m < M; m++) {
              std::vector<double> half(K);
              for (int64_t b = 0; b < K / 256; b++) {
                double amax = 0;
                for (int j = 0; j < 256; j++) amax = std::fmax(amax, std::fabs(x[m * K + b * 256 + j]));
                for (int j = 0; j < 256; j++) half[b * 256 + j] = amax / 127 / 2;
              }
              for (int64_t n = 0; n < N; n++) {
                double s = 0, a = 0, aq = 0;
                for (int64_t k = 0; k < K; k++) {
                  s += (double)x[m * K + k] * wd[n * K + k];
                  a += std::fabs((double)x[m * K + k] * wd[n * K + k]);
                  aq += std::fabs(wd[n * K + k]) * half[k];
                }
                ref[m * N + n] = s;
                mag[m * N + n] = a;
                bound[m * N + n] = aq * 1.0001 + 2e-6 * a + 1e-6;
              }
            }
            fltest::for_each_isa([&](int isa) {
              CHECK(fuselm::matmul(out.data(), x.data(), M, K, P.data(), wt, N, nullptr).ok());
              double worst = 0;
              if (isa == fuselm::ISA_REF) {
                for (int64_t i = 0; i < M * N; i++) worst = std::fmax(worst, std::fabs(out[i] - ref[i]) / bound[i]);
                ref_out = out;
              } else {
                for (int64_t i = 0; i < M * N; i++)
                  worst = std::fmax(worst, std::fabs(out[i] - ref_out[i]) / (1e-5 * mag[i] + 1e-6));
              }
              if (!(worst <= 1.0))
                std::fprintf(stderr, "  %s M=%lld N=%lld K=%lld isa=%d: %g of the bound\n",
                             fuselm::dtype_traits((int32_t)wt)->name, (long long)M, (long long)N, (long long)K, isa, worst);
              CHECK_LE(worst, 1.0);
            });
          }
        }
}

// MoE's building blocks: quantize_acts + matmul_rows_st over row ranges (cutting 16-row
// groups for the x16 forms) equal matmul (M <= 8)
TEST(qformats_k_rows_st_equals_matmul) {
  const int64_t M = 3, N = 32, K = 512;
  for (DType base : kPlain)
    for (DType wt : {base, packed_of(base)}) {
      fltest::Rng r(91 + (int)wt);
      std::vector<float> w(N * K), x(M * K), a(M * N), b(M * N, -1.0f);
      for (auto& v : w) v = r.normal();
      for (auto& v : x) v = r.normal();
      std::vector<uint8_t> W(N * fuselm::row_bytes(base, K)), P(N * fuselm::row_bytes(wt, K));
      CHECK(fuselm::quantize(W.data(), base, w.data(), N, K).ok());
      if (wt != base) CHECK(fuselm::repack(P.data(), wt, W.data(), base, N, K).ok());
      else P = W;
      fltest::for_each_isa([&](int) {
        CHECK(fuselm::matmul(a.data(), x.data(), M, K, P.data(), wt, N, nullptr).ok());
        std::vector<uint8_t> acts(fuselm::qacts_bytes(wt, M, K));
        CHECK(fuselm::quantize_acts(acts.data(), wt, x.data(), M, K).ok());
        fuselm::matmul_rows_st(b.data(), N, acts.data(), M, K, P.data(), wt, 0, 5);
        fuselm::matmul_rows_st(b.data(), N, acts.data(), M, K, P.data(), wt, 5, 21);
        fuselm::matmul_rows_st(b.data(), N, acts.data(), M, K, P.data(), wt, 21, N);
        double worst = 0;
        for (int64_t i = 0; i < M * N; i++) worst = std::fmax(worst, std::fabs(a[i] - b[i]) / (1e-5 * std::fabs(a[i]) + 1e-4));
        CHECK_LE(worst, 1.0);
      });
    }
  using fuselm::Code;
  CHECK(fuselm::check_weight(DType::Q3_K, 4, 255, 1 << 20).code == Code::Range);
  CHECK(fuselm::check_weight(DType::IQ4_XS, 4, 256, 4 * 136 - 1).code == Code::Range);
  CHECK(fuselm::check_weight(DType::Q2_KX16, 8, 256, 1 << 20).code == Code::Range);
  uint8_t q[256];
  float x[256] = {0};
  CHECK(fuselm::quantize(q, DType::Q2_K, x, 1, 128).code == Code::Range);
  CHECK(fuselm::repack(q, DType::Q3_KX16, q, DType::IQ4_XS, 16, 256).code == Code::Type);
}

#ifdef FUSELM_WITH_CUDA
#include "fuselm/cuda.h"
// needs no device: the CUDA kernels' decoders (csrc/cuda/formats_k.cuh) run on the host
// against the CPU dequantizers, on quantized Gaussian rows with tails of the 8-weight loads
TEST(qformats_k_cuda_decoders_match_cpu_dequant_on_host) {
  const int64_t N = 5, K = 1024;
  for (DType t : kPlain) {
    fltest::Rng r(17 + (int)t);
    std::vector<float> w(N * K), ref(N * K), got(K);
    for (auto& v : w) v = r.normal();
    const int64_t rb = fuselm::row_bytes(t, K);
    std::vector<uint8_t> W(N * rb);
    CHECK(fuselm::quantize(W.data(), t, w.data(), N, K).ok());
    CHECK(fuselm::dequantize(ref.data(), t, W.data(), N, K).ok());
    double e = 0;
    for (int64_t n = 0; n < N; n++) {
      CHECK(fuselm::cuda::decode_row_host(got.data(), W.data() + n * rb, t, K).ok());
      for (int64_t k = 0; k < K; k++) e = std::fmax(e, std::fabs(got[k] - ref[n * K + k]) / (std::fabs(ref[n * K + k]) + 1e-3));
    }
    if (!(e <= 1e-6)) std::fprintf(stderr, "  decode_row_host(%s): %g\n", fuselm::dtype_traits((int32_t)t)->name, e);
    CHECK_LE(e, 1e-6);
  }
}
#endif
