// Family `lut`: invariants, the split over the pool, and the quantizer
// (weighted 1-D k-means per row + the largest-magnitude weights kept in CSR).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "fuselm/fp16.h"
#include "fuselm/ops.h"
#include "fuselm/ops/lut.h"
#include "cpu/lut_scalar.h"

namespace fuselm {

static void report_lut(const void* p, void (*emit)(const char*, const char*, void*), void* u) {
  const LutTable& t = *(const LutTable*)p;
  emit("dequant_row_lut4", t.dequant_row_lut4.isa, u);
  emit("dequant_row_lut3", t.dequant_row_lut3.isa, u);
  emit("gemm_lut4_f32", t.gemm_lut4_f32.isa, u);
  emit("gemm_lut3_f32", t.gemm_lut3_f32.isa, u);
}
static const Dispatch<LutTable> lut_dispatch("lut", ref::fill_lut, avx2::fill_lut, avx512::fill_lut, report_lut);

static int64_t lut_row_bytes(int bits, int64_t k) {
  return (k / 32) * (bits == 4 ? (int64_t)sizeof(block_lut4) : (int64_t)sizeof(block_lut3));
}

static Status check_shape(int bits, int64_t n, int64_t k, int64_t nnz) {
  if (bits != 3 && bits != 4) return Status::range("bits", "3 or 4", std::to_string(bits));
  if (n < 1 || n > INT32_MAX) return Status::range("n", "integer in [1, 2147483647]", std::to_string(n));
  if (k < 32 || k % 32 != 0 || k > INT32_MAX)
    return Status::range("k", "a multiple of 32 (the lut block) >= 32", std::to_string(k));
  if (nnz < 0 || nnz > INT32_MAX || nnz > n * k)
    return Status::range("nnz", "integer in [0, min(N*K, 2^31-1)]", std::to_string(nnz));
  return Status::Ok();
}

Status lut_check(const LutMatrix& w) {
  FL_TRY(check_shape(w.bits, w.n, w.k, w.nnz));
  if (!w.codes || !w.table || !w.row_ptr) return Status::range("w", "codes, table and row_ptr buffers", "null");
  if (w.nnz > 0 && (!w.col || !w.val)) return Status::range("w", "col and val buffers for nnz > 0", "null");
  if (w.row_ptr[0] != 0) return Status::range("rowPtr[0]", "0", std::to_string(w.row_ptr[0]));
  for (int64_t r = 0; r < w.n; r++)
    if (w.row_ptr[r + 1] < w.row_ptr[r])
      return Status::range("rowPtr[" + std::to_string(r + 1) + "]", "a non-decreasing sequence (>= " +
                           std::to_string(w.row_ptr[r]) + ")", std::to_string(w.row_ptr[r + 1]));
  if (w.row_ptr[w.n] != w.nnz)
    return Status::range("rowPtr[" + std::to_string(w.n) + "]", "nnz = " + std::to_string(w.nnz),
                         std::to_string(w.row_ptr[w.n]));
  uint32_t bad = 0;  // unsigned max: one pass, no branch per entry
  for (int64_t i = 0; i < w.nnz; i++) bad |= (uint32_t)w.col[i] >= (uint32_t)w.k ? 1u : 0u;
  if (bad) {
    for (int64_t i = 0; i < w.nnz; i++)
      if (w.col[i] < 0 || w.col[i] >= w.k)
        return Status::range("col[" + std::to_string(i) + "]", "integer in [0, " + std::to_string(w.k - 1) + "]",
                             std::to_string(w.col[i]));
  }
  return Status::Ok();
}

Status lut_matmul_f32(float* out, const float* x, const LutMatrix& w, const float* bias, int64_t m) {
  if (m < 0 || m > INT32_MAX) return Status::range("m", "integer in [0, 2147483647]", std::to_string(m));
  FL_TRY(lut_check(w));
  if (m == 0) return Status::Ok();
  const LutTable& t = lut_dispatch();
  auto fn = w.bits == 4 ? t.gemm_lut4_f32.fn : t.gemm_lut3_f32.fn;
  const LutGemmArgs args{out, x, bias, m, w};
  // ~64 KiB of codes per task at least; rows are independent
  const int64_t grain = std::max<int64_t>(1, (int64_t)65536 / std::max<int64_t>(1, lut_row_bytes(w.bits, w.k) * m));
  parallel_for(w.n, grain, [&](int64_t b, int64_t e, int) {
    thread_local std::vector<float> scratch;
    if ((int64_t)scratch.size() < 4 * w.k) scratch.resize(4 * w.k);
    fn(args, b, e, scratch.data());
  });
  return Status::Ok();
}

Status lut_dequantize_f32(float* out, const LutMatrix& w) {
  FL_TRY(lut_check(w));
  const LutTable& t = lut_dispatch();
  auto fn = w.bits == 4 ? t.dequant_row_lut4.fn : t.dequant_row_lut3.fn;
  const int64_t rb = lut_row_bytes(w.bits, w.k), tn = (int64_t)1 << w.bits;
  parallel_for(w.n, std::max<int64_t>(1, 16384 / w.k), [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; r++) {
      float* d = out + r * w.k;
      fn(d, w.codes + r * rb, w.table + r * tn, w.k);
      for (int64_t i = w.row_ptr[r]; i < w.row_ptr[r + 1]; i++) d[w.col[i]] += fp16_to_fp32(w.val[i]);
    }
  });
  return Status::Ok();
}

