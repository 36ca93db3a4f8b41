// CUDA kernels vs float64 references on the host (and vs the CPU ops where they
// exist), random data with tails. Every case skips with "no CUDA device" when
// cuda::available() is false; in a build without CUDA one case checks the stub.
// Set FUSELM_CUDA_REPORT=<file> to get one JSON line per measured max error.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

#include "fuselm/cuda.h"
#include "fuselm/fp16.h"
#include "fuselm/ops.h"
#include "cpu/qformats_legacy.h"
#include "tests/harness.h"

namespace fc = fuselm::cuda;
using fuselm::DType;

#ifndef FUSELM_WITH_CUDA

TEST(cuda_stub_says_built_without_cuda) {
  CHECK(!fc::built());
  CHECK(!fc::available());
  float x = 0;
  fuselm::Status st = fc::rmsnorm_f32(&x, &x, nullptr, 1, 1, 1e-5f);
  CHECK(st.code == fuselm::Code::Unsupported);
  CHECK(st.what() == "built without CUDA");
}

#else

namespace {

bool skip() {
  if (fc::available()) return false;
  static bool said = false;
  if (!said) std::printf("skip: no CUDA device (cuda_* cases pass without running)\n");
  said = true;
  return true;
}

void record(const std::string& name, double err, double tol) {
  std::printf("  cuda %-48s max_err %.3g (tol %.3g)\n", name.c_str(), err, tol);
  if (const char* path = std::getenv("FUSELM_CUDA_REPORT")) {
    if (FILE* f = std::fopen(path, "a")) {
      std::fprintf(f, "{\"case\":\"%s\",\"max_err\":%.6g,\"tol\":%.6g,\"ok\":%s}\n", name.c_str(), err, tol,
                   err <= tol ? "true" : "false");
      std::fclose(f);
    }
  }
  CHECK_LE(err, tol);
}

#define OK(expr)                                                                        \
  do {                                                                                  \
    fuselm::Status _s = (expr);                                                         \
    if (!_s.ok()) std::fprintf(stderr, "  status: %s\n", _s.what().c_str());           \
    CHECK(_s.ok());                                                                     \
  } while (0)

// device buffer, freed at scope end
template <class T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) {
    void* v = nullptr;
    if (fc::malloc(&v, count * sizeof(T) + 16).ok()) p = (T*)v;
    if (p) fc::memset(p, 0xFF, count * sizeof(T));  // poison: unwritten outputs show as NaN
  }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) { up(h); }
  ~Dev() { fc::free(p); }
  void up(const std::vector<T>& h) { fc::memcpy_h2d(p, h.data(), h.size() * sizeof(T)); }
  std::vector<T> down() const {
    std::vector<T> h(n);
    fc::synchronize();
    fc::memcpy_d2h(h.data(), p, n * sizeof(T));
    return h;
  }
};

