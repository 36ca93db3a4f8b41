// Native replay of the moe cases: router on every ISA against the ref path
// (ids exact, weights within 1e-6) and against a double-precision loop;
// permutation round trip; bad input.
#include <algorithm>
#include <cstring>

#include "tests/harness.h"

using namespace fuselm;

static std::vector<float> grid_logits(int64_t T, int64_t E, uint64_t seed, float p_inf) {
  fltest::Rng r(seed);
  std::vector<float> l(T * E);
  for (auto& v : l) v = r.uniform() < p_inf ? -INFINITY : std::round(r.normal() * 12) / 8;
  return l;
}

// double reference for the softmax modes (selection on the float values)
static void route_f64(std::vector<int32_t>& ids, std::vector<double>& w, const float* l, int64_t E, int k, int scoring,
                      bool norm) {
  std::vector<int32_t> idx(E);
  for (int64_t e = 0; e < E; e++) idx[e] = (int32_t)e;
  std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  ids.assign(idx.begin(), idx.begin() + k);
  w.assign(k, 0.0);
  const double m = l[ids[0]];
  if (m == -INFINITY) return;
  double den = 0, all = 0;
  for (int j = 0; j < k; j++) den += std::exp(l[ids[j]] - m);
  for (int64_t e = 0; e < E; e++) all += std::exp(l[e] - m);
  for (int j = 0; j < k; j++) w[j] = std::exp(l[ids[j]] - m) / (scoring == MOE_TOPK_SOFTMAX || norm ? den : all);
}

TEST(moe_route_vs_f64_and_ref) {
  const int64_t shapes[][2] = {{8, 2}, {17, 4}, {60, 4}, {128, 8}, {256, 8}};
  for (auto& s : shapes) {
    const int64_t T = 29, E = s[0];
    const int k = (int)s[1];
    auto l = grid_logits(T, E, E * 31 + k, 0.1f);
    for (int scoring = 0; scoring < 2; scoring++) {
      for (int norm = 0; norm < 2; norm++) {
        MoeRouteParams p;
        p.scoring = scoring;
        p.k = k;
        p.norm = norm;
        std::vector<int32_t> ids(T * k);
        std::vector<float> w(T * k);
        fltest::for_each_isa([&](int) {
          CHECK(moe_route(ids.data(), w.data(), l.data(), T, E, p).ok());
          double worst = 0;
          bool ids_ok = true;
          for (int64_t t = 0; t < T; t++) {
            std::vector<int32_t> ri;
            std::vector<double> rw;
            route_f64(ri, rw, l.data() + t * E, E, k, scoring, norm);
            for (int j = 0; j < k; j++) {
              ids_ok = ids_ok && ri[j] == ids[t * k + j];
              worst = std::fmax(worst, std::fabs(rw[j] - w[t * k + j]));
            }
          }
          CHECK(ids_ok);
          CHECK_LE(worst, 1e-6);
        });
      }
    }
  }
}

TEST(moe_route_sigmoid_group_paths_agree) {
  // DeepSeek-V3 shape: every path computes the same sigmoid bits, so ids and
  // weights equal the ref path's exactly.
  const int64_t T = 33, E = 256;
  auto l = grid_logits(T, E, 5, 0.05f);
  std::vector<float> bias(E);
  fltest::Rng r(9);
  for (auto& b : bias) b = std::round((r.uniform() - 0.5f) * 32) / 64;
  MoeRouteParams p;
  p.scoring = MOE_SIGMOID_GROUP;
  p.k = 8;
  p.norm = true;
  p.n_group = 8;
  p.topk_group = 4;
  p.scale = 2.5f;
  p.bias = bias.data();
  std::vector<int32_t> ids0(T * 8), ids(T * 8);
  std::vector<float> w0(T * 8), w(T * 8);
  const int before = active_isa();
  set_isa(ISA_REF);
  CHECK(moe_route(ids0.data(), w0.data(), l.data(), T, E, p).ok());
  set_isa(before);
  fltest::for_each_isa([&](int) {
    CHECK(moe_route(ids.data(), w.data(), l.data(), T, E, p).ok());
    CHECK(ids == ids0);
    CHECK(std::memcmp(w.data(), w0.data(), w.size() * 4) == 0);
    // every token's picks lie in at most topk_group groups and sum to the scale
    for (int64_t t = 0; t < T; t++) {
      bool g[8] = {false};
      int ng = 0;
      double sum = 0;
      for (int j = 0; j < 8; j++) {
        if (!g[ids[t * 8 + j] / 32]) { g[ids[t * 8 + j] / 32] = true; ng++; }
        sum += w[t * 8 + j];
      }
      CHECK(ng <= 4);
      CHECK_LE(std::fabs(sum - 2.5), 1e-5);
    }
  });
}

TEST(moe_route_rejects_bad_input) {
  float l[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  int32_t ids[8];
  float w[8];
  MoeRouteParams p;
  p.k = 9;
  CHECK(moe_route(ids, w, l, 1, 8, p).code == Code::Range);
  p.k = 2;
  CHECK(moe_route(ids, w, l, 1, 257, p).code == Code::Range);
  p.scoring = MOE_SIGMOID_GROUP;
  p.n_group = 3;
  CHECK(moe_route(ids, w, l, 1, 8, p).code == Code::Range);
  p.scoring = MOE_SOFTMAX_TOPK;
  p.n_group = 1;
  l[5] = NAN;
  fltest::for_each_isa([&](int) {
    Status st = moe_route(ids, w, l, 1, 8, p);
    CHECK(st.code == Code::Range && st.arg == "logits[0, 5]");
  });
}

TEST(moe_permute_round_trip) {
  const int64_t T = 300, k = 8, E = 64;
  fltest::Rng r(3);
  std::vector<int32_t> ids(T * k);
  for (auto& v : ids) v = (int32_t)(r.uniform() * r.uniform() * E);
  for (int64_t pad : {1, 16}) {
    std::vector<int32_t> counts(E), offsets(E + 1), pairs(moe_permute_capacity(T, k, E, pad)), inv(T * k);
    int64_t total = 0;
    CHECK(moe_permute(counts.data(), offsets.data(), pairs.data(), inv.data(), &total, ids.data(), T, k, E, pad).ok());
    CHECK(total == offsets[E]);
    for (int64_t p = 0; p < T * k; p++) CHECK(pairs[inv[p]] == p);
    for (int64_t e = 0; e < E; e++) {
      CHECK((offsets[e + 1] - offsets[e]) % pad == 0);
      int32_t last = -1;
      for (int32_t row = offsets[e]; row < offsets[e] + counts[e]; row++) {
        CHECK(ids[pairs[row]] == e);
        CHECK(pairs[row] > last);  // stable
        last = pairs[row];
      }
    }
  }
  ids[17] = (int32_t)E;
  std::vector<int32_t> c(E, 7), o(E + 1), pr(T * k), iv(T * k);
  int64_t total = 0;
  Status st = moe_permute(c.data(), o.data(), pr.data(), iv.data(), &total, ids.data(), T, k, E, 1);
  CHECK(st.code == Code::Range && st.arg == "ids[2, 1]");
  CHECK(c[0] == 7);  // nothing written
}