// ---- quantizer -------------------------------------------------------------

namespace {

struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (double)(next() >> 11) * (1.0 / 9007199254740992.0); }
};

// index i with P0[i] <= u < P0[i+1] (P0 prefix sums of non-negative weights, u < P0[n])
int64_t sample(const std::vector<double>& p0, double u) {
  int64_t i = std::upper_bound(p0.begin(), p0.end(), u) - p0.begin() - 1;
  const int64_t n = (int64_t)p0.size() - 1;
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

// weighted 1-D k-means of sorted values v (weights h), L centroids, ascending
void kmeans_1d(const std::vector<float>& v, const std::vector<double>& h, int L, const LutQuantizeOptions& o,
               uint64_t row_seed, double* c) {
  const int64_t cnt = (int64_t)v.size();
  if (cnt == 0) {
    for (int j = 0; j < L; j++) c[j] = 0;
    return;
  }
  std::vector<double> p0(cnt + 1, 0.0), p1(cnt + 1, 0.0);
  for (int64_t i = 0; i < cnt; i++) {
    p0[i + 1] = p0[i] + h[i];
    p1[i + 1] = p1[i] + h[i] * v[i];
  }
  const double tot = p0[cnt];
  if (o.init == LUT_INIT_QUANTILE) {
    for (int j = 0; j < L; j++) c[j] = v[sample(p0, tot * (j + 0.5) / L)];
  } else {
    // k-means++: first centre ~ h, then ~ h * D^2 (D: distance to the nearest centre so far)
    SplitMix rng{row_seed};
    c[0] = v[sample(p0, rng.uniform() * tot)];
    std::vector<double> d2(cnt), q(cnt + 1, 0.0);
    for (int64_t i = 0; i < cnt; i++) d2[i] = (v[i] - c[0]) * (v[i] - c[0]) * h[i];
    for (int j = 1; j < L; j++) {
      for (int64_t i = 0; i < cnt; i++) q[i + 1] = q[i] + d2[i];
      if (!(q[cnt] > 0)) {  // every value already sits on a centre
        c[j] = c[j - 1];
        continue;
      }
      c[j] = v[sample(q, rng.uniform() * q[cnt])];
      for (int64_t i = 0; i < cnt; i++) d2[i] = std::min(d2[i], (v[i] - c[j]) * (v[i] - c[j]) * h[i]);
    }
  }
  std::sort(c, c + L);
  // Lloyd on sorted data: clusters are intervals between midpoints, means from prefix sums
  for (int it = 0; it < o.iters; it++) {
    bool changed = false;
    int64_t s = 0;
    for (int j = 0; j < L; j++) {
      int64_t e = cnt;
      if (j + 1 < L) {
        const float mid = (float)(0.5 * (c[j] + c[j + 1]));
        e = std::lower_bound(v.begin() + s, v.end(), mid) - v.begin();
      }
      const double wsum = p0[e] - p0[s];
      if (wsum > 0) {
        const double nc = (p1[e] - p1[s]) / wsum;
        if (nc != c[j]) changed = true;
        c[j] = nc;
      }
      s = e;
    }
    std::sort(c, c + L);
    if (!changed) break;  // a fixed point: further iterations would change nothing
  }
}

}  // namespace