std::string fmt(const char* f, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  fltest::Rng r(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = scale * r.normal();
  return v;
}

// ---------------- host dequantisation, written from ggml's dequantize_row_* ----------------
static void scale_min_k4(int j, const uint8_t* q, int* d, int* m) {
  if (j < 4) { *d = q[j] & 63; *m = q[j + 4] & 63; }
  else { *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4); }
}
std::vector<double> dequant_row(const uint8_t* row, DType t, int64_t K) {
  std::vector<double> y(K);
  using namespace fuselm;
  // the legacy 32-block formats and IQ4_XS / Q3_K / Q2_K: the CPU dequantizer (checked against TypeScript)
  if (lg::plain_index(t) >= 0 || t == DType::IQ4_XS || t == DType::Q3_K || t == DType::Q2_K) {
    std::vector<float> f(K);
    dequantize_row(t, row, f.data(), K);
    for (int64_t i = 0; i < K; i++) y[i] = f[i];
    return y;
  }
  if (t == DType::F16) { for (int64_t i = 0; i < K; i++) y[i] = fp16_to_fp32(((const uint16_t*)row)[i]); }
  else if (t == DType::BF16) { for (int64_t i = 0; i < K; i++) y[i] = bf16_to_fp32(((const uint16_t*)row)[i]); }
  else if (t == DType::Q4_0) {
    for (int64_t b = 0; b < K / 32; b++) {
      const block_q4_0* x = (const block_q4_0*)row + b;
      const double d = fp16_to_fp32(x->d);
      for (int j = 0; j < 16; j++) {
        y[b * 32 + j] = d * ((x->qs[j] & 15) - 8);
        y[b * 32 + j + 16] = d * ((x->qs[j] >> 4) - 8);
      }
    }
  } else if (t == DType::Q8_0) {
    for (int64_t b = 0; b < K / 32; b++) {
      const block_q8_0* x = (const block_q8_0*)row + b;
      for (int j = 0; j < 32; j++) y[b * 32 + j] = (double)fp16_to_fp32(x->d) * x->qs[j];
    }
  } else if (t == DType::Q4_K) {
    for (int64_t b = 0; b < K / 256; b++) {
      const block_q4_K* x = (const block_q4_K*)row + b;
      const double d = fp16_to_fp32(x->d), mn = fp16_to_fp32(x->dmin);
      const uint8_t* q = x->qs;
      double* o = &y[b * 256];
      for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
        int sc, m;
        scale_min_k4(is, x->scales, &sc, &m);
        for (int l = 0; l < 32; l++) o[j + l] = d * sc * (q[l] & 0xF) - mn * m;
        scale_min_k4(is + 1, x->scales, &sc, &m);
        for (int l = 0; l < 32; l++) o[j + 32 + l] = d * sc * (q[l] >> 4) - mn * m;
      }
    }
  } else if (t == DType::Q6_K) {
    for (int64_t b = 0; b < K / 256; b++) {
      const block_q6_K* x = (const block_q6_K*)row + b;
      const double d = fp16_to_fp32(x->d);
      const uint8_t* ql = x->ql;
      const uint8_t* qh = x->qh;
      const int8_t* sc = x->scales;
      double* o = &y[b * 256];
      for (int n = 0; n < 256; n += 128, o += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l++) {
          const int is = l / 16;
          o[l] = d * sc[is] * (((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
          o[l + 32] = d * sc[is + 2] * (((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
          o[l + 64] = d * sc[is + 4] * (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
          o[l + 96] = d * sc[is + 6] * (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
      }
    }
  }
  return y;
}

// random but valid blocks: scales small so the weights are O(0.1)
std::vector<uint8_t> random_weights(DType t, int64_t N, int64_t K, uint64_t seed) {
  using namespace fuselm;
  const int64_t rb = fc::row_bytes(t, K);
  std::vector<uint8_t> w(N * rb + 16);
  fltest::Rng r(seed);
  for (auto& b : w) b = (uint8_t)r.next();
  auto h = [&](float lo, float hi) { return fp32_to_fp16(lo + (hi - lo) * r.uniform()); };
  for (int64_t n = 0; n < N; n++) {
    uint8_t* row = w.data() + n * rb;
    if (t == DType::F16) for (int64_t i = 0; i < K; i++) ((uint16_t*)row)[i] = fp32_to_fp16(0.1f * r.normal());
    if (t == DType::BF16) for (int64_t i = 0; i < K; i++) ((uint16_t*)row)[i] = fp32_to_bf16(0.1f * r.normal());
    if (t == DType::Q4_0) for (int64_t b = 0; b < K / 32; b++) ((block_q4_0*)row)[b].d = h(0.005f, 0.03f);
    if (t == DType::Q5_0) for (int64_t b = 0; b < K / 32; b++) ((block_q5_0*)row)[b].d = h(0.003f, 0.015f);
    if (t == DType::IQ4_NL) for (int64_t b = 0; b < K / 32; b++) ((block_iq4_nl*)row)[b].d = h(0.0003f, 0.001f);
    if (t == DType::MXFP4) for (int64_t b = 0; b < K / 32; b++) ((block_mxfp4*)row)[b].e = (uint8_t)(118 + r.next() % 4);
    if (t == DType::Q4_1)
      for (int64_t b = 0; b < K / 32; b++) { ((block_q4_1*)row)[b].d = h(0.003f, 0.01f); ((block_q4_1*)row)[b].m = h(-0.08f, -0.02f); }
    if (t == DType::Q5_1)
      for (int64_t b = 0; b < K / 32; b++) { ((block_q5_1*)row)[b].d = h(0.002f, 0.005f); ((block_q5_1*)row)[b].m = h(-0.08f, -0.02f); }
    if (t == DType::Q8_0)
      for (int64_t b = 0; b < K / 32; b++) {
        ((block_q8_0*)row)[b].d = h(0.0005f, 0.002f);
        for (auto& q : ((block_q8_0*)row)[b].qs) if (q == -128) q = -127;
      }
    if (t == DType::Q4_K)
      for (int64_t b = 0; b < K / 256; b++) { ((block_q4_K*)row)[b].d = h(0.0002f, 0.001f); ((block_q4_K*)row)[b].dmin = h(0.0002f, 0.001f); }
    if (t == DType::IQ4_XS) for (int64_t b = 0; b < K / 256; b++) ((block_iq4_xs*)row)[b].d = h(0.00001f, 0.00004f);
    if (t == DType::Q3_K) for (int64_t b = 0; b < K / 256; b++) ((block_q3_K*)row)[b].d = h(0.0003f, 0.001f);
    if (t == DType::Q2_K)
      for (int64_t b = 0; b < K / 256; b++) { ((block_q2_K*)row)[b].d = h(0.001f, 0.004f); ((block_q2_K*)row)[b].dmin = h(0.001f, 0.004f); }
    if (t == DType::Q6_K)
      for (int64_t b = 0; b < K / 256; b++) {
        ((block_q6_K*)row)[b].d = h(0.0001f, 0.0005f);
        for (auto& s : ((block_q6_K*)row)[b].scales) s = (int8_t)((s & 63) - 32);
      }
  }
  return w;
}

const char* name_of(DType t) { return fuselm::dtype_traits((int32_t)t)->name; }

// max over outputs of |got - ref| / (sum_k |x_k w_k| + tiny): the error per unit of magnitude the dot moved
double gemm_err(const std::vector<float>& got, const std::vector<float>& x, const std::vector<std::vector<double>>& W,
                const std::vector<float>* bias, int64_t M, int64_t N, int64_t K) {
  double worst = 0;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++) {
      double ref = bias ? (*bias)[n] : 0.0, mag = 1e-6;
      for (int64_t k = 0; k < K; k++) {
        ref += (double)x[m * K + k] * W[n][k];
        mag += std::fabs((double)x[m * K + k] * W[n][k]);
      }
      const double g = got[m * N + n];
      const double e = std::isfinite(g) ? std::fabs(g - ref) / mag : 1e30;
      worst = std::max(worst, e);
    }
  return worst;
}

}  // namespace

// needs no device: the kernels' decoders, run on the host, against ggml's dequantisation loops
TEST(cuda_decoders_match_ggml_dequant_on_host) {
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::F16, DType::BF16, DType::Q5_0, DType::Q4_1,
                  DType::Q5_1, DType::IQ4_NL, DType::MXFP4, DType::IQ4_XS, DType::Q3_K, DType::Q2_K}) {
    const int64_t N = 5, K = 1024;
    auto w = random_weights(t, N, K, 77 + (int)t);
    const int64_t rb = fc::row_bytes(t, K);
    double e = 0;
    std::vector<float> got(K);
    for (int64_t n = 0; n < N; n++) {
      CHECK(fc::decode_row_host(got.data(), w.data() + n * rb, t, K).ok());
      auto ref = dequant_row(w.data() + n * rb, t, K);
      for (int64_t k = 0; k < K; k++) e = std::max(e, std::fabs(got[k] - ref[k]) / (std::fabs(ref[k]) + 1e-3));
    }
    // f32 evaluation of d*sc*q - dmin*m against double: a few f32 ulps
    record(fmt("decode_row_host(%s) vs ggml loops", name_of(t)), e, 1e-6);
  }
}

TEST(cuda_device_info) {
  if (skip()) return;
  fc::DeviceInfo d;
  OK(fc::device_info(0, &d));
  std::printf("  device: %s sm_%d%d, %d SMs, %.1f GiB\n", d.name, d.cc_major, d.cc_minor, d.sm_count,
              d.global_mem / 1073741824.0);
  CHECK(d.sm_count > 0);
}

TEST(cuda_elementwise_vs_f64) {
  if (skip()) return;
  for (int64_t n : {1, 3, 17, 4097, (1 << 20) + 3}) {
    auto a = randn(n, n), b = randn(n, n + 7);
    Dev<float> da(a), db(b), o(n);
    double e[5] = {0, 0, 0, 0, 0};
    for (int op = 0; op < 5; op++) {
      if (op == 0) OK(fc::add_f32(o.p, da.p, db.p, n));
      if (op == 1) OK(fc::mul_f32(o.p, da.p, db.p, n));
      if (op == 2) OK(fc::silu_f32(o.p, da.p, n));
      if (op == 3) OK(fc::gelu_f32(o.p, da.p, n));
      if (op == 4) OK(fc::swiglu_f32(o.p, da.p, db.p, n));
      auto g = o.down();
      for (int64_t i = 0; i < n; i++) {
        const double x = a[i], y = b[i], sl = x / (1 + std::exp(-x));
        const double ref = op == 0 ? x + y : op == 1 ? x * y : op == 2 ? sl
                         : op == 3 ? 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
                                   : sl * y;
        e[op] = std::max(e[op], std::isfinite(g[i]) ? std::fabs(g[i] - ref) / (std::fabs(ref) + 1e-3) : 1e30);
      }
    }
    // add/mul: exact f32 rounding; silu/swiglu use __expf (2 ulp), gelu tanhf: a few ulp
    record(fmt("add(n=%lld)", (long long)n), e[0], 1e-6);
    record(fmt("mul(n=%lld)", (long long)n), e[1], 1e-6);
    record(fmt("silu(n=%lld)", (long long)n), e[2], 2e-5);
    record(fmt("gelu(n=%lld)", (long long)n), e[3], 2e-5);
    record(fmt("swiglu(n=%lld)", (long long)n), e[4], 2e-5);
  }
}

TEST(cuda_rmsnorm_softmax_vs_cpu_and_f64) {
  if (skip()) return;
  const int64_t shapes[][2] = {{1, 1}, {1, 3}, {3, 17}, {2, 4097}, {7, 4096}, {300, 33}};
  for (auto& s : shapes) {
    const int64_t rows = s[0], dim = s[1];
    auto x = randn(rows * dim, rows * 31 + dim, 3.0f), w = randn(dim, dim);
    std::vector<float> cpu(rows * dim);
    CHECK(fuselm::rmsnorm_f32(cpu.data(), x.data(), w.data(), rows, dim, 1e-5f).ok());
    Dev<float> dx(x), dw(w), o(rows * dim);
    OK(fc::rmsnorm_f32(o.p, dx.p, dw.p, rows, dim, 1e-5f));
    auto g = o.down();
    double e = 0;
    for (int64_t i = 0; i < rows * dim; i++) e = std::max(e, std::fabs(g[i] - cpu[i]) / (std::fabs(cpu[i]) + 1e-3));
    record(fmt("rmsnorm(rows=%lld,dim=%lld) vs cpu", (long long)rows, (long long)dim), e, 1e-5);
    // softmax with a few -inf entries and a scale
    std::vector<float> xs = x;
    for (int64_t i = 0; i < rows * dim; i += 7) xs[i] = -INFINITY;
    Dev<float> dxs(xs);
    OK(fc::softmax_f32(o.p, dxs.p, rows, dim, 0.5f));
    g = o.down();
    e = 0;
    for (int64_t r = 0; r < rows; r++) {
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < dim; j++) mx = std::max(mx, 0.5 * xs[r * dim + j]);
      for (int64_t j = 0; j < dim; j++) sum += mx == -INFINITY ? 0 : std::exp(0.5 * xs[r * dim + j] - mx);
      for (int64_t j = 0; j < dim; j++) {
        const double ref = (mx == -INFINITY || sum == 0) ? 0 : std::exp(0.5 * xs[r * dim + j] - mx) / sum;
        e = std::max(e, std::isfinite(g[r * dim + j]) ? std::fabs(g[r * dim + j] - ref) : 1e30);
      }
    }
    record(fmt("softmax(rows=%lld,dim=%lld)", (long long)rows, (long long)dim), e, 1e-6);
    std::vector<float> cs(rows * dim);
    CHECK(fuselm::softmax_f32(cs.data(), xs.data(), rows, dim, 0.5f).ok());
    double ec = 0;
    for (int64_t i = 0; i < rows * dim; i++) ec = std::max(ec, (double)std::fabs(g[i] - cs[i]));
    record(fmt("softmax(rows=%lld,dim=%lld) vs cpu", (long long)rows, (long long)dim), ec, 1e-6);
  }
}

TEST(cuda_rope_vs_cpu) {
  if (skip()) return;
  struct C { int64_t T, H, D, R; int mode; float fs; bool inplace; };
  const C cases[] = {{1, 1, 64, 64, 0, 1.0f, true}, {3, 4, 128, 128, 2, 1.0f, false},
                     {17, 2, 80, 64, 0, 0.5f, false}, {5, 3, 128, 96, 2, 1.0f, true}};
  for (const C& c : cases) {
    auto x = randn(c.T * c.H * c.D, c.T + c.D);
    std::vector<int32_t> pos(c.T);
    for (int64_t t = 0; t < c.T; t++) pos[t] = (int32_t)(t * 37 + 3);
    std::vector<float> cpu(x.size());
    CHECK(fuselm::rope_f32(cpu.data(), x.data(), pos.data(), c.T, c.H, c.D, c.R, c.mode, 10000.0f, c.fs).ok());
    Dev<float> dx(x), o(x.size());
    Dev<int32_t> dp(pos);
    float* dst = c.inplace ? dx.p : o.p;
    OK(fc::rope_f32(dst, dx.p, dp.p, c.T, c.H, c.D, c.R, c.mode, 10000.0f, c.fs));
    auto g = c.inplace ? dx.down() : o.down();
    double e = 0;
    for (size_t i = 0; i < x.size(); i++) e = std::max(e, std::isfinite(g[i]) ? (double)std::fabs(g[i] - cpu[i]) : 1e30);
    // the same double angles; cos/sin rounded to f32 and two f32 products on both sides
    record(fmt("rope(T=%lld,H=%lld,D=%lld,n_dims=%lld,mode=%d%s) vs cpu", (long long)c.T, (long long)c.H,
               (long long)c.D, (long long)c.R, c.mode, c.inplace ? ",in place" : ""),
           e, 2e-6);
  }
}

TEST(cuda_rope_scaled_vs_cpu) {
  if (skip()) return;
  // linear, llama3 freq factors (on the device), YaRN, all three with attn_factor
  struct C { int64_t T, H, D, R; int mode; float fs, ext, attn; bool ff; };
  const C cases[] = {{3, 2, 64, 64, 0, 0.25f, 0.0f, 1.0f, false}, {5, 3, 128, 128, 2, 1.0f, 0.0f, 1.0f, true},
                     {7, 2, 128, 96, 2, 0.25f, 1.0f, 1.0f, false}, {4, 4, 80, 64, 0, 0.125f, 1.0f, 1.2f, true}};
  for (const C& c : cases) {
    auto x = randn(c.T * c.H * c.D, c.T * 3 + c.D);
    std::vector<int32_t> pos(c.T);
    for (int64_t t = 0; t < c.T; t++) pos[t] = (int32_t)(t * 997 + 4000);
    std::vector<float> ff(c.R / 2);
    for (int64_t i = 0; i < c.R / 2; i++) ff[i] = 1.0f + 7.0f * (float)i / (float)(c.R / 2);
    fuselm::RopeScaling sc;
    sc.freq_scale = c.fs;
    sc.ext_factor = c.ext;
    sc.attn_factor = c.attn;
    sc.orig_ctx = 4096;
    sc.freq_factors = c.ff ? ff.data() : nullptr;
    std::vector<float> cpu(x.size());
    CHECK(fuselm::rope_ext_f32(cpu.data(), x.data(), pos.data(), c.T, c.H, c.D, c.R, c.mode, 10000.0f, sc).ok());
    Dev<float> dx(x), o(x.size()), dff(ff);
    Dev<int32_t> dp(pos);
    sc.freq_factors = c.ff ? dff.p : nullptr;
    OK(fc::rope_ext_f32(o.p, dx.p, dp.p, c.T, c.H, c.D, c.R, c.mode, 10000.0f, sc));
    auto g = o.down();
    double e = 0;
    for (size_t i = 0; i < x.size(); i++) e = std::max(e, std::isfinite(g[i]) ? (double)std::fabs(g[i] - cpu[i]) : 1e30);
    // the same double angle factors; cos/sin times the magnitude rounded to f32, two f32 products on both sides
    record(fmt("rope_ext(T=%lld,H=%lld,D=%lld,n_dims=%lld,mode=%d,fs=%g,ext=%g,attn=%g%s) vs cpu", (long long)c.T,
               (long long)c.H, (long long)c.D, (long long)c.R, c.mode, c.fs, c.ext, c.attn, c.ff ? ",freq_factors" : ""),
           e, 3e-6);
  }
}

TEST(cuda_softmax_special_rows) {
  if (skip()) return;
  const int64_t dim = 37;
  std::vector<float> x(4 * dim, 1.0f);
  for (int64_t j = 0; j < dim; j++) x[dim + j] = -INFINITY;  // row 1: fully masked -> zeros
  x[2 * dim + 5] = NAN;                                      // row 2: NaN -> NaN row
  x[3 * dim + 9] = INFINITY;                                 // row 3: +inf -> NaN row
  Dev<float> dx(x);
  OK(fc::softmax_f32(dx.p, dx.p, 4, dim, 1.0f));  // in place
  auto g = dx.down();
  bool ok = true;
  for (int64_t j = 0; j < dim; j++) {
    ok = ok && std::fabs(g[j] - 1.0f / dim) < 1e-6f && g[dim + j] == 0.0f && std::isnan(g[2 * dim + j]) &&
         std::isnan(g[3 * dim + j]);
  }
  CHECK(ok);
  CHECK(fc::softmax_f32(dx.p, dx.p, 1, dim, 0.0f).code == fuselm::Code::Range);
}

TEST(cuda_embedding_argmax) {
  if (skip()) return;
  const int64_t rows = 50, dim = 33;
  auto tab = randn(rows * dim, 5);
  std::vector<uint16_t> t16(tab.size()), tb(tab.size());
  for (size_t i = 0; i < tab.size(); i++) { t16[i] = fuselm::fp32_to_fp16(tab[i]); tb[i] = fuselm::fp32_to_bf16(tab[i]); }
  std::vector<int32_t> ids = {0, 49, 7, -1, 50, 3};
  Dev<float> d32(tab), o(ids.size() * dim);
  Dev<uint16_t> d16(t16), db(tb);
  Dev<int32_t> di(ids);
  double e = 0;
  for (int k = 0; k < 3; k++) {
    const DType t = k == 0 ? DType::F32 : k == 1 ? DType::F16 : DType::BF16;
    const void* p = k == 0 ? (const void*)d32.p : k == 1 ? (const void*)d16.p : (const void*)db.p;
    OK(fc::embedding_f32(o.p, p, t, rows, dim, di.p, (int64_t)ids.size()));
    auto g = o.down();
    for (size_t r = 0; r < ids.size(); r++)
      for (int64_t j = 0; j < dim; j++) {
        const int id = ids[r];
        double ref = 0;
        if (id >= 0 && id < rows)
          ref = k == 0 ? tab[id * dim + j] : k == 1 ? fuselm::fp16_to_fp32(t16[id * dim + j]) : fuselm::bf16_to_fp32(tb[id * dim + j]);
        e = std::max(e, std::fabs(g[r * dim + j] - ref));
      }
  }
  record("embedding(f32,f16,bf16, bad ids -> 0)", e, 0);
  // argmax as the CPU's: ties to the lowest index, the first NaN wins, all -inf gives 0
  const int64_t R = 4, Dm = 3000;
  auto x = randn(R * Dm, 9);
  x[0 * Dm + 10] = 50; x[0 * Dm + 2000] = 50;
  x[1 * Dm + 2500] = NAN; x[1 * Dm + 700] = NAN; x[1 * Dm + 2999] = 60;
  for (int64_t j = 0; j < Dm; j++) x[2 * Dm + j] = -INFINITY;
  Dev<float> dx(x);
  Dev<int32_t> da(R);
  OK(fc::argmax_f32(da.p, dx.p, R, Dm));
  auto a = da.down();
  CHECK(a[0] == 10);
  CHECK(a[1] == 700);
  std::vector<int32_t> ca(R);
  CHECK(fuselm::argmax_f32(ca.data(), x.data(), R, Dm).ok());
  CHECK(a == ca);
  CHECK(a[2] == 0);
  int64_t best = 0;
  for (int64_t j = 1; j < Dm; j++) if (x[3 * Dm + j] > x[3 * Dm + best]) best = j;
  CHECK(a[3] == best);
}

// ---------------- qgemm ----------------
static void run_matmul_case(DType t, int64_t M, int64_t N, int64_t K, int mode /*0 matmul,1 gemv,2 gemm,3 gemm split3*/,
                            bool with_bias) {
  auto w = random_weights(t, N, K, M * 7 + N * 13 + K + (int)t);
  const int64_t rb = fc::row_bytes(t, K);
  std::vector<std::vector<double>> W(N);
  for (int64_t n = 0; n < N; n++) W[n] = dequant_row(w.data() + n * rb, t, K);
  auto x = randn(M * K, M + K);
  auto bias = randn(N, N);
  Dev<uint8_t> dw(w);
  Dev<float> dx(x), db(bias), o(M * N);
  const float* bp = with_bias ? db.p : nullptr;
  if (mode == 0) OK(fc::matmul(o.p, dx.p, dw.p, t, M, N, K, bp));
  if (mode == 1) OK(fc::gemv(o.p, dx.p, dw.p, t, M, N, K, bp));
  if (mode == 2) OK(fc::gemm_mma(o.p, dx.p, dw.p, t, M, N, K, bp, 0));
  if (mode == 3) OK(fc::gemm_mma(o.p, dx.p, dw.p, t, M, N, K, bp, 3));
  auto g = o.down();
  const double e = gemm_err(g, x, W, with_bias ? &bias : nullptr, M, N, K);
  // gemv: f32 activations and f32 accumulation -> ~K * 2^-24 relative to sum|x w|.
  // gemm: x and w rounded to f16 (2^-11 each) or bf16 (2^-8), f32 accumulation.
  const bool mma = mode == 2 || mode == 3 || (mode == 0 && M > 8);
  const double tol = !mma ? 2e-6 : t == DType::BF16 ? 8e-3 : 1.5e-3;
  static const char* modes[] = {"matmul", "gemv", "gemm_mma", "gemm_mma_split3"};
  record(fmt("%s(%s,M=%lld,N=%lld,K=%lld%s)", modes[mode], name_of(t), (long long)M, (long long)N, (long long)K,
             with_bias ? ",bias" : ""),
         e, tol);
}

TEST(cuda_gemv_vs_f64) {
  if (skip()) return;
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::F16, DType::BF16, DType::Q5_0, DType::Q4_1,
                  DType::Q5_1, DType::IQ4_NL, DType::MXFP4, DType::IQ4_XS, DType::Q3_K, DType::Q2_K}) {
    const int64_t qk = fuselm::dtype_traits((int32_t)t)->block_elems == 256 ? 256 : 32;
    run_matmul_case(t, 1, 1, qk, 1, false);
    run_matmul_case(t, 2, 17, qk * 3, 1, true);
    run_matmul_case(t, 7, 129, qk * 9 + (qk == 32 ? 2048 : 2048), 1, false);  // a partial chunk after a full one
    run_matmul_case(t, 8, 300, 4096, 1, false);
    run_matmul_case(t, 1, 4097, 256 * 3, 1, false);
  }
}

