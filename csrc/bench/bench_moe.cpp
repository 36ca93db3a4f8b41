// Native bench cases for family `moe` (the same shapes as lib/bench/moe.ts): a
// Mixtral-like layer scaled to fit, D = 2048, expert FF = 5632, E = 8, k = 2, Q4_0.
//  - decode (T = 1), judged against DRAM read over the bytes of the 2 routed experts;
//    successive runs route to disjoint expert pairs (8 experts = 156 MB, past the L3).
//    Next to it, the same rows as plain matmul GEMVs (gate|up of 2 experts as one
//    [22528, 2048] GEMV, then one [4096, 5632]) over 4 weight sets cycled the same way:
//    what MoE adds on top of the GEMV is the ratio of the two times. Both again with
//    the weights repacked for the GEMV (Q4_0X16: the same bytes).
//  - prefill (T = 512) against the same FLOPs as dense GEMMs (target: within 1.5x).
#include <memory>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "fuselm/ops.h"

namespace {

using fuselm::DType;

std::vector<float> random_f32(int64_t n, uint32_t seed, float scale) {
  std::vector<float> v((size_t)n);
  for (float& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = ((float)(seed >> 8) * (1.0f / 8388608.0f) - 1.0f) * scale;
  }
  return v;
}

// q4_0 [n, k] as a 64-row tile repeated (speed does not depend on values), appended to dst
void append_q4_0(std::vector<uint8_t>& dst, int64_t n, int64_t k, uint32_t seed) {
  const int64_t tile = 64;
  std::vector<float> w = random_f32(tile * k, seed, 0.05f);
  const size_t rb = fuselm::row_bytes(DType::Q4_0, k);
  std::vector<uint8_t> q(tile * rb);
  fuselm::quantize(q.data(), DType::Q4_0, w.data(), tile, k);
  for (int64_t r = 0; r < n / tile; r++) dst.insert(dst.end(), q.begin(), q.end());
}

constexpr int64_t D = 2048, FF = 5632, E = 8, K = 2, T = 512;

// q4_0 [n, k] in place -> Q4_0X16 (n a multiple of 16)
void to_x16(std::vector<uint8_t>& w, int64_t n, int64_t k) {
  std::vector<uint8_t> t(w.size());
  fuselm::repack(t.data(), DType::Q4_0X16, w.data(), DType::Q4_0, n, k);
  w.swap(t);
}

struct Layer {
  std::vector<uint8_t> gate, up, down;  // [E, FF, D], [E, FF, D], [E, D, FF]
  std::vector<fuselm::MoeMatrix> mg, mu, md;
  fuselm::MoeFfnWeights w;
  explicit Layer(DType t) {
    for (int64_t e = 0; e < E; e++) {
      append_q4_0(gate, FF, D, 10 + (uint32_t)e);
      append_q4_0(up, FF, D, 20 + (uint32_t)e);
      append_q4_0(down, D, FF, 30 + (uint32_t)e);
    }
    if (t == DType::Q4_0X16) {
      to_x16(gate, E * FF, D);
      to_x16(up, E * FF, D);
      to_x16(down, E * D, FF);
    }
    const size_t eg = (size_t)FF * fuselm::row_bytes(t, D), ed = (size_t)D * fuselm::row_bytes(t, FF);
    for (int64_t e = 0; e < E; e++) {
      mg.push_back({gate.data() + e * eg, t, eg});
      mu.push_back({up.data() + e * eg, t, eg});
      md.push_back({down.data() + e * ed, t, ed});
    }
    w.E = E; w.D = D; w.FF = FF;
    w.gate = mg.data(); w.up = mu.data(); w.down = md.data();
  }
};

const double kExpertBytes = 3.0 * FF * (D / 32) * 18;  // gate + up + down of one q4_0 expert

// decode over `layer` (4 disjoint expert pairs, cycled), then the same rows as plain GEMVs
void decode_cases(std::vector<flbench::Case>& cases, DType t, const std::string& shape) {
  auto layer = std::make_shared<Layer>(t);
  const std::string fmt = fuselm::dtype_traits((int32_t)t)->name;
  {
    auto x = std::make_shared<std::vector<float>>(random_f32(D, 1, 1.0f));
    auto out = std::make_shared<std::vector<float>>(D);
    auto i = std::make_shared<int>(0);
    cases.push_back({"moeFfn decode(" + fmt + ",T=1," + shape + "; bytes of routed experts)", "dram", K * kExpertBytes + 2.0 * D * 4,
                     2.0 * K * 3 * FF * D, [=] {
                       const int p = (*i)++ % 4;
                       const int32_t ids[K] = {2 * p, 2 * p + 1};
                       const float wts[K] = {0.6f, 0.4f};
                       fuselm::moe_ffn(out->data(), x->data(), 1, ids, wts, K, layer->w, fuselm::MoeFfnOptions{}, nullptr,
                                       nullptr);
                     }});
  }
  {  // the same rows as plain GEMVs, 4 weight sets cycled
    auto w1 = std::make_shared<std::vector<std::vector<uint8_t>>>(4), w2 = std::make_shared<std::vector<std::vector<uint8_t>>>(4);
    for (int s = 0; s < 4; s++) {
      append_q4_0((*w1)[s], 2 * K * FF, D, 40 + s);
      append_q4_0((*w2)[s], K * D, FF, 50 + s);
      if (t == DType::Q4_0X16) {
        to_x16((*w1)[s], 2 * K * FF, D);
        to_x16((*w2)[s], K * D, FF);
      }
    }
    auto x = std::make_shared<std::vector<float>>(random_f32(D, 1, 1.0f));
    auto h = std::make_shared<std::vector<float>>(2 * K * FF);
    auto y = std::make_shared<std::vector<float>>(K * D);
    auto i = std::make_shared<int>(0);
    cases.push_back({"matmul GEMV over the same bytes as moeFfn decode(" + fmt + ",1x" + std::to_string(D) + "x" + std::to_string(2 * K * FF) +
                         " + 1x" + std::to_string(FF) + "x" + std::to_string(K * D) + ")",
                     "dram", K * kExpertBytes + 2.0 * D * 4, 2.0 * K * 3 * FF * D, [=] {
                       const int s = (*i)++ % 4;
                       fuselm::matmul(h->data(), x->data(), 1, D, (*w1)[s].data(), t, 2 * K * FF, nullptr);
                       // h's first FF values stand in for the SwiGLU output of one expert's rows
                       fuselm::matmul(y->data(), h->data(), 1, FF, (*w2)[s].data(), t, K * D, nullptr);
                     }});
  }
}

}  // namespace

