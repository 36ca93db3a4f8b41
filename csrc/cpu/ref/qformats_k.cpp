// Scalar reference of family `qgemm` for IQ4_XS, Q3_K and Q2_K: the weight
// quantizers (ggml's reference algorithms without an importance matrix, re-derived
// with the same float operations in the same order, so the bytes equal
// llama-quantize's), and plain-loop GEMV kernels over the GGUF and repacked layouts.
#include <cmath>
#include <cstring>

#include "cpu/qformats_k.h"
#include "fuselm/ops/qgemm.h"

namespace fuselm {
namespace quant {

// ggml best_index_int8: the nearest of the 16 ascending levels (ties to the upper one)
static int best_index_iq4(float x) {
  const int8_t* val = kIq4nlValues;
  if (x <= val[0]) return 0;
  if (x >= val[15]) return 15;
  int ml = 0, mu = 15;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < val[mav]) mu = mav;
    else ml = mav;
  }
  return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

// keeps a product a rounded float (no contraction into a following add)
static inline float fbar(float v) {
  __asm__("" : "+x"(v));
  return v;
}

// ggml quantize_row_iq4_nl_impl(256, 32, ..., quant_weights = NULL, ntry = 7): weights
// x^2, per sub-block a scale search over 15 candidates, then ls = round(scale / d)
// with d = -max_scale / 32, codes re-chosen against d * ls (d unrounded, as ggml).
void row_iq4_xs(void* dst, const float* x, int64_t n) {
  block_iq4_xs* y = (block_iq4_xs*)dst;
  const int8_t* values = kIq4nlValues;
  const int ntry = 7;
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    uint8_t L[QK_K];
    float scales[8], weight[32];
    std::memset(y[i].qs, 0, sizeof y[i].qs);
    y[i].d = fp32_to_fp16(0.f);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < 8; ib++) {
      const float* xb = x + 32 * ib;
      uint8_t* Lb = L + 32 * ib;
      for (int j = 0; j < 32; j++) weight[j] = xb[j] * xb[j];
      float amax = 0, max = 0;
      for (int j = 0; j < 32; j++) {
        const float ax = std::fabs(xb[j]);
        if (ax > amax) { amax = ax; max = xb[j]; }
      }
      if (amax < 1e-15f) {
        scales[ib] = 0;
        continue;
      }
      float d = -max / values[0];
      float id = 1 / d;
      float sumqx = 0, sumq2 = 0;
      for (int j = 0; j < 32; j++) {
        const float al = id * xb[j];
        const int l = best_index_iq4(al);
        Lb[j] = (uint8_t)l;
        const float q = values[l];
        const float w = weight[j];
        sumqx += fbar(fbar(w * q) * xb[j]);
        sumq2 += fbar(fbar(w * q) * q);
      }
      d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
      float best = d * sumqx;
      for (int itry = -ntry; itry <= ntry; itry++) {
        id = (itry + values[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; j++) {
          const float al = id * xb[j];
          const int l = best_index_iq4(al);
          const float q = values[l];
          const float w = weight[j];
          sumqx += fbar(fbar(w * q) * xb[j]);
          sumq2 += fbar(fbar(w * q) * q);
        }
        if (sumq2 > 0 && fbar(sumqx * sumqx) > fbar(best * sumq2)) {
          d = sumqx / sumq2;
          best = d * sumqx;
        }
      }
      scales[ib] = d;
      const float abs_d = std::fabs(d);
      if (abs_d > amax_scale) { amax_scale = abs_d; max_scale = d; }
    }
    y[i].scales_h = 0;
    std::memset(y[i].scales_l, 0, sizeof y[i].scales_l);
    const float d = -max_scale / 32;
    y[i].d = fp32_to_fp16(d);
    const float id = d != 0.0f ? 1 / d : 0.f;
    for (int ib = 0; ib < 8; ib++) {
      int l = qs::nearest_int(id * scales[ib]);
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      const float dl = d * l;
      const float idl = dl != 0.0f ? 1 / dl : 0.f;
      for (int j = 0; j < 32; j++) L[32 * ib + j] = (uint8_t)best_index_iq4(idl * x[32 * ib + j]);
      l += 32;
      if (ib % 2 == 0) y[i].scales_l[ib / 2] = (uint8_t)(l & 0xF);
      else y[i].scales_l[ib / 2] |= (uint8_t)((l & 0xF) << 4);
      y[i].scales_h |= (uint16_t)((l >> 4) << (2 * ib));
    }
    for (int ib = 0; ib < 8; ib++)
      for (int j = 0; j < 16; j++) y[i].qs[16 * ib + j] = (uint8_t)(L[32 * ib + j] | (L[32 * ib + 16 + j] << 4));
  }
}