TEST(cuda_gemm_mma_vs_f64) {
  if (skip()) return;
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::F16, DType::BF16, DType::Q5_0, DType::Q4_1,
                  DType::Q5_1, DType::IQ4_NL, DType::MXFP4, DType::IQ4_XS, DType::Q3_K, DType::Q2_K}) {
    const int64_t qk = fuselm::dtype_traits((int32_t)t)->block_elems == 256 ? 256 : 32;
    run_matmul_case(t, 9, 17, qk, 2, true);
    run_matmul_case(t, 64, 129, qk * 3, 2, false);
    run_matmul_case(t, 333, 131, 512 + qk, 2, true);
    run_matmul_case(t, 16, 300, 4096, 3, true);
    run_matmul_case(t, 17, 256, 1024, 0, false);
  }
  run_matmul_case(DType::Q4_0, 8, 33, 64, 0, true);  // matmul at M = 8 takes the gemv path
}

TEST(cuda_matmul_rejects_bad_input) {
  if (skip()) return;
  Dev<float> o(64), x(64);
  Dev<uint8_t> w(1024);
  CHECK(fc::matmul(o.p, x.p, w.p, DType::Q4_K, 1, 1, 100).code == fuselm::Code::Range);
  CHECK(fc::matmul(o.p, x.p, w.p, DType::Q5_K, 1, 1, 256).code == fuselm::Code::Unsupported);
  CHECK(fc::matmul(o.p, x.p, w.p, DType::Q4_0, -1, 1, 32).code == fuselm::Code::Range);
  CHECK(fc::matmul(o.p, nullptr, w.p, DType::Q4_0, 1, 1, 32).code == fuselm::Code::Type);
  CHECK(fc::gemv(o.p, x.p, w.p, DType::Q4_0, 9, 1, 32).code == fuselm::Code::Range);
}

