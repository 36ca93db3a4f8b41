// Native replay of the attention cases: every ISA against a float64 loop over the
// cache's stored values, dense and each sparse form, plus the Status checks.
#include <algorithm>

#include "tests/harness.h"

namespace {

using namespace fuselm;

struct Case {
  int64_t nkv, G, D, Tk, Tq;
  KvDType dt;
};

// float64 attention over the stored keys with an explicit visibility rule
template <class Vis>
std::vector<double> ref_attention(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                  const std::vector<int32_t>& kpos, const std::vector<int32_t>& qpos, int64_t nh,
                                  int64_t nkv, int64_t D, double scale, Vis vis) {
  const int64_t Tq = (int64_t)qpos.size(), Tk = (int64_t)kpos.size(), G = nh / nkv;
  std::vector<double> out(Tq * nh * D, 0.0), s(Tk);
  for (int64_t i = 0; i < Tq; i++)
    for (int64_t h = 0; h < nh; h++) {
      const int64_t g = h / G;
      double mx = -INFINITY;
      for (int64_t j = 0; j < Tk; j++) {
        if (!vis(i, g, j)) { s[j] = -INFINITY; continue; }
        double d = 0;
        for (int64_t c = 0; c < D; c++) d += (double)q[(i * nh + h) * D + c] * k[(j * nkv + g) * D + c];
        s[j] = d * scale;
        mx = std::max(mx, s[j]);
      }
      if (mx == -INFINITY) continue;
      double l = 0;
      for (int64_t j = 0; j < Tk; j++) { s[j] = s[j] == -INFINITY ? 0 : std::exp(s[j] - mx); l += s[j]; }
      for (int64_t j = 0; j < Tk; j++)
        for (int64_t c = 0; c < D; c++) out[(i * nh + h) * D + c] += s[j] / l * v[(j * nkv + g) * D + c];
    }
  return out;
}

double rel_err(const std::vector<float>& y, const std::vector<double>& r) {
  double num = 0, den = 1e-30;
  for (size_t i = 0; i < y.size(); i++) { num = std::max(num, std::fabs(y[i] - r[i])); den = std::max(den, std::fabs(r[i])); }
  return num / den;
}

struct Built {
  KvCache* c = nullptr;
  std::vector<float> q, k, v;  // k, v: stored values
  std::vector<int32_t> kpos, qpos;
  ~Built() { kv_cache_free(c); }
};

void build(Built& b, const Case& cs, uint64_t seed) {
  fltest::Rng r(seed);
  const int64_t nh = cs.nkv * cs.G, row = cs.nkv * cs.D;
  std::vector<float> k(cs.Tk * row), v(cs.Tk * row);
  for (auto& x : k) x = r.normal();
  for (auto& x : v) x = r.normal();
  b.q.resize(cs.Tq * nh * cs.D);
  for (auto& x : b.q) x = r.normal();
  b.kpos.resize(cs.Tk);
  for (int64_t j = 0; j < cs.Tk; j++) b.kpos[j] = (int32_t)(2 * j + 5);
  b.qpos.assign(b.kpos.end() - cs.Tq, b.kpos.end());
  CHECK(kv_cache_create(&b.c, cs.nkv, cs.D, cs.dt).ok());
  for (int64_t j = 0; j < cs.Tk;) {  // uneven appends
    const int64_t n = std::min<int64_t>(cs.Tk - j, 1 + (j * 13 + 29) % 70);
    CHECK(kv_cache_append(b.c, k.data() + j * row, v.data() + j * row, b.kpos.data() + j, n).ok());
    j += n;
  }
  b.k.resize(cs.Tk * row);
  b.v.resize(cs.Tk * row);
  CHECK(kv_cache_read(b.k.data(), b.v.data(), nullptr, b.c).ok());
}

}  // namespace