// ggml make_q3_quants(n = 16, nmax = 4, do_rmse = true): symmetric codes in [-4, 3],
// then up to 5 rounds of coordinate descent on the weighted (x^2) error; returns the
// scale and L + 4
static float make_q3_quants(const float* x, int8_t* L) {
  const int n = 16, nmax = 4;
  float max = 0, amax = 0;
  for (int i = 0; i < n; i++) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < 1e-15f) {
    for (int i = 0; i < n; i++) L[i] = 0;
    return 0.f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; i++) {
    int l = qs::nearest_int(iscale * x[i]);
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    L[i] = (int8_t)l;
    const float w = x[i] * x[i];
    sumlx += fbar(fbar(w * x[i]) * l);
    suml2 += fbar(fbar(w * l) * l);
  }
  for (int itry = 0; itry < 5; itry++) {
    int n_changed = 0;
    for (int i = 0; i < n; i++) {
      const float w = x[i] * x[i];
      float slx = sumlx - fbar(fbar(w * x[i]) * L[i]);
      if (slx > 0) {
        float sl2 = suml2 - fbar(fbar(w * L[i]) * L[i]);
        int new_l = qs::nearest_int(fbar(x[i] * sl2) / slx);
        new_l = new_l < -nmax ? -nmax : new_l > nmax - 1 ? nmax - 1 : new_l;
        if (new_l != L[i]) {
          slx += fbar(fbar(w * x[i]) * new_l);
          sl2 += fbar(fbar(w * new_l) * new_l);
          if (sl2 > 0 && fbar(fbar(slx * slx) * suml2) > fbar(fbar(sumlx * sumlx) * sl2)) {
            L[i] = (int8_t)new_l;
            sumlx = slx;
            suml2 = sl2;
            n_changed++;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// ggml quantize_row_q3_K_ref
void row_q3_K(void* dst, const float* x, int64_t n) {
  block_q3_K* y = (block_q3_K*)dst;
  int8_t L[QK_K];
  float scales[16];
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; j++) {
      scales[j] = make_q3_quants(x + 16 * j, L + 16 * j);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) { amax = scale; max_scale = scales[j]; }
    }
    std::memset(y[i].scales, 0, 12);
    if (max_scale != 0.0f) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; j++) {
        int8_t l = (int8_t)qs::nearest_int(iscale * scales[j]);
        l = (int8_t)((l < -32 ? -32 : l > 31 ? 31 : l) + 32);
        if (j < 8) y[i].scales[j] = (uint8_t)(l & 0xF);
        else y[i].scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
        l = (int8_t)(l >> 4);
        y[i].scales[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
      }
      y[i].d = fp32_to_fp16(1 / iscale);
    } else {
      y[i].d = fp32_to_fp16(0.f);
    }
    int8_t sc[16];
    qs::unpack_scales_q3_K(y[i].scales, sc);
    for (int j = 0; j < 16; j++) {
      const float d = fp16_to_fp32(y[i].d) * sc[j];
      if (d == 0.0f) continue;
      for (int ii = 0; ii < 16; ii++) {
        int l = qs::nearest_int(x[16 * j + ii] / d);
        l = l < -4 ? -4 : l > 3 ? 3 : l;
        L[16 * j + ii] = (int8_t)(l + 4);
      }
    }
    std::memset(y[i].hmask, 0, sizeof y[i].hmask);
    for (int j = 0; j < QK_K; j++) {
      if (L[j] > 3) {
        y[i].hmask[j % 32] |= (uint8_t)(1 << (j / 32));
        L[j] -= 4;
      }
    }
    for (int j = 0; j < QK_K; j += 128)
      for (int l = 0; l < 32; l++)
        y[i].qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
  }
}

// ggml make_qkx2_quants with use_mad = true (weighted absolute error), for Q2_K:
// n = 16, nmax = 3, rmin = -0.5, rdelta = 0.1, nstep = 15
static float make_qkx2_quants_mad(const float* x, const float* weights, uint8_t* L, float* the_min, uint8_t* Laux) {
  const int n = 16, nmax = 3, nstep = 15;
  const float rmin = -0.5f, rdelta = 0.1f;
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += fbar(w * x[i]);
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; i++) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; i++) {
    int l = qs::nearest_int(fbar(iscale * (x[i] - min)));
    L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
    const float diff = std::fabs(fbar(fbar(scale * L[i]) + min) - x[i]);
    best_error += fbar(weights[i] * diff);
  }
  for (int is = 0; is <= nstep; is++) {
    iscale = (fbar(rmin + fbar(rdelta * is)) + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; i++) {
      int l = qs::nearest_int(fbar(iscale * (x[i] - min)));
      l = l < 0 ? 0 : l > nmax ? nmax : l;
      Laux[i] = (uint8_t)l;
      const float w = weights[i];
      sum_l += fbar(w * l);
      sum_l2 += fbar(fbar(w * l) * l);
      sum_xl += fbar(fbar(w * l) * x[i]);
    }
    const float D = fbar(sum_w * sum_l2) - fbar(sum_l * sum_l);
    if (D > 0) {
      float this_scale = (fbar(sum_w * sum_xl) - fbar(sum_x * sum_l)) / D;
      float this_min = (fbar(sum_l2 * sum_x) - fbar(sum_l * sum_xl)) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; i++) {
        const float diff = std::fabs(fbar(fbar(this_scale * Laux[i]) + this_min) - x[i]);
        cur_error += fbar(weights[i] * diff);
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; i++) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// ggml quantize_row_q2_K_ref
void row_q2_K(void* dst, const float* x, int64_t n) {
  block_q2_K* y = (block_q2_K*)dst;
  uint8_t L[QK_K], Laux[16];
  float weights[16], mins[16], scales[16];
  const float q4scale = 15.f;
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; j++) {
      for (int l = 0; l < 16; l++) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = make_qkx2_quants_mad(x + 16 * j, weights, L + 16 * j, &mins[j], Laux);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < 16; j++) y[i].scales[j] = (uint8_t)qs::nearest_int(iscale * scales[j]);
      y[i].d = fp32_to_fp16(max_scale / q4scale);
    } else {
      for (int j = 0; j < 16; j++) y[i].scales[j] = 0;
      y[i].d = fp32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < 16; j++) y[i].scales[j] |= (uint8_t)(qs::nearest_int(iscale * mins[j]) << 4);
      y[i].dmin = fp32_to_fp16(max_min / q4scale);
    } else {
      y[i].dmin = fp32_to_fp16(0.f);
    }
    for (int j = 0; j < 16; j++) {
      const float d = fp16_to_fp32(y[i].d) * (y[i].scales[j] & 0xF);
      if (d == 0.0f) continue;
      const float dm = fp16_to_fp32(y[i].dmin) * (y[i].scales[j] >> 4);
      for (int ii = 0; ii < 16; ii++) {
        int l = qs::nearest_int((x[16 * j + ii] + dm) / d);
        L[16 * j + ii] = (uint8_t)(l < 0 ? 0 : l > 3 ? 3 : l);
      }
    }
    for (int j = 0; j < QK_K; j += 128)
      for (int l = 0; l < 32; l++)
        y[i].qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
  }
}

}  // namespace quant