// ---------------- lut ----------------
TEST(cuda_lut_matmul_vs_cpu_and_f64) {
  if (skip()) return;
  for (int bits : {4, 3}) {
    for (auto mnk : {std::array<int64_t, 3>{1, 1, 32}, {3, 17, 96}, {8, 300, 4096}, {11, 129, 1024}}) {
      const int64_t M = mnk[0], N = mnk[1], K = mnk[2], NT = 1 << bits, BB = bits == 4 ? 16 : 12;
      fltest::Rng r(M * 1000 + N + K + bits);
      std::vector<uint8_t> codes(N * K / 32 * BB);
      for (auto& c : codes) c = (uint8_t)r.next();
      std::vector<uint16_t> table(N * NT);
      for (int64_t n = 0; n < N; n++) {
        std::vector<float> t(NT);
        for (auto& v : t) v = 0.1f * r.normal();
        std::sort(t.begin(), t.end());
        for (int64_t i = 0; i < NT; i++) table[n * NT + i] = fuselm::fp32_to_fp16(t[i]);
      }
      std::vector<int32_t> row_ptr(N + 1, 0), col;
      std::vector<uint16_t> val;
      for (int64_t n = 0; n < N; n++) {
        const int64_t cnt = r.next() % 4;
        std::vector<int32_t> cs;
        for (int64_t i = 0; i < cnt; i++) cs.push_back((int32_t)(r.next() % K));
        std::sort(cs.begin(), cs.end());
        cs.erase(std::unique(cs.begin(), cs.end()), cs.end());
        for (int32_t c : cs) { col.push_back(c); val.push_back(fuselm::fp32_to_fp16(r.normal())); }
        row_ptr[n + 1] = (int32_t)col.size();
      }
      const int64_t nnz = (int64_t)col.size();
      fuselm::LutMatrix hw{codes.data(), table.data(), row_ptr.data(), col.data(), val.data(), N, K, nnz, bits};
      auto x = randn(M * K, M + K), bias = randn(N, N);
      std::vector<float> cpu(M * N);
      CHECK(fuselm::lut_matmul_f32(cpu.data(), x.data(), hw, bias.data(), M).ok());
      std::vector<float> dq(N * K);
      CHECK(fuselm::lut_dequantize_f32(dq.data(), hw).ok());
      Dev<uint8_t> dc(codes);
      Dev<uint16_t> dt(table), dv(val.empty() ? std::vector<uint16_t>{0} : val);
      Dev<int32_t> dr(row_ptr), dcol(col.empty() ? std::vector<int32_t>{0} : col);
      Dev<float> dx(x), db(bias), o(M * N);
      fuselm::LutMatrix dw{dc.p, dt.p, dr.p, dcol.p, dv.p, N, K, nnz, bits};
      OK(fc::lut_matmul(o.p, dx.p, dw, db.p, M));
      auto g = o.down();
      double e64 = 0, ecpu = 0;
      for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
          double ref = bias[n], mag = 1e-6;
          for (int64_t k = 0; k < K; k++) { ref += (double)x[m * K + k] * dq[n * K + k]; mag += std::fabs((double)x[m * K + k] * dq[n * K + k]); }
          const double gv = g[m * N + n];
          e64 = std::max(e64, std::isfinite(gv) ? std::fabs(gv - ref) / mag : 1e30);
          ecpu = std::max(ecpu, std::fabs(gv - cpu[m * N + n]) / mag);
        }
      // f32 accumulation in a different order on each side: ~K * 2^-24 per unit magnitude
      record(fmt("lut_matmul(lut%d,M=%lld,N=%lld,K=%lld) vs f64", bits, (long long)M, (long long)N, (long long)K), e64, 2e-6);
      record(fmt("lut_matmul(lut%d,M=%lld,N=%lld,K=%lld) vs cpu", bits, (long long)M, (long long)N, (long long)K), ecpu, 4e-6);
    }
  }
}

