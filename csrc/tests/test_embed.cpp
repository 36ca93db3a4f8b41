// Native replay of the embed cases: gather (plain and quantized tables) and argmax on every ISA.
#include "fuselm/fp16.h"
#include "tests/harness.h"

using fuselm::DType;

TEST(gather_plain_exact) {
  const int64_t shapes[][3] = {{1, 1, 1}, {3, 3, 5}, {17, 17, 3}, {50, 4097, 4}, {1000, 64, 300}};
  for (auto& s : shapes) {
    const int64_t V = s[0], D = s[1], T = s[2];
    fltest::Rng r(V + D);
    std::vector<float> f32(V * D);
    std::vector<uint16_t> f16(V * D), bf16(V * D);
    for (int64_t i = 0; i < V * D; i++) {
      f32[i] = 2 * r.normal();
      f16[i] = fuselm::fp32_to_fp16(f32[i]);
      bf16[i] = fuselm::fp32_to_bf16(f32[i]);
    }
    std::vector<int32_t> ids(T);
    for (int64_t t = 0; t < T; t++) ids[t] = (int32_t)(r.next() % (uint64_t)V);
    ids[T - 1] = (int32_t)(V - 1);
    std::vector<float> out(T * D);
    fltest::for_each_isa([&](int) {
      bool same = true;
      CHECK(fuselm::gather(out.data(), f32.data(), DType::F32, V, D, ids.data(), T).ok());
      for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < D; j++) same = same && out[t * D + j] == f32[ids[t] * D + j];
      CHECK(fuselm::gather(out.data(), f16.data(), DType::F16, V, D, ids.data(), T).ok());
      for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < D; j++) same = same && out[t * D + j] == fuselm::fp16_to_fp32(f16[ids[t] * D + j]);
      CHECK(fuselm::gather(out.data(), bf16.data(), DType::BF16, V, D, ids.data(), T).ok());
      for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < D; j++) same = same && out[t * D + j] == fuselm::bf16_to_fp32(bf16[ids[t] * D + j]);
      CHECK(same);
    });
  }
}

TEST(gather_quantized_matches_dequantize) {
  const int64_t V = 9, D = 512;
  fltest::Rng r(5);
  std::vector<float> w(V * D), full(V * D), out(3 * D);
  for (auto& v : w) v = r.normal();
  for (DType q : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K}) {
    std::vector<uint8_t> blocks(fuselm::row_bytes(q, D) * V);
    CHECK(fuselm::quantize(blocks.data(), q, w.data(), V, D).ok());
    CHECK(fuselm::dequantize(full.data(), q, blocks.data(), V, D).ok());
    const int32_t ids[3] = {8, 0, 4};
    fltest::for_each_isa([&](int) {
      CHECK(fuselm::gather(out.data(), blocks.data(), q, V, D, ids, 3).ok());
      bool same = true;
      for (int t = 0; t < 3; t++)
        for (int64_t j = 0; j < D; j++) same = same && out[t * D + j] == full[ids[t] * D + j];
      CHECK(same);
    });
  }
}

TEST(gather_rejects_bad_input) {
  float table[8] = {0}, out[8] = {7, 7, 7, 7, 7, 7, 7, 7};
  const int32_t bad[2] = {1, 4};
  fuselm::Status st = fuselm::gather(out, table, DType::F32, 4, 2, bad, 2);
  CHECK(st.code == fuselm::Code::Range && st.arg == "ids[1]" && st.got == "4" && st.expected == "integer in [0, 3]");
  CHECK(out[0] == 7 && out[1] == 7);  // nothing written before the check
  CHECK(fuselm::gather(out, table, DType::LUT4, 4, 32, bad, 1).code == fuselm::Code::Unsupported);
  CHECK(fuselm::gather(out, table, DType::Q4_0, 4, 31, bad, 1).code == fuselm::Code::Range);
  CHECK(!fuselm::gather_supported(DType::I32) && fuselm::gather_supported(DType::Q6_K));
}

static int64_t argmax_ref(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 0; i < n; i++) {
    if (x[i] != x[i]) return i;
    if (x[i] > x[best]) best = i;
  }
  return best;
}

TEST(argmax_exact) {
  const int64_t shapes[][2] = {{1, 1}, {1, 3}, {3, 17}, {2, 4097}, {300, 33}, {4, 8}, {2, 16}, {1, 151936}};
  for (auto& s : shapes) {
    const int64_t rows = s[0], D = s[1];
    fltest::Rng r(rows + 3 * D);
    std::vector<float> x(rows * D);
    for (auto& v : x) v = r.normal();
    for (int64_t i = 0; i < rows; i++) {
      float* row = x.data() + i * D;
      const int64_t at = argmax_ref(row, D);
      if (i % 2 == 0) row[D - 1] = row[at];            // a later tie
      if (i % 3 == 1 && at > 0) row[at - 1] = row[at];  // an earlier tie
      if (i % 5 == 4) row[D / 2] = NAN;
      if (i % 7 == 6) for (int64_t j = 0; j < D; j++) row[j] = -INFINITY;
    }
    std::vector<int32_t> out(rows);
    fltest::for_each_isa([&](int) {
      CHECK(fuselm::argmax_f32(out.data(), x.data(), rows, D).ok());
      bool same = true;
      for (int64_t i = 0; i < rows; i++) same = same && out[i] == argmax_ref(x.data() + i * D, D);
      CHECK(same);
    });
  }
  int32_t o;
  CHECK(fuselm::argmax_f32(&o, nullptr, 1, 0).code == fuselm::Code::Range);
}
