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

// moe_route on every ISA gives the ref path's ids and weight bits exactly; `each` checks each path's result further
template <class F>
static void route_paths_agree(const std::vector<float>& l, int64_t T, int64_t E, const MoeRouteParams& p, F each) {
  std::vector<int32_t> ids0(T * p.k), ids(T * p.k);
  std::vector<float> w0(T * p.k), w(T * p.k);
  const int before = active_isa();
  set_isa(ISA_REF);
  CHECK(moe_route(ids0.data(), w0.data(), l.data(), T, E, p).ok());
  set_isa(before);
  fltest::for_each_isa([&](int) {
    CHECK(moe_route(ids.data(), w.data(), l.data(), T, E, p).ok());
    CHECK(ids == ids0);
    CHECK(std::memcmp(w.data(), w0.data(), w.size() * 4) == 0);
    each(ids, w);
  });
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
  route_paths_agree(l, T, E, p, [&](const std::vector<int32_t>& ids, const std::vector<float>& w) {
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

// ---- moe_ffn ----------------------------------------------------------------

namespace {
struct Dense {
  std::vector<float> g, u, d;  // dequantized [FF, D], [FF, D], [D, FF]
};
struct Quant {
  std::vector<uint8_t> g, u, d;
};

void make_expert(DType t, int64_t FF, int64_t D, uint64_t seed, Quant& q, Dense& dn) {
  fltest::Rng r(seed);
  auto one = [&](std::vector<uint8_t>& qb, std::vector<float>& deq, int64_t N, int64_t K) {
    std::vector<float> w(N * K);
    for (auto& v : w) v = r.normal() / std::sqrt((float)K);
    qb.resize(N * row_bytes(t, K));
    CHECK(quantize(qb.data(), t, w.data(), N, K).ok());
    deq.resize(N * K);
    CHECK(dequantize(deq.data(), t, qb.data(), N, K).ok());
  };
  one(q.g, dn.g, FF, D);
  one(q.u, dn.u, FF, D);
  one(q.d, dn.d, D, FF);
}

// y += a * ffn(x) in double; mag += |a| * sum |down| * (|h| + 0.01 (|g| + |u|))
void ffn_f64(const Dense& e, const float* x, int64_t D, int64_t FF, double a, double* y, double* mag) {
  std::vector<double> h(FF), hm(FF);
  for (int64_t f = 0; f < FF; f++) {
    double g = 0, u = 0;
    for (int64_t d = 0; d < D; d++) {
      g += (double)e.g[f * D + d] * x[d];
      u += (double)e.u[f * D + d] * x[d];
    }
    h[f] = g / (1 + std::exp(-g)) * u;
    hm[f] = std::fabs(h[f]) + 0.01 * (std::fabs(g) + std::fabs(u));
  }
  for (int64_t d = 0; d < D; d++) {
    double s = 0, m = 0;
    for (int64_t f = 0; f < FF; f++) {
      s += (double)e.d[d * FF + f] * h[f];
      m += std::fabs(e.d[d * FF + f]) * hm[f];
    }
    y[d] += a * s;
    mag[d] += std::fabs(a) * m;
  }
}
}  // namespace

TEST(moe_ffn_vs_f64) {
  // {E, k, T, D, FF, shared}: decode (GEMV path), prefill (GEMM paths), shared expert
  const int64_t cases[][6] = {{8, 2, 1, 64, 96, 0}, {8, 2, 5, 64, 96, 0}, {8, 2, 300, 64, 96, 0}, {64, 8, 5, 64, 32, 1},
                              {128, 8, 300, 32, 64, 1}};
  const DType fmts[] = {DType::Q4_0, DType::Q8_0};
  for (auto& c : cases) {
    const int64_t E = c[0], k = c[1], T = c[2], D = c[3], FF = c[4];
    const bool sh = c[5] != 0;
    std::vector<Quant> q(E + 1);
    std::vector<Dense> dn(E + 1);
    std::vector<MoeMatrix> g(E), u(E), d(E);
    for (int64_t e = 0; e <= E; e++) {
      const DType t = fmts[e % 2];
      make_expert(t, FF, D, 100 + e, q[e], dn[e]);
      if (e < E) {
        g[e] = {q[e].g.data(), t, q[e].g.size()};
        u[e] = {q[e].u.data(), t, q[e].u.size()};
        d[e] = {q[e].d.data(), t, q[e].d.size()};
      }
    }
    MoeFfnWeights W;
    W.E = E; W.D = D; W.FF = FF;
    W.gate = g.data(); W.up = u.data(); W.down = d.data();
    std::vector<float> gate_inp(D);
    fltest::Rng r(E + T);
    for (auto& v : gate_inp) v = r.normal() / std::sqrt((float)D);
    if (sh) {
      const DType t = fmts[E % 2];
      W.FFs = FF;
      W.sh_gate = {q[E].g.data(), t, q[E].g.size()};
      W.sh_up = {q[E].u.data(), t, q[E].u.size()};
      W.sh_down = {q[E].d.data(), t, q[E].d.size()};
      W.sh_gate_inp = gate_inp.data();
    }
    std::vector<float> x(T * D), logits(T * E), w(T * k), out(T * D);
    std::vector<int32_t> ids(T * k);
    for (auto& v : x) v = r.normal();
    for (auto& v : logits) v = 2 * r.normal();
    MoeRouteParams p;
    p.k = (int32_t)k;
    p.norm = true;
    CHECK(moe_route(ids.data(), w.data(), logits.data(), T, E, p).ok());
    std::vector<double> ref(T * D, 0.0), mag(T * D, 0.0);
    for (int64_t t = 0; t < T; t++) {
      for (int64_t j = 0; j < k; j++)
        ffn_f64(dn[ids[t * k + j]], &x[t * D], D, FF, w[t * k + j], &ref[t * D], &mag[t * D]);
      if (sh) {
        double s = 0;
        for (int64_t i = 0; i < D; i++) s += (double)gate_inp[i] * x[t * D + i];
        ffn_f64(dn[E], &x[t * D], D, FF, 1 / (1 + std::exp(-s)), &ref[t * D], &mag[t * D]);
      }
    }
    std::vector<double> stats(moe_stats_len(E), 0.0);
    fltest::for_each_isa([&](int) {
      MoeFfnReport rep;
      CHECK(moe_ffn(out.data(), x.data(), T, ids.data(), w.data(), k, W, MoeFfnOptions{}, stats.data(), &rep).ok());
      double worst = 0;
      for (int64_t i = 0; i < T * D; i++) worst = std::fmax(worst, std::fabs(out[i] - ref[i]) / (mag[i] / 64 + 1e-6));
      CHECK_LE(worst, 1.0);  // the jest suite's MOE_TOL = 2^-6 of the sum of absolute products
      CHECK(rep.pairs == T * k && rep.skipped == 0);
    });
    double tot = 0;
    for (int64_t e = 0; e < E; e++) tot += stats[e];
    CHECK(tot == (double)(T * k) * (fuselm::isa_supported() + 1));
  }
}

TEST(moe_ffn_rejects_bad_routing_before_writing) {
  const int64_t E = 4, D = 32, FF = 32, T = 2, k = 2;
  std::vector<Quant> q(E);
  std::vector<Dense> dn(E);
  std::vector<MoeMatrix> g(E), u(E), d(E);
  for (int64_t e = 0; e < E; e++) {
    make_expert(DType::Q8_0, FF, D, e, q[e], dn[e]);
    g[e] = {q[e].g.data(), DType::Q8_0, q[e].g.size()};
    u[e] = {q[e].u.data(), DType::Q8_0, q[e].u.size()};
    d[e] = {q[e].d.data(), DType::Q8_0, q[e].d.size()};
  }
  MoeFfnWeights W;
  W.E = E; W.D = D; W.FF = FF;
  W.gate = g.data(); W.up = u.data(); W.down = d.data();
  std::vector<float> x(T * D, 1.0f), out(T * D, 7.0f);
  auto run = [&](std::vector<int32_t> ids, std::vector<float> w, int64_t kk) {
    return moe_ffn(out.data(), x.data(), T, ids.data(), w.data(), kk, W, MoeFfnOptions{}, nullptr, nullptr);
  };
  Status st = run({0, 4, 1, 2}, {0.5f, 0.5f, 0.5f, 0.5f}, k);
  CHECK(st.code == Code::Range && st.arg == "ids[0, 1]");
  st = run({0, 1, -1, 2}, {0.5f, 0.5f, 0.5f, 0.5f}, k);
  CHECK(st.code == Code::Range && st.arg == "ids[1, 0]");
  st = run({0, 1, 1, 2}, {0.5f, NAN, 0.5f, 0.5f}, k);
  CHECK(st.code == Code::Range && st.arg == "weights[0, 1]" && st.got == "NaN");
  st = run({0, 1, 2, 2}, {0.5f, 0.5f, 0.5f, 0.5f}, k);
  CHECK(st.code == Code::Range && st.arg == "ids[1, 1]");
  st = run(std::vector<int32_t>(10, 0), std::vector<float>(10, 0.1f), 5);
  CHECK(st.code == Code::Range && st.arg == "k");
  g[2].bytes -= 1;  // a truncated expert
  st = run({0, 1, 1, 2}, {0.5f, 0.5f, 0.5f, 0.5f}, k);
  CHECK(st.code == Code::Range && st.arg.find("gate[2]") == 0);
  bool untouched = true;
  for (float v : out) untouched = untouched && v == 7.0f;
  CHECK(untouched);
}

// Decode at a width where gate/up split into many dynamically taken units and down into
// several output-row chunks (D > 256): every unit quantizes its own slice of h for down,
// whole q8_K blocks for K-quant downs, f32 rows for f16/bf16 downs. Mixed formats per
// expert and per projection (the GEMV-repacked Q4_0X16 / Q8_0X16 / Q4_KX16 / Q6_KX16 among
// them), and a q5_K
// DeepSeek-style shared expert (weight 1).
TEST(moe_ffn_decode_units_vs_f64) {
  const int64_t E = 4, k = 2, D = 1024, FF = 768, FFs = 512;
  const DType gu[E] = {DType::Q4_0X16, DType::Q8_0, DType::Q4_KX16, DType::BF16};
  const DType dn_t[E] = {DType::Q4_K, DType::F16, DType::Q6_KX16, DType::Q8_0X16};
  fltest::Rng r(4242);
  auto mat = [&](DType t, int64_t N, int64_t K, std::vector<uint8_t>& qb, std::vector<float>& deq) {
    std::vector<float> w(N * K);
    for (auto& v : w) v = r.normal() / std::sqrt((float)K);
    qb.resize(N * row_bytes(t, K));
    const DType base = repack_base(t);  // the repacked GEMV layouts: quantize plain, then repack
    std::vector<uint8_t> plain(base != t ? qb.size() : 0);
    CHECK(quantize(base != t ? plain.data() : qb.data(), base, w.data(), N, K).ok());
    if (base != t) CHECK(repack(qb.data(), t, plain.data(), base, N, K).ok());
    deq.resize(N * K);
    CHECK(dequantize(deq.data(), t, qb.data(), N, K).ok());
  };
  std::vector<Quant> q(E + 1);
  std::vector<Dense> dn(E + 1);
  std::vector<MoeMatrix> g(E), u(E), d(E);
  for (int64_t e = 0; e < E; e++) {
    mat(gu[e], FF, D, q[e].g, dn[e].g);
    mat(gu[(e + 1) % E], FF, D, q[e].u, dn[e].u);
    mat(dn_t[e], D, FF, q[e].d, dn[e].d);
    g[e] = {q[e].g.data(), gu[e], q[e].g.size()};
    u[e] = {q[e].u.data(), gu[(e + 1) % E], q[e].u.size()};
    d[e] = {q[e].d.data(), dn_t[e], q[e].d.size()};
  }
  mat(DType::Q5_K, FFs, D, q[E].g, dn[E].g);
  mat(DType::Q5_K, FFs, D, q[E].u, dn[E].u);
  mat(DType::Q5_K, D, FFs, q[E].d, dn[E].d);
  MoeFfnWeights W;
  W.E = E; W.D = D; W.FF = FF;
  W.gate = g.data(); W.up = u.data(); W.down = d.data();
  W.FFs = FFs;
  W.sh_gate = {q[E].g.data(), DType::Q5_K, q[E].g.size()};
  W.sh_up = {q[E].u.data(), DType::Q5_K, q[E].u.size()};
  W.sh_down = {q[E].d.data(), DType::Q5_K, q[E].d.size()};
  for (int64_t T : {1, 3}) {
    std::vector<float> x(T * D), out(T * D), w(T * k);
    std::vector<int32_t> ids(T * k);
    for (auto& v : x) v = r.normal();
    for (int64_t t = 0; t < T; t++) {  // every expert used, token 1 and 2 share expert 1
      ids[t * k] = (int32_t)(t % E);
      ids[t * k + 1] = (int32_t)((t + 1) % E);
      w[t * k] = 0.7f;
      w[t * k + 1] = -0.3f;  // negative weights are legal (only finiteness is required)
    }
    std::vector<double> ref(T * D, 0.0), mag(T * D, 0.0);
    for (int64_t t = 0; t < T; t++) {
      for (int64_t j = 0; j < k; j++) ffn_f64(dn[ids[t * k + j]], &x[t * D], D, FF, w[t * k + j], &ref[t * D], &mag[t * D]);
      ffn_f64(dn[E], &x[t * D], D, FFs, 1.0, &ref[t * D], &mag[t * D]);
    }
    fltest::for_each_isa([&](int) {
      MoeFfnReport rep;
      CHECK(moe_ffn(out.data(), x.data(), T, ids.data(), w.data(), k, W, MoeFfnOptions{}, nullptr, &rep).ok());
      double worst = 0;
      for (int64_t i = 0; i < T * D; i++) worst = std::fmax(worst, std::fabs(out[i] - ref[i]) / (mag[i] / 64 + 1e-6));
      CHECK_LE(worst, 1.0);
      CHECK(rep.pairs == T * k && rep.experts == std::min<int64_t>(E, T + 1));
    });
  }
}

// Prefill with skewed routing: expert 0 holds more than a thread's share of the GEMM
// work (split over the pool), expert 1 has 9 tokens (expert-parallel path, just past
// the GEMV limit), expert 2 has 3 (GEMV path): all three paths in one call, added
// into out with accumulate.
TEST(moe_ffn_skewed_prefill_vs_f64) {
  const int64_t E = 3, k = 1, D = 64, FF = 96, T = 67;
  std::vector<Quant> q(E);
  std::vector<Dense> dn(E);
  std::vector<MoeMatrix> g(E), u(E), d(E);
  for (int64_t e = 0; e < E; e++) {
    const DType t = e == 1 ? DType::Q8_0 : DType::Q4_0;
    make_expert(t, FF, D, 700 + e, q[e], dn[e]);
    g[e] = {q[e].g.data(), t, q[e].g.size()};
    u[e] = {q[e].u.data(), t, q[e].u.size()};
    d[e] = {q[e].d.data(), t, q[e].d.size()};
  }
  MoeFfnWeights W;
  W.E = E; W.D = D; W.FF = FF;
  W.gate = g.data(); W.up = u.data(); W.down = d.data();
  fltest::Rng r(99);
  std::vector<float> x(T * D), w(T), out(T * D);
  std::vector<int32_t> ids(T);
  for (auto& v : x) v = r.normal();
  for (int64_t t = 0; t < T; t++) {
    ids[t] = t % 7 == 3 && t < 63 ? 1 : t % 23 == 5 ? 2 : 0;  // 9 tokens to 1, 3 to 2, 55 to 0
    w[t] = 0.5f + 0.01f * (float)t;
  }
  int cnt[3] = {0, 0, 0};
  for (int32_t i : ids) cnt[i]++;
  CHECK(cnt[0] == 55 && cnt[1] == 9 && cnt[2] == 3);
  std::vector<double> ref(T * D, 0.0), mag(T * D, 0.0);
  for (int64_t t = 0; t < T; t++) {
    ffn_f64(dn[ids[t]], &x[t * D], D, FF, w[t], &ref[t * D], &mag[t * D]);
    for (int64_t i = 0; i < D; i++) ref[t * D + i] += 1.0;  // accumulate onto 1
  }
  fltest::for_each_isa([&](int) {
    for (auto& v : out) v = 1.0f;
    MoeFfnOptions opt;
    opt.accumulate = true;
    MoeFfnReport rep;
    CHECK(moe_ffn(out.data(), x.data(), T, ids.data(), w.data(), k, W, opt, nullptr, &rep).ok());
    double worst = 0;
    for (int64_t i = 0; i < T * D; i++) worst = std::fmax(worst, std::fabs(out[i] - ref[i]) / (mag[i] / 64 + 1e-6));
    CHECK_LE(worst, 1.0);
    CHECK(rep.pairs == T && rep.experts == 3);
  });
}

TEST(moe_route_sigmoid_extreme_logits_paths_agree) {
  // the one vector exp per ISA (vmath.h vexp) and its scalar twin (moe_scalar::exp_poly) agree bit
  // for bit across the whole range: overflow, gradual underflow, the clamps, -inf
  const int64_t T = 16, E = 64;
  std::vector<float> l(T * E);
  fltest::Rng r(21);
  for (int64_t i = 0; i < T * E; i++) l[i] = (r.uniform() - 0.5f) * 240.0f;  // [-120, 120]
  const float edges[] = {-INFINITY, -110.5f, -110.0f, -103.97f, -88.7f, -87.34f, -87.0f, 87.0f, 87.34f, 88.73f, 89.0f, 89.5f, 1e-30f, -1e-30f, 0.0f, -0.0f};
  for (int64_t i = 0; i < 16; i++) l[i * 3] = edges[i];
  MoeRouteParams p;
  p.scoring = MOE_SIGMOID_GROUP;
  p.k = 8;
  p.norm = true;
  p.n_group = 8;
  p.topk_group = 4;
  route_paths_agree(l, T, E, p, [](const std::vector<int32_t>&, const std::vector<float>&) {});
}