// ---------------- moe ----------------
TEST(cuda_moe_route_vs_cpu) {
  if (skip()) return;
  struct C { int64_t T, E, k; int32_t s; bool norm; int ng, tg; float scale; };
  const C cases[] = {{1, 8, 2, fuselm::MOE_SOFTMAX_TOPK, false, 1, 1, 1.0f}, {5, 60, 4, fuselm::MOE_SOFTMAX_TOPK, true, 1, 1, 1.0f},
                     {300, 64, 8, fuselm::MOE_TOPK_SOFTMAX, false, 1, 1, 1.0f}, {17, 256, 8, fuselm::MOE_SIGMOID_GROUP, true, 8, 4, 2.5f},
                     {33, 128, 8, fuselm::MOE_SOFTMAX_TOPK, false, 1, 1, 1.0f}, {9, 33, 3, fuselm::MOE_SIGMOID_GROUP, false, 1, 1, 1.0f}};
  for (const C& c : cases) {
    fltest::Rng r(c.T * 100 + c.E);
    std::vector<float> lg(c.T * c.E), bias(c.E);
    for (auto& v : lg) v = (float)((int)(r.uniform() * 16)) * 0.25f;  // many ties
    for (int64_t i = 0; i < c.T * c.E; i += 11) lg[i] = -INFINITY;
    for (auto& v : bias) v = 0.1f * r.normal();
    fuselm::MoeRouteParams p;
    p.scoring = c.s;
    p.k = (int32_t)c.k;
    p.norm = c.norm;
    p.n_group = c.ng;
    p.topk_group = c.tg;
    p.scale = c.scale;
    p.bias = c.s == fuselm::MOE_SIGMOID_GROUP ? bias.data() : nullptr;
    std::vector<int32_t> hid(c.T * c.k);
    std::vector<float> hw(c.T * c.k);
    CHECK(fuselm::moe_route(hid.data(), hw.data(), lg.data(), c.T, c.E, p).ok());
    Dev<float> dl(lg), db(bias), dw(c.T * c.k);
    Dev<int32_t> di(c.T * c.k);
    if (p.bias) p.bias = db.p;
    OK(fc::moe_route(di.p, dw.p, dl.p, c.T, c.E, p));
    auto gi = di.down();
    auto gw = dw.down();
    int64_t id_mismatch = 0;
    double e = 0;
    for (int64_t i = 0; i < c.T * c.k; i++) {
      id_mismatch += gi[i] != hid[i];
      e = std::max(e, std::fabs(gw[i] - hw[i]) / (std::fabs(hw[i]) + 1e-6));
    }
    CHECK(id_mismatch == 0);
    // the same exp polynomial; only the order of the softmax sum differs
    record(fmt("moe_route(mode=%d,T=%lld,E=%lld,k=%lld) weights vs cpu", (int)c.s, (long long)c.T, (long long)c.E,
               (long long)c.k),
           e, 1e-6);
  }
}

TEST(cuda_moe_permute_roundtrip) {
  if (skip()) return;
  for (int64_t pad : {1, 64}) {
    for (auto tk : {std::pair<int64_t, int64_t>{1, 8}, {5, 2}, {300, 8}, {2000, 4}}) {
      const int64_t T = tk.first, k = tk.second, E = 64, n = T * k;
      fltest::Rng r(T * 3 + pad);
      std::vector<int32_t> ids(n);
      for (auto& v : ids) v = (int32_t)(r.next() % (E / 2)) * 2;  // half the experts unused
      const int64_t pmax = fc::moe_rows_bound(T, k, E, pad);
      Dev<int32_t> di(ids), cnt(E), off(E + 1), sorted(pmax), inv(n), te(pmax / pad);
      OK(fc::moe_permute(cnt.p, off.p, sorted.p, inv.p, te.p, di.p, T, k, E, pad));
      auto c = cnt.down(), o = off.down(), s = sorted.down(), iv = inv.down(), tt = te.down();
      std::vector<int32_t> hc(E, 0);
      for (int32_t v : ids) hc[v]++;
      bool ok = c == hc;
      int64_t acc = 0;
      for (int64_t e = 0; e < E; e++) {
        ok = ok && o[e] == acc;
        int64_t row = o[e];
        for (int64_t i = 0; i < n; i++)  // stable: in pair order
          if (ids[i] == e) ok = ok && s[row] == i && iv[i] == row, row++;
        for (; row < o[e] + (hc[e] + pad - 1) / pad * pad; row++) ok = ok && s[row] == -1;
        for (int64_t tile = o[e] / pad; pad > 1 && tile < (o[e] + hc[e] + pad - 1) / pad; tile++) ok = ok && tt[tile] == e;
        acc += (hc[e] + pad - 1) / pad * pad;
      }
      ok = ok && o[E] == acc;
      std::vector<int32_t> cc(E), co(E + 1), cp(pmax, -1), ci(n);
      int64_t total = 0;
      CHECK(fuselm::moe_permute(cc.data(), co.data(), cp.data(), ci.data(), &total, ids.data(), T, k, E, pad).ok());
      ok = ok && total == o[E] && cc == c && co == o && ci == iv;
      for (int64_t i = 0; i < total; i++) ok = ok && cp[i] == s[i];
      CHECK(ok);
      record(fmt("moe_permute(T=%lld,k=%lld,pad=%lld) mismatches vs host+cpu", (long long)T, (long long)k, (long long)pad), ok ? 0 : 1, 0);
    }
  }
  std::vector<int32_t> bad = {0, 3, 64, -1};
  Dev<int32_t> di(bad), cnt(64), off(65), sorted(64), inv(4);
  CHECK(fc::moe_permute(cnt.p, off.p, sorted.p, inv.p, nullptr, di.p, 2, 2, 64, 1).code == fuselm::Code::Range);
}