Status lut_quantize_f32(uint8_t* codes, fl_half* table, int32_t* row_ptr, int32_t* col, fl_half* val,
                        const float* w, int64_t n, int64_t k, const LutQuantizeOptions& o) {
  FL_TRY(check_shape(o.bits, n, k, o.nnz));
  const int64_t total = n * k;
  if (o.importance_len != 0 && o.importance_len != k && o.importance_len != total)
    return Status::range("weights", "K = " + std::to_string(k) + " or N*K = " + std::to_string(total) + " values",
                         std::to_string(o.importance_len));
  if (o.iters < 0 || o.iters > 10000) return Status::range("iters", "integer in [0, 10000]", std::to_string(o.iters));
  if (o.init != LUT_INIT_KMEANSPP && o.init != LUT_INIT_QUANTILE)
    return Status::range("init", "'kmeans++' or 'quantile'", std::to_string(o.init));
  for (int64_t i = 0; i < total; i++)
    if (!(std::fabs(w[i]) < 32768.0f))  // fp16 must hold the table and the residuals
      return Status::range("w[" + std::to_string(i) + "]", "a finite value with |w| < 32768", std::to_string(w[i]));
  for (int64_t i = 0; i < o.importance_len; i++)
    if (!(o.importance[i] >= 0.0f) || std::isinf(o.importance[i]))
      return Status::range("weights[" + std::to_string(i) + "]", "a finite value >= 0", std::to_string(o.importance[i]));

  // 1. outliers: the nnz largest |w| over the whole matrix, ties broken by index
  std::vector<uint8_t> outl(o.nnz > 0 ? total : 0, 0);
  if (o.nnz > 0) {
    std::vector<float> mag(total);
    for (int64_t i = 0; i < total; i++) mag[i] = std::fabs(w[i]);
    std::nth_element(mag.begin(), mag.begin() + (total - o.nnz), mag.end());
    const float thr = mag[total - o.nnz];
    int64_t gt = 0;
    for (int64_t i = 0; i < total; i++) gt += std::fabs(w[i]) > thr;
    int64_t eq = o.nnz - gt;
    for (int64_t i = 0; i < total; i++) {
      const float a = std::fabs(w[i]);
      if (a > thr || (a == thr && eq > 0)) {
        if (a == thr) eq--;
        outl[i] = 1;
      }
    }
  }
  row_ptr[0] = 0;
  for (int64_t r = 0; r < n; r++) {
    int32_t c = 0;
    if (o.nnz > 0)
      for (int64_t i = 0; i < k; i++) c += outl[r * k + i];
    row_ptr[r + 1] = row_ptr[r] + c;
  }

  // 2. per row: k-means over the non-outliers, fp16 table, nearest-centroid codes
  const int L = 1 << o.bits;
  const int64_t rb = lut_row_bytes(o.bits, k);
  parallel_for(n, 1, [&](int64_t rb0, int64_t re0, int) {
    std::vector<std::pair<float, double>> vh;
    std::vector<float> v;
    std::vector<double> h;
    vh.reserve(k);
    for (int64_t r = rb0; r < re0; r++) {
      const float* wr = w + r * k;
      const float* hr = o.importance_len == 0 ? nullptr : o.importance + (o.importance_len == k ? 0 : r * k);
      vh.clear();
      double hs = 0;
      for (int64_t i = 0; i < k; i++) {
        if (o.nnz > 0 && outl[r * k + i]) continue;
        const double hi = hr ? (double)hr[i] : 1.0;
        vh.emplace_back(wr[i], hi);
        hs += hi;
      }
      if (!(hs > 0))
        for (auto& p : vh) p.second = 1.0;  // no statistics for this row: uniform
      std::sort(vh.begin(), vh.end());
      v.resize(vh.size());
      h.resize(vh.size());
      for (size_t i = 0; i < vh.size(); i++) {
        v[i] = vh[i].first;
        h[i] = vh[i].second;
      }
      double c[16];
      kmeans_1d(v, h, L, o, o.seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)(r + 1) * 0xD1B54A32D192ED03ull, c);
      float f[16];
      fl_half* tr = table + r * L;
      for (int j = 0; j < L; j++) {
        tr[j] = fp32_to_fp16((float)c[j]);
        f[j] = fp16_to_fp32(tr[j]);
      }
      double mid[15];
      for (int j = 0; j + 1 < L; j++) mid[j] = 0.5 * ((double)f[j] + (double)f[j + 1]);
      uint8_t* q = codes + r * rb;
      std::memset(q, 0, rb);
      int32_t pos = row_ptr[r];
      for (int64_t i = 0; i < k; i++) {
        int code = 0;
        for (int j = 0; j + 1 < L; j++) code += (double)wr[i] > mid[j];
        const int64_t b = i / 32;
        const int jj = (int)(i % 32);
        if (o.bits == 4) {
          q[b * 16 + (jj & 15)] |= (uint8_t)(code << (jj < 16 ? 0 : 4));
        } else {
          lut::put3(q + b * 12, jj, code);
        }
        if (o.nnz > 0 && outl[r * k + i]) {
          col[pos] = (int32_t)i;
          val[pos] = fp32_to_fp16(wr[i] - f[code]);
          pos++;
        }
      }
    }
  });
  return Status::Ok();
}

}  // namespace fuselm