TEST(attention_dense_vs_f64) {
  const Case cases[] = {{1, 1, 64, 1, 1, KvDType::F32},   {2, 4, 64, 3, 3, KvDType::F16},
                        {1, 8, 128, 130, 1, KvDType::F16}, {2, 1, 80, 77, 77, KvDType::F32},
                        {2, 4, 128, 200, 2, KvDType::I8},  {1, 4, 80, 1000, 1, KvDType::F16},
                        {1, 4, 32, 70, 70, KvDType::F32},   {2, 2, 96, 130, 1, KvDType::I8},
                        {1, 4, 256, 140, 2, KvDType::F16},  {1, 1, 512, 66, 66, KvDType::F32}};
  for (const Case& cs : cases) {
    Built b;
    build(b, cs, (uint64_t)(cs.Tk * 31 + cs.D));
    const int64_t nh = cs.nkv * cs.G;
    const double scale = 1 / std::sqrt((double)cs.D);
    auto ref = ref_attention(b.q, b.k, b.v, b.kpos, b.qpos, nh, cs.nkv, cs.D, scale,
                             [&](int64_t i, int64_t, int64_t j) { return b.kpos[j] <= b.qpos[i]; });
    std::vector<float> out(b.q.size());
    fltest::for_each_isa([&](int) {
      AttentionParams p;
      p.scale = (float)scale;
      AttentionStats st;
      CHECK(attention_f32(out.data(), b.q.data(), b.qpos.data(), cs.Tq, nh, cs.D, b.c, p, &st).ok());
      CHECK_LE(rel_err(out, ref), 1e-4);
      CHECK(st.blocks >= cs.nkv);
    });
  }
}

TEST(attention_sparse_vs_f64) {
  const Case cs{2, 4, 64, 400, 3, KvDType::F16};
  Built b;
  build(b, cs, 77);
  const int64_t nh = 8;
  const double scale = 0.125;
  std::vector<float> out(b.q.size());
  // window + sinks
  auto rw = ref_attention(b.q, b.k, b.v, b.kpos, b.qpos, nh, 2, 64, scale, [&](int64_t i, int64_t, int64_t j) {
    return b.kpos[j] <= b.qpos[i] && (j < 5 || b.qpos[i] - b.kpos[j] < 90);
  });
  // block mask: key block visible when (qb + kb) is even
  std::vector<uint8_t> mask(13 * 7);
  for (int qb = 0; qb < 13; qb++)
    for (int kb = 0; kb < 7; kb++) mask[qb * 7 + kb] = (qb + kb) % 2 == 0;
  auto rm = ref_attention(b.q, b.k, b.v, b.kpos, b.qpos, nh, 2, 64, scale, [&](int64_t i, int64_t, int64_t j) {
    return b.kpos[j] <= b.qpos[i] && mask[(b.qpos[i] / 64) * 7 + j / 64];
  });
  fltest::for_each_isa([&](int) {
    AttentionParams p;
    p.scale = (float)scale;
    p.windowed = true;
    p.window = 90;
    p.sinks = 5;
    CHECK(attention_f32(out.data(), b.q.data(), b.qpos.data(), 3, nh, 64, b.c, p, nullptr).ok());
    CHECK_LE(rel_err(out, rw), 1e-4);
    AttentionParams pm;
    pm.scale = (float)scale;
    pm.block_mask = mask.data();
    pm.mask_rows = 13;
    pm.mask_cols = 7;
    CHECK(attention_f32(out.data(), b.q.data(), b.qpos.data(), 3, nh, 64, b.c, pm, nullptr).ok());
    CHECK_LE(rel_err(out, rm), 1e-4);
    // dynamic: the output equals attention over the plan's blocks made explicit
    AttentionParams pd;
    pd.scale = (float)scale;
    pd.top_k = 2;
    pd.sinks = 64;
    pd.window = 64;
    int64_t k = 0;
    CHECK(attention_select_k(&k, b.c, pd).ok());
    CHECK(k == 2);
    std::vector<int32_t> sel(3 * 2 * k);
    CHECK(attention_select(sel.data(), k, b.q.data(), b.qpos.data(), 3, nh, 64, b.c, pd).ok());
    auto rd = ref_attention(b.q, b.k, b.v, b.kpos, b.qpos, nh, 2, 64, scale, [&](int64_t i, int64_t g, int64_t j) {
      if (b.kpos[j] > b.qpos[i]) return false;
      if (j < 64 || b.qpos[i] - b.kpos[j] < 64) return true;
      for (int64_t t = 0; t < k; t++)
        if (sel[(i * 2 + g) * k + t] == j / 64) return true;
      return false;
    });
    AttentionStats st;
    CHECK(attention_f32(out.data(), b.q.data(), b.qpos.data(), 3, nh, 64, b.c, pd, &st).ok());
    CHECK_LE(rel_err(out, rd), 1e-4);
    CHECK(st.selected == 2);
  });
}