TEST(cuda_moe_ffn_vs_f64) {
  if (skip()) return;
  struct C { int64_t E, k, T; DType t; };
  const C cases[] = {{8, 2, 1, DType::Q4_0}, {8, 2, 5, DType::Q8_0}, {8, 2, 300, DType::Q4_0}, {64, 8, 5, DType::Q4_K},
                     {128, 8, 3, DType::Q6_K}};
  const int64_t D = 256, F = 512;
  for (const C& c : cases) {
    auto wg = random_weights(c.t, c.E * F, D, 1 + c.E), wu = random_weights(c.t, c.E * F, D, 2 + c.E),
         wd = random_weights(c.t, c.E * D, F, 3 + c.E);
    const int64_t rbD = fc::row_bytes(c.t, D), rbF = fc::row_bytes(c.t, F);
    auto x = randn(c.T * D, c.T, 1.0f);
    fltest::Rng r(c.T + c.E);
    std::vector<int32_t> ids(c.T * c.k);
    std::vector<float> wts(c.T * c.k);
    for (int64_t t = 0; t < c.T; t++)
      for (int64_t j = 0; j < c.k; j++) {
        int32_t e;
        bool dup;
        do {
          e = (int32_t)(r.next() % c.E);
          dup = false;
          for (int64_t i = 0; i < j; i++) dup |= ids[t * c.k + i] == e;
        } while (dup);
        ids[t * c.k + j] = e;
        wts[t * c.k + j] = 0.1f + r.uniform();
      }
    Dev<uint8_t> dg(wg), du(wu), dd(wd);
    Dev<float> dx(x), dw(wts), o(c.T * D);
    Dev<int32_t> di(ids);
    const size_t sb = fc::moe_ffn_scratch_bytes(c.T, c.k, c.E, D, F);
    Dev<uint8_t> scratch(sb);
    OK(fc::moe_ffn(o.p, dx.p, di.p, dw.p, dg.p, du.p, dd.p, c.t, c.T, c.k, c.E, D, F, scratch.p, sb));
    auto g = o.down();
    double e = 0;
    for (int64_t t = 0; t < c.T; t++) {
      std::vector<double> y(D, 0.0), mag(D, 1e-6);
      for (int64_t j = 0; j < c.k; j++) {
        const int64_t ex = ids[t * c.k + j];
        std::vector<double> h(F);
        for (int64_t f = 0; f < F; f++) {
          auto gr = dequant_row(wg.data() + (ex * F + f) * rbD, c.t, D);
          auto ur = dequant_row(wu.data() + (ex * F + f) * rbD, c.t, D);
          double a = 0, b = 0;
          for (int64_t d = 0; d < D; d++) { a += gr[d] * x[t * D + d]; b += ur[d] * x[t * D + d]; }
          h[f] = a / (1 + std::exp(-a)) * b;
        }
        for (int64_t d = 0; d < D; d++) {
          auto dr = dequant_row(wd.data() + (ex * D + d) * rbF, c.t, F);
          double s = 0, m = 0;
          for (int64_t f = 0; f < F; f++) { s += dr[f] * h[f]; m += std::fabs(dr[f] * h[f]); }
          y[d] += wts[t * c.k + j] * s;
          mag[d] += wts[t * c.k + j] * m;
        }
      }
      for (int64_t d = 0; d < D; d++)
        e = std::max(e, std::isfinite(g[t * D + d]) ? std::fabs(g[t * D + d] - y[d]) / (mag[d] + 1e-3) : 1e30);
    }
    // three GEMMs with f16 operands (x and the SwiGLU output rounded to f16): a few 2^-11 per unit magnitude
    record(fmt("moe_ffn(%s,E=%lld,k=%lld,T=%lld,D=%lld,F=%lld)", name_of(c.t), (long long)c.E, (long long)c.k,
               (long long)c.T, (long long)D, (long long)F),
           e, 4e-3);
  }
}

// ---------------- attention ----------------
namespace {
struct Cache {
  int64_t nkv, cap, D;
  std::vector<uint16_t> k, v;
  double kf(int64_t h, int64_t j, int64_t d) const { return fuselm::fp16_to_fp32(k[(h * cap + j) * D + d]); }
  double vf(int64_t h, int64_t j, int64_t d) const { return fuselm::fp16_to_fp32(v[(h * cap + j) * D + d]); }
};
Cache make_cache(int64_t nkv, int64_t cap, int64_t D, uint64_t seed) {
  Cache c{nkv, cap, D, std::vector<uint16_t>(nkv * cap * D), std::vector<uint16_t>(nkv * cap * D)};
  fltest::Rng r(seed);
  for (auto& x : c.k) x = fuselm::fp32_to_fp16(r.normal());
  for (auto& x : c.v) x = fuselm::fp32_to_fp16(r.normal());
  return c;
}
// out[D] = softmax over visible j of (q.k_j * scale, capped) . v_j
template <class Vis>
std::vector<double> attend(const Cache& c, const float* q, int64_t h, int64_t len, double scale, double cap, Vis vis) {
  std::vector<double> s(len), o(c.D, 0.0);
  double mx = -INFINITY;
  for (int64_t j = 0; j < len; j++) {
    if (!vis(j)) { s[j] = -INFINITY; continue; }
    double d = 0;
    for (int64_t i = 0; i < c.D; i++) d += (double)q[i] * c.kf(h, j, i);
    d *= scale;
    if (cap > 0) d = cap * std::tanh(d / cap);
    s[j] = d;
    mx = std::max(mx, d);
  }
  if (mx == -INFINITY) return o;
  double sum = 0;
  for (int64_t j = 0; j < len; j++) if (s[j] != -INFINITY) { s[j] = std::exp(s[j] - mx); sum += s[j]; } else s[j] = 0;
  for (int64_t j = 0; j < len; j++)
    if (s[j] > 0) for (int64_t i = 0; i < c.D; i++) o[i] += s[j] / sum * c.vf(h, j, i);
  return o;
}
}  // namespace