FL_BENCH(moe) {
  const std::string shape = "D=" + std::to_string(D) + ",FF=" + std::to_string(FF) + ",E=" + std::to_string(E) +
                            ",k=" + std::to_string(K);
  decode_cases(cases, DType::Q4_0, shape);
  decode_cases(cases, DType::Q4_0X16, shape);
  auto layer = std::make_shared<Layer>(DType::Q4_0);
  const double prefill_flops = 2.0 * T * K * 3 * FF * D;
  {  // prefill: topk_softmax routing of random logits
    auto x = std::make_shared<std::vector<float>>(random_f32(T * D, 2, 1.0f));
    auto out = std::make_shared<std::vector<float>>(T * D);
    auto ids = std::make_shared<std::vector<int32_t>>(T * K);
    auto wts = std::make_shared<std::vector<float>>(T * K);
    std::vector<float> logits = random_f32(T * E, 3, 2.0f);
    fuselm::MoeRouteParams rp;
    rp.scoring = fuselm::MOE_TOPK_SOFTMAX;
    rp.k = K;
    fuselm::moe_route(ids->data(), wts->data(), logits.data(), T, E, rp);
    cases.push_back({"moeFfn prefill(q4_0,T=" + std::to_string(T) + "," + shape + ")", "int8", E * kExpertBytes + 2.0 * T * D * 4,
                     prefill_flops, [=] {
                       fuselm::moe_ffn(out->data(), x->data(), T, ids->data(), wts->data(), K, layer->w,
                                       fuselm::MoeFfnOptions{}, nullptr, nullptr);
                     }});
  }
  {  // the same FLOPs as dense GEMMs: gate|up of k experts side by side, then down
    auto w1 = std::make_shared<std::vector<uint8_t>>(), w2 = std::make_shared<std::vector<uint8_t>>();
    append_q4_0(*w1, 2 * K * FF, D, 40);
    append_q4_0(*w2, D, K * FF, 41);
    auto x = std::make_shared<std::vector<float>>(random_f32(T * D, 2, 1.0f));
    auto h = std::make_shared<std::vector<float>>((size_t)T * 2 * K * FF);
    auto y = std::make_shared<std::vector<float>>(T * D);
    cases.push_back({"matmul dense equivalent of moeFfn prefill(q4_0," + std::to_string(T) + "x" + std::to_string(D) + "x" +
                         std::to_string(2 * K * FF) + " + " + std::to_string(T) + "x" + std::to_string(K * FF) + "x" +
                         std::to_string(D) + ")",
                     "int8", K * kExpertBytes + 2.0 * T * D * 4, prefill_flops, [=] {
                       fuselm::matmul(h->data(), x->data(), T, D, w1->data(), DType::Q4_0, 2 * K * FF, nullptr);
                       // the first K*FF columns of each row pair stand in for the SwiGLU output
                       fuselm::matmul(y->data(), h->data(), T, K * FF, w2->data(), DType::Q4_0, D, nullptr);
                     }});
  }
}