TEST(attention_rejects_bad_input) {
  KvCache* c = nullptr;
  CHECK(kv_cache_create(&c, 2, 100, KvDType::F16).code == Code::Unsupported);
  CHECK(kv_cache_create(&c, 0, 64, KvDType::F16).code == Code::Range);
  CHECK(kv_cache_create(&c, 2, 64, KvDType::F16).ok());
  std::vector<float> kv(2 * 2 * 64, 1.0f), q(3 * 64, 0.5f), out(3 * 64);
  int32_t pos[2] = {3, 3};
  CHECK(kv_cache_append(c, kv.data(), kv.data(), pos, 2).code == Code::Range);  // not increasing
  CHECK(c->len == 0);
  pos[1] = 4;
  CHECK(kv_cache_append(c, kv.data(), kv.data(), pos, 2).ok());
  CHECK(kv_cache_truncate(c, 3).code == Code::Range);
  AttentionParams p;
  p.scale = 0.125f;
  int32_t qp = 4;
  CHECK(attention_f32(out.data(), q.data(), &qp, 1, 3, 64, c, p, nullptr).code == Code::Range);  // 3 heads, 2 kv
  CHECK(attention_f32(out.data(), q.data(), &qp, 1, 2, 80, c, p, nullptr).code == Code::Range);  // head_dim
  qp = -1;
  CHECK(attention_f32(out.data(), q.data(), &qp, 1, 2, 64, c, p, nullptr).code == Code::Range);
  qp = 4;
  p.token_budget = 10;
  p.sinks = 64;
  CHECK(attention_f32(out.data(), q.data(), &qp, 1, 2, 64, c, p, nullptr).code == Code::Range);
  CHECK(attention_f32(out.data(), q.data(), &qp, 1, 2, 64, nullptr, p, nullptr).code == Code::Type);
  kv_cache_free(c);
}

// Context shift: the moved keys equal a float64 rotation of the stored keys by -discard (plain RoPE,
// NORM pairs, magnitude 1), V rows and the kept tokens move bit for bit, positions drop by discard.
TEST(kv_cache_shift_vs_f64) {
  const Case cs{2, 1, 64, 150, 1, KvDType::F32};
  const int64_t keep = 5, discard = 70, row = cs.nkv * cs.D, m = cs.Tk - discard;
  const double base = 10000;
  fltest::for_each_isa([&](int) {
    Built b;
    build(b, cs, 91);
    CHECK(kv_cache_shift(b.c, keep, discard, cs.D, ROPE_NORM, (float)base, RopeScaling{}).ok());
    CHECK(b.c->len == m);
    std::vector<float> k(m * row), v(m * row);
    std::vector<int32_t> pos(m);
    CHECK(kv_cache_read(k.data(), v.data(), pos.data(), b.c).ok());
    std::vector<double> want(m * row);
    for (int64_t j = 0; j < m; j++) {
      const int64_t s = j < keep ? j : j + discard;
      CHECK(pos[j] == (j < keep ? b.kpos[s] : b.kpos[s] - (int32_t)discard));
      for (int64_t c = 0; c < row; c++) CHECK(v[j * row + c] == b.v[s * row + c]);
      for (int64_t h = 0; h < cs.nkv; h++)
        for (int64_t i = 0; i < cs.D / 2; i++) {
          const double th = (j < keep ? 0.0 : -(double)discard) * std::pow(base, -2.0 * (double)i / (double)cs.D);
          const double x0 = b.k[s * row + h * cs.D + 2 * i], x1 = b.k[s * row + h * cs.D + 2 * i + 1];
          want[j * row + h * cs.D + 2 * i] = x0 * std::cos(th) - x1 * std::sin(th);
          want[j * row + h * cs.D + 2 * i + 1] = x0 * std::sin(th) + x1 * std::cos(th);
        }
    }
    CHECK_LE(rel_err(k, want), 1e-6);
    for (int64_t j = 0; j < keep * row; j++) CHECK(k[j] == b.k[j]);
    // bad arguments leave the cache as it was
    CHECK(kv_cache_shift(b.c, m, 1, cs.D, ROPE_NORM, (float)base, RopeScaling{}).code == Code::Range);
    CHECK(kv_cache_shift(b.c, 1, m, cs.D, ROPE_NORM, (float)base, RopeScaling{}).code == Code::Range);
    CHECK(kv_cache_shift(b.c, 1, 0, cs.D, ROPE_NORM, (float)base, RopeScaling{}).code == Code::Range);
    CHECK(kv_cache_shift(b.c, 1, 1, 3, ROPE_NORM, (float)base, RopeScaling{}).code == Code::Range);
    CHECK(kv_cache_shift(nullptr, 1, 1, cs.D, ROPE_NORM, (float)base, RopeScaling{}).code == Code::Type);
    CHECK(b.c->len == m);
  });
}