TEST(cuda_attention_decode_vs_f64) {
  if (skip()) return;
  struct C { int64_t D, H, KV, len; int form; int64_t splits; float cap; };  // 0 dense, 1 window+sinks, 2 blocks, 3 blocks U window/sinks
  const C cases[] = {{64, 8, 8, 1, 0, 0, 0}, {128, 8, 2, 17, 0, 1, 0}, {80, 8, 1, 1000, 0, 0, 0}, {128, 32, 8, 4097, 0, 0, 0},
                     {128, 32, 8, 4097, 0, 7, 30.0f}, {64, 4, 1, 3000, 1, 0, 0}, {128, 16, 2, 5000, 2, 0, 0},
                     {80, 8, 2, 777, 2, 3, 0}, {128, 8, 2, 3001, 3, 0, 0}, {64, 4, 4, 130, 3, 2, 0}, {64, 8, 8, 700, 1, 1, 0}};
  for (const C& c : cases) {
    const int64_t cap = c.len + 5, bs = 64, nb = (c.len + bs - 1) / bs;
    Cache kv = make_cache(c.KV, cap, c.D, c.len + c.D);
    auto q = randn(c.H * c.D, c.H + c.len);
    const float scale = 1.0f / std::sqrt((float)c.D);
    fc::AttnSparse sp;
    sp.block_size = bs;
    std::vector<int32_t> blocks;
    std::vector<std::vector<bool>> allow(c.KV, std::vector<bool>(nb, true));
    if (c.form == 1) { sp.window = c.len > 1000 ? 500 : 77; sp.sinks = c.len > 1000 ? 4 : 0; }
    if (c.form == 3) { sp.window = 100; sp.sinks = 5; }
    if (c.form >= 2) {
      fltest::Rng r(c.len);
      sp.blocks_stride = nb;
      blocks.assign(c.KV * nb, 0);
      int64_t n_min = nb;
      for (int64_t h = 0; h < c.KV; h++) {
        int64_t cnt = 0;
        for (int64_t b = 0; b < nb; b++) {
          allow[h][b] = c.form == 2 ? (b == 0 || b == nb - 1 || r.uniform() < 0.25) : r.uniform() < 0.3;
        }
        for (int64_t b = 0; b < nb; b++) if (allow[h][b]) blocks[h * nb + cnt++] = (int32_t)b;
        n_min = std::min(n_min, cnt);
      }
      // every head attends to its first n_min listed blocks
      for (int64_t h = 0; h < c.KV; h++) {
        int64_t cnt = 0;
        for (int64_t b = 0; b < nb; b++) if (allow[h][b]) { if (cnt >= n_min) allow[h][b] = false; cnt++; }
      }
      sp.n_blocks = n_min;
      if (c.form == 3)  // pad with -1 as the selection does
        for (int64_t h = 0; h < c.KV; h++) { blocks[h * nb + n_min] = -1; }
      if (c.form == 3 && n_min < nb) sp.n_blocks = n_min + 1;
    }
    Dev<uint16_t> dk(kv.k), dv(kv.v);
    Dev<float> dq(q), o(c.H * c.D);
    Dev<int32_t> db(blocks.empty() ? std::vector<int32_t>{0} : blocks);
    if (c.form >= 2) sp.blocks = db.p;
    const size_t wsb = fc::attention_decode_workspace_bytes(c.H, c.D, c.splits);
    Dev<uint8_t> ws(wsb ? wsb : 1);
    OK(fc::attention_decode(o.p, dq.p, dk.p, dv.p, c.H, c.KV, c.D, cap, c.len, scale, c.cap, sp, c.splits, ws.p, wsb));
    auto g = o.down();
    double e = 0;
    const int64_t group = c.H / c.KV;
    for (int64_t h = 0; h < c.H; h++) {
      const int64_t kvh = h / group;
      auto ref = attend(kv, &q[h * c.D], kvh, c.len, scale, c.cap, [&](int64_t j) {
        if (c.form == 1) return j < sp.sinks || j >= c.len - sp.window;
        if (c.form == 2) return (bool)allow[kvh][j / bs];
        if (c.form == 3) return j < sp.sinks || j >= c.len - sp.window || (bool)allow[kvh][j / bs];
        return true;
      });
      for (int64_t d = 0; d < c.D; d++) e = std::max(e, std::isfinite(g[h * c.D + d]) ? std::fabs(g[h * c.D + d] - ref[d]) : 1e30);
    }
    static const char* forms[] = {"dense", "window+sinks", "blocks", "blocks+window+sinks"};
    // f32 math on the f16 cache values; __expf: about 1e-6 relative per weight
    record(fmt("attention_decode(%s,D=%lld,H=%lld,KV=%lld,len=%lld,splits=%lld%s)", forms[c.form], (long long)c.D,
               (long long)c.H, (long long)c.KV, (long long)c.len, (long long)c.splits, c.cap > 0 ? ",softcap" : ""),
           e, 1e-4);
  }
}

TEST(cuda_attention_prefill_vs_f64) {
  if (skip()) return;
  struct C { int64_t D, H, KV, nq, pos0; int form; };  // 0 causal, 1 window+sinks, 2 block mask
  const C cases[] = {{64, 4, 4, 1, 0, 0}, {128, 8, 2, 17, 23, 0}, {80, 8, 1, 40, 0, 0}, {128, 4, 1, 100, 7, 1},
                     {64, 8, 2, 150, 30, 2}};
  for (const C& c : cases) {
    const int64_t len = c.pos0 + c.nq, cap = len + 3, bs = 16, nkb = (len + bs - 1) / bs;
    Cache kv = make_cache(c.KV, cap, c.D, c.nq * 5 + c.D);
    auto q = randn(c.nq * c.H * c.D, c.nq + c.H);
    const float scale = 1.0f / std::sqrt((float)c.D);
    fc::AttnSparse sp;
    sp.block_size = bs;
    std::vector<uint8_t> mask(nkb * nkb, 1);
    if (c.form == 1) { sp.window = 24; sp.sinks = 3; }
    if (c.form == 2) {
      for (int64_t a = 0; a < nkb; a++)
        for (int64_t b = 0; b < nkb; b++) mask[a * nkb + b] = (b == a || b == 0 || (a - b) % 3 == 0);  // local + strided
    }
    Dev<uint16_t> dk(kv.k), dv(kv.v);
    Dev<float> dq(q), o(c.nq * c.H * c.D);
    Dev<uint8_t> dm(mask);
    if (c.form == 2) sp.block_mask = dm.p;
    OK(fc::attention_prefill(o.p, dq.p, dk.p, dv.p, c.nq, c.pos0, c.H, c.KV, c.D, cap, len, scale, 0.0f, sp));
    auto g = o.down();
    double e = 0;
    for (int64_t t = 0; t < c.nq; t++)
      for (int64_t h = 0; h < c.H; h++) {
        const int64_t qp = c.pos0 + t;
        auto ref = attend(kv, &q[(t * c.H + h) * c.D], h / (c.H / c.KV), len, scale, 0.0, [&](int64_t j) {
          if (j > qp) return false;
          if (c.form == 1) return j < sp.sinks || j > qp - sp.window;
          if (c.form == 2) return mask[(qp / bs) * nkb + j / bs] != 0;
          return true;
        });
        for (int64_t d = 0; d < c.D; d++) {
          const float gv = g[(t * c.H + h) * c.D + d];
          e = std::max(e, std::isfinite(gv) ? std::fabs(gv - ref[d]) : 1e30);
        }
      }
    static const char* forms[] = {"causal", "window+sinks", "block_mask"};
    record(fmt("attention_prefill(%s,D=%lld,H=%lld,KV=%lld,nq=%lld,pos0=%lld)", forms[c.form], (long long)c.D,
               (long long)c.H, (long long)c.KV, (long long)c.nq, (long long)c.pos0),
           e, 1e-4);
  }
}