namespace ref {

static void dequantize_row_iq4_xs(float* y, const void* x, int64_t n) { qs::dequant_iq4_xs(y, (const block_iq4_xs*)x, n); }
static void dequantize_row_q3_K(float* y, const void* x, int64_t n) { qs::dequant_q3_K(y, (const block_q3_K*)x, n); }
static void dequantize_row_q2_K(float* y, const void* x, int64_t n) { qs::dequant_q2_K(y, (const block_q2_K*)x, n); }

template <class W, float (*dot)(const W*, const block_q8_K*, int64_t)>
static void gemv_k(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* Wp, int64_t n0,
                   int64_t n1) {
  const int64_t nb = K / QK_K;
  const W* w = (const W*)Wp;
  const block_q8_K* a = (const block_q8_K*)acts;
  for (int64_t n = n0; n < n1; n++)
    for (int64_t m = 0; m < M; m++) out[m * ldo + n] = dot(w + n * nb, a + m * nb, nb);
}
static void gemv_iq4_xs_q8_K(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                             int64_t n1) {
  gemv_k<block_iq4_xs, qs::dot_iq4_xs_q8_K>(o, l, a, M, K, W, n0, n1);
}
static void gemv_q3_K_q8_K(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  gemv_k<block_q3_K, qs::dot_q3_K_q8_K>(o, l, a, M, K, W, n0, n1);
}
static void gemv_q2_K_q8_K(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  gemv_k<block_q2_K, qs::dot_q2_K_q8_K>(o, l, a, M, K, W, n0, n1);
}

// the repacked layouts, row r of group g at a time, with the plain formats' integer sums
static void gemv_iq4_xsx16_q8_K(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W,
                                int64_t n0, int64_t n1) {
  const int64_t nb = K / QK_K;
  const block_iq4_xsx16* w = (const block_iq4_xsx16*)W;
  const block_q8_K* A = (const block_q8_K*)acts;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = n0; n < n1; n++) {
      const block_iq4_xsx16* wg = w + (n / 16) * nb;
      const int r = (int)(n % 16);
      float s = 0;
      for (int64_t b = 0; b < nb; b++) {
        const block_q8_K& a = A[m * nb + b];
        int sumi = 0;
        for (int j = 0; j < 8; j++) {
          int dot = 0;
          for (int i = 0; i < 32; i++) dot += kIq4nlValues[qs::iq4_xsx16_code(wg[b], r, 32 * j + i)] * a.qs[32 * j + i];
          sumi += wg[b].sc[j][r] * dot;
        }
        s += fp16_to_fp32(wg[b].d[r]) * a.d * (float)sumi;
      }
      out[m * ldo + n] = s;
    }
}
static void gemv_q3_Kx16_q8_K(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W,
                              int64_t n0, int64_t n1) {
  const int64_t nb = K / QK_K;
  const block_q3_Kx16* w = (const block_q3_Kx16*)W;
  const block_q8_K* A = (const block_q8_K*)acts;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = n0; n < n1; n++) {
      const block_q3_Kx16* wg = w + (n / 16) * nb;
      const int r = (int)(n % 16);
      float s = 0;
      for (int64_t b = 0; b < nb; b++) {
        const block_q8_K& a = A[m * nb + b];
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
          int dot = 0;
          for (int e = 16 * j; e < 16 * j + 16; e++) dot += qs::q3_Kx16_code(wg[b], r, e) * a.qs[e];
          sumi += wg[b].sc[j][r] * (dot - 4 * a.bsums[j]);
        }
        s += fp16_to_fp32(wg[b].d[r]) * a.d * (float)sumi;
      }
      out[m * ldo + n] = s;
    }
}
static void gemv_q2_Kx16_q8_K(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W,
                              int64_t n0, int64_t n1) {
  const int64_t nb = K / QK_K;
  const block_q2_Kx16* w = (const block_q2_Kx16*)W;
  const block_q8_K* A = (const block_q8_K*)acts;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = n0; n < n1; n++) {
      const block_q2_Kx16* wg = w + (n / 16) * nb;
      const int r = (int)(n % 16);
      float s = 0;
      for (int64_t b = 0; b < nb; b++) {
        const block_q8_K& a = A[m * nb + b];
        int sumi = 0, summ = 0;
        for (int j = 0; j < 16; j++) {
          int dot = 0;
          for (int e = 16 * j; e < 16 * j + 16; e++) dot += qs::kx16_q2(wg[b].ql, r, e) * a.qs[e];
          sumi += (wg[b].scales[j][r] & 0xF) * dot;
          summ += (wg[b].scales[j][r] >> 4) * a.bsums[j];
        }
        s += fp16_to_fp32(wg[b].d[r]) * a.d * (float)sumi - fp16_to_fp32(wg[b].dmin[r]) * a.d * (float)summ;
      }
      out[m * ldo + n] = s;
    }
}

void fill_qformats_k(QgemmTable& t) {
  FL_IMPL(t, dequantize_row_iq4_xs, ref);
  FL_IMPL(t, dequantize_row_q3_K, ref);
  FL_IMPL(t, dequantize_row_q2_K, ref);
  FL_IMPL(t, gemv_iq4_xs_q8_K, ref);
  FL_IMPL(t, gemv_q3_K_q8_K, ref);
  FL_IMPL(t, gemv_q2_K_q8_K, ref);
  FL_IMPL(t, gemv_iq4_xsx16_q8_K, ref);
  FL_IMPL(t, gemv_q3_Kx16_q8_K, ref);
  FL_IMPL(t, gemv_q2_Kx16_q8_K, ref);
}

}  // namespace ref
}  // namespace fuselm