TEST(cuda_kv_append_and_select_blocks) {
  if (skip()) return;
  const int64_t KV = 2, H = 8, D = 64, cap = 1024, bs = 64, nbc = cap / bs;
  auto k1 = randn(300 * KV * D, 1), v1 = randn(300 * KV * D, 2), k2 = randn(77 * KV * D, 3), v2 = randn(77 * KV * D, 4);
  Dev<uint16_t> dk(KV * cap * D), dv(KV * cap * D);
  Dev<float> kmin(KV * nbc * D), kmax(KV * nbc * D), dk1(k1), dv1(v1), dk2(k2), dv2(v2);
  OK(fc::kv_append_f16(dk.p, dv.p, kmin.p, kmax.p, dk1.p, dv1.p, 300, 0, KV, D, cap, bs));
  OK(fc::kv_append_f16(dk.p, dv.p, kmin.p, kmax.p, dk2.p, dv2.p, 77, 300, KV, D, cap, bs));
  const int64_t len = 377;
  auto hk = dk.down(), hv = dv.down();
  auto hmin = kmin.down(), hmax = kmax.down();
  bool ok = true;
  for (int64_t t = 0; t < len; t++)
    for (int64_t h = 0; h < KV; h++)
      for (int64_t d = 0; d < D; d++) {
        const float kk = t < 300 ? k1[(t * KV + h) * D + d] : k2[((t - 300) * KV + h) * D + d];
        const float vv = t < 300 ? v1[(t * KV + h) * D + d] : v2[((t - 300) * KV + h) * D + d];
        ok = ok && hk[(h * cap + t) * D + d] == fuselm::fp32_to_fp16(kk) && hv[(h * cap + t) * D + d] == fuselm::fp32_to_fp16(vv);
      }
  CHECK(ok);
  const int64_t nb = (len + bs - 1) / bs;
  for (int64_t h = 0; h < KV; h++)
    for (int64_t b = 0; b < nb; b++)
      for (int64_t d = 0; d < D; d++) {
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t j = b * bs; j < std::min(len, (b + 1) * bs); j++) {
          const float x = fuselm::fp16_to_fp32(hk[(h * cap + j) * D + d]);
          lo = std::min(lo, x);
          hi = std::max(hi, x);
        }
        ok = ok && hmin[(h * nbc + b) * D + d] == lo && hmax[(h * nbc + b) * D + d] == hi;
      }
  CHECK(ok);
  record("kv_append_f16 + block summaries (exact)", ok ? 0 : 1, 0);
  // selection: the same float arithmetic order on the host (sinks 10, window 100, k 3)
  auto q = randn(H * D, 11);
  const int64_t kk = 3, sinks = 10, window = 100;
  Dev<float> dq(q);
  Dev<int32_t> blocks(KV * kk);
  OK(fc::attention_select_blocks(blocks.p, dq.p, kmin.p, kmax.p, H, KV, D, cap, len, bs, sinks, window, kk));
  auto gb = blocks.down();
  for (int64_t h = 0; h < KV; h++) {
    std::vector<float> sc(nb, 0.0f);
    std::vector<int> st(nb, 0);
    for (int64_t b = 0; b < nb; b++) {
      const int64_t j0 = b * bs, j1 = std::min(len, (b + 1) * bs);
      if (std::max(j0, sinks) >= std::min(j1, len - window)) { st[b] = 2; continue; }
      float s = 0;
      for (int64_t g = 0; g < H / KV; g++)
        for (int64_t d = 0; d < D; d++) {
          const float qq = q[(h * (H / KV) + g) * D + d];
          s += std::max(qq * hmin[(h * nbc + b) * D + d], qq * hmax[(h * nbc + b) * D + d]);
        }
      sc[b] = s;
    }
    for (int64_t r = 0; r < kk; r++) {
      int64_t best = -1;
      for (int64_t b = 0; b < nb; b++) if (st[b] == 0 && (best < 0 || sc[b] > sc[best])) best = b;
      if (best >= 0) st[best] = 1;
    }
    std::vector<int32_t> want;
    for (int64_t b = 0; b < nb; b++) if (st[b] == 1) want.push_back((int32_t)b);
    while ((int64_t)want.size() < kk) want.push_back(-1);
    for (int64_t i = 0; i < kk; i++) CHECK(gb[h * kk + i] == want[i]);
  }
}

// The CUDA decode and prefill against the CPU attention_f32 over a CPU cache holding the same tokens.
TEST(cuda_attention_vs_cpu_attention) {
  if (skip()) return;
  const int64_t H = 8, KV = 2, D = 128, len = 1000, cap = 1024, bs = 64, nbc = cap / bs;
  auto k = randn(len * KV * D, 21), v = randn(len * KV * D, 22);
  std::vector<int32_t> pos(len);
  for (int64_t i = 0; i < len; i++) pos[i] = (int32_t)i;
  fuselm::KvCache* cache = nullptr;
  CHECK(fuselm::kv_cache_create(&cache, KV, D, fuselm::KvDType::F16).ok());
  if (!cache) return;
  CHECK(fuselm::kv_cache_append(cache, k.data(), v.data(), pos.data(), len).ok());
  Dev<uint16_t> dk(KV * cap * D), dv(KV * cap * D);
  Dev<float> kmin(KV * nbc * D), kmax(KV * nbc * D), dkf(k), dvf(v);
  OK(fc::kv_append_f16(dk.p, dv.p, kmin.p, kmax.p, dkf.p, dvf.p, len, 0, KV, D, cap, bs));
  const float scale = 1.0f / std::sqrt((float)D);
  // decode: dense, window+sinks, dynamic top-k (k = 4 blocks) with window and sinks
  auto q = randn(H * D, 23);
  Dev<float> dq(q), o(H * D);
  const size_t wsb = fc::attention_decode_workspace_bytes(H, D, 0);
  Dev<uint8_t> ws(wsb);
  for (int mode = 0; mode < 3; mode++) {
    fuselm::AttentionParams p;
    p.scale = scale;
    fc::AttnSparse sp;
    if (mode >= 1) { p.window = sp.window = 96; p.sinks = sp.sinks = 8; p.windowed = mode == 1; }
    if (mode == 2) p.top_k = 4;
    std::vector<float> cpu(H * D);
    int32_t qp = (int32_t)(len - 1);
    CHECK(fuselm::attention_f32(cpu.data(), q.data(), &qp, 1, H, D, cache, p, nullptr).ok());
    Dev<int32_t> blocks(KV * 4);
    if (mode == 2) {
      int64_t kk = 0;
      CHECK(fuselm::attention_select_k(&kk, cache, p).ok());
      CHECK(kk == 4);
      std::vector<int32_t> csel(KV * 4);
      CHECK(fuselm::attention_select(csel.data(), 4, q.data(), &qp, 1, H, D, cache, p).ok());
      OK(fc::attention_select_blocks(blocks.p, dq.p, kmin.p, kmax.p, H, KV, D, cap, len, bs, 8, 96, 4));
      auto gsel = blocks.down();
      CHECK(gsel == csel);
      sp.blocks = blocks.p;
      sp.n_blocks = 4;
      sp.blocks_stride = 4;
    }
    OK(fc::attention_decode(o.p, dq.p, dk.p, dv.p, H, KV, D, cap, len, scale, 0.0f, sp, 0, ws.p, wsb));
    auto g = o.down();
    double e = 0;
    for (int64_t i = 0; i < H * D; i++) e = std::max(e, std::isfinite(g[i]) ? (double)std::fabs(g[i] - cpu[i]) : 1e30);
    static const char* names[] = {"dense", "window+sinks", "top-k 4 + window + sinks"};
    record(fmt("attention_decode(%s, len=1000) vs cpu attention_f32", names[mode]), e, 2e-5);
  }
  // prefill: the last 70 tokens as queries, causal and with a local+strided block mask
  const int64_t nq = 70, p0 = len - nq, nkb = (len + bs - 1) / bs;
  auto qs = randn(nq * H * D, 24);
  Dev<float> dqs(qs), os(nq * H * D);
  std::vector<uint8_t> mask(nkb * nkb);
  for (int64_t a = 0; a < nkb; a++) for (int64_t b = 0; b < nkb; b++) mask[a * nkb + b] = b == a || b == 0 || (a - b) % 4 == 0;
  Dev<uint8_t> dm(mask);
  for (int mode = 0; mode < 2; mode++) {
    fuselm::AttentionParams p;
    p.scale = scale;
    fc::AttnSparse sp;
    if (mode == 1) {
      p.block_mask = mask.data(); p.mask_rows = nkb; p.mask_cols = nkb;
      sp.block_mask = dm.p; sp.mask_rows = nkb; sp.mask_cols = nkb;
    }
    std::vector<int32_t> qpos(nq);
    for (int64_t i = 0; i < nq; i++) qpos[i] = (int32_t)(p0 + i);
    std::vector<float> cpu(nq * H * D);
    CHECK(fuselm::attention_f32(cpu.data(), qs.data(), qpos.data(), nq, H, D, cache, p, nullptr).ok());
    OK(fc::attention_prefill(os.p, dqs.p, dk.p, dv.p, nq, p0, H, KV, D, cap, len, scale, 0.0f, sp));
    auto g = os.down();
    double e = 0;
    for (size_t i = 0; i < cpu.size(); i++) e = std::max(e, std::isfinite(g[i]) ? (double)std::fabs(g[i] - cpu[i]) : 1e30);
    record(fmt("attention_prefill(%s, nq=70, len=1000) vs cpu attention_f32", mode ? "block mask" : "causal"), e, 2e-5);
  }
  fuselm::kv_cache_free(cache);
}

#endif  // FUSELM_WITH_CUDA
