// Scalar reference for family `qgemm`: the weight quantizers (ggml's reference
// algorithms, re-derived), the activation quantizers, and plain-loop GEMV and
// GEMM kernels: the ground truth every SIMD path is tested against.
#include <cmath>
#include <cstring>

#include "cpu/qscalar.h"
#include "fuselm/ops/qgemm.h"

namespace fuselm {

// ---- weight quantizers (exported through csrc/ops/qgemm.cpp) -------------------
namespace quant {

// ggml quantize_row_q8_0_ref
void row_q8_0(void* dst, const float* x, int64_t n) {
  block_q8_0* y = (block_q8_0*)dst;
  for (int64_t i = 0; i < n / QK8_0; i++) {
    float d;
    qs::quantize_q8_0_block(x + 32 * i, y[i].qs, &d);
    y[i].d = fp32_to_fp16(d);
  }
}

// ggml quantize_row_q4_0_ref: d = (value of largest magnitude) / -8, q = min(15, trunc(x/d + 8.5))
void row_q4_0(void* dst, const float* x, int64_t n) {
  block_q4_0* y = (block_q4_0*)dst;
  for (int64_t i = 0; i < n / QK4_0; i++, x += QK4_0) {
    float amax = 0, mx = 0;
    for (int j = 0; j < 32; j++) {
      if (amax < std::fabs(x[j])) { amax = std::fabs(x[j]); mx = x[j]; }
    }
    const float d = mx / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < 16; j++) {
      const float v0 = x[j] * id, v1 = x[16 + j] * id;
      // keep x*id and +8.5 two roundings, as ggml's C does (no FMA contraction)
      float a0 = v0, a1 = v1;
      __asm__("" : "+x"(a0), "+x"(a1));
      const int q0 = (int8_t)(a0 + 8.5f), q1 = (int8_t)(a1 + 8.5f);
      y[i].qs[j] = (uint8_t)((q0 < 15 ? q0 : 15) | ((q1 < 15 ? q1 : 15) << 4));
    }
  }
}

// ggml make_qkx2_quants: weighted least squares over a few candidate scales,
// for asymmetric n-level codes L in [0, nmax]; returns the scale, *the_min = -min.
static float make_qkx2_quants(int n, int nmax, const float* x, const float* w, uint8_t* L, float* the_min,
                              uint8_t* Laux, float rmin, float rdelta, int nstep) {
  float mn = x[0], mx = x[0], sum_w = w[0], sum_x = w[0] * x[0];
  for (int i = 1; i < n; i++) {
    mn = x[i] < mn ? x[i] : mn;
    mx = x[i] > mx ? x[i] : mx;
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (mn > 0) mn = 0;
  if (mx == mn) {
    for (int i = 0; i < n; i++) L[i] = 0;
    *the_min = -mn;
    return 0.f;
  }
  float iscale = nmax / (mx - mn);
  float scale = 1 / iscale;
  float best = 0;
  for (int i = 0; i < n; i++) {
    int l = qs::nearest_int(iscale * (x[i] - mn));
    l = l < 0 ? 0 : l > nmax ? nmax : l;
    L[i] = (uint8_t)l;
    const float diff = scale * l + mn - x[i];
    best += w[i] * (diff * diff);  // ggml: w * (diff * diff), not (w * diff) * diff
  }
  for (int is = 0; is <= nstep; is++) {
    iscale = (rmin + rdelta * is + nmax) / (mx - mn);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; i++) {
      int l = qs::nearest_int(iscale * (x[i] - mn));
      l = l < 0 ? 0 : l > nmax ? nmax : l;
      Laux[i] = (uint8_t)l;
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float err = 0;
      for (int i = 0; i < n; i++) {
        const float diff = this_scale * Laux[i] + this_min - x[i];
        err += w[i] * (diff * diff);
      }
      if (err < best) {
        for (int i = 0; i < n; i++) L[i] = Laux[i];
        best = err;
        scale = this_scale;
        mn = this_min;
      }
    }
  }
  *the_min = -mn;
  return scale;
}

// ggml make_qx_quants with rmse_type 1 (weights x²): symmetric codes in [-nmax, nmax-1]
// stored as L + nmax; searches 18 scales around nmax / max.
static float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float amax = 0, mx = 0;
  for (int i = 0; i < n; i++) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; mx = x[i]; }
  }
  if (amax < 1e-15f) {
    for (int i = 0; i < n; i++) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / mx;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; i++) {
    int l = qs::nearest_int(iscale * x[i]);
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    L[i] = (int8_t)(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; is++) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / mx;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; i++) {
      int l = qs::nearest_int(iscale * x[i]);
      l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; i++) {
        int l = qs::nearest_int(iscale * x[i]);
        L[i] = (int8_t)(nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Shared by q4_K (nmax 15) and q5_K (nmax 31): per 32-weight sub-block scale
// and min by make_qkx2_quants, then 6-bit super-block quantization of both.
static void k_scales_mins(const float* x, int nmax, float rmin, int nstep, uint8_t* L, uint8_t* packed, fl_half* dd,
                          fl_half* dmin) {
  float scales[8], mins[8], weights[32];
  uint8_t Laux[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; j++) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; l++) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(packed, 0, K_SCALE_SIZE);
  for (int j = 0; j < 8; j++) {
    int ls = qs::nearest_int(inv_scale * scales[j]), lm = qs::nearest_int(inv_min * mins[j]);
    ls = ls > 63 ? 63 : ls;
    lm = lm > 63 ? 63 : lm;
    if (j < 4) {
      packed[j] = (uint8_t)ls;
      packed[j + 4] = (uint8_t)lm;
    } else {
      packed[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
      packed[j - 4] |= (uint8_t)((ls >> 4) << 6);
      packed[j] |= (uint8_t)((lm >> 4) << 6);
    }
  }
  *dd = fp32_to_fp16(max_scale / 63.f);
  *dmin = fp32_to_fp16(max_min / 63.f);
  // re-quantize against the rounded scales
  uint8_t sc[8], m[8];
  qs::unpack_scales_k4(packed, sc, m);
  for (int j = 0; j < 8; j++) {
    const float d = fp16_to_fp32(*dd) * sc[j];
    if (d == 0.0f) continue;
    const float dm = fp16_to_fp32(*dmin) * m[j];
    for (int l = 0; l < 32; l++) {
      int q = qs::nearest_int((x[32 * j + l] + dm) / d);
      L[32 * j + l] = (uint8_t)(q < 0 ? 0 : q > nmax ? nmax : q);
    }
  }
}

// ggml quantize_row_q4_K_ref
void row_q4_K(void* dst, const float* x, int64_t n) {
  block_q4_K* y = (block_q4_K*)dst;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    k_scales_mins(x, 15, -1.f, 20, L, y[i].scales, &y[i].d, &y[i].dmin);
    for (int c = 0; c < 4; c++)
      for (int l = 0; l < 32; l++) y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
  }
}

// ggml quantize_row_q5_K_ref
void row_q5_K(void* dst, const float* x, int64_t n) {
  block_q5_K* y = (block_q5_K*)dst;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    k_scales_mins(x, 31, -0.5f, 15, L, y[i].scales, &y[i].d, &y[i].dmin);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int c = 0; c < 4; c++) {
      for (int l = 0; l < 32; l++) {
        int l1 = L[64 * c + l], l2 = L[64 * c + 32 + l];
        if (l1 > 15) { l1 -= 16; y[i].qh[l] |= (uint8_t)(1 << (2 * c)); }
        if (l2 > 15) { l2 -= 16; y[i].qh[l] |= (uint8_t)(2 << (2 * c)); }
        y[i].qs[32 * c + l] = (uint8_t)(l1 | (l2 << 4));
      }
    }
  }
}

// ggml quantize_row_q6_K_ref
void row_q6_K(void* dst, const float* x, int64_t n) {
  block_q6_K* y = (block_q6_K*)dst;
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ib++) {
      const float s = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
      scales[ib] = s;
      if (std::fabs(s) > max_abs_scale) { max_abs_scale = std::fabs(s); max_scale = s; }
    }
    std::memset(&y[i], 0, sizeof(block_q6_K));
    if (max_abs_scale < 1e-15f) continue;
    const float iscale = -128.f / max_scale;
    y[i].d = fp32_to_fp16(1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ib++) {
      const int v = qs::nearest_int(iscale * scales[ib]);
      y[i].scales[ib] = (int8_t)(v < 127 ? v : 127);
    }
    for (int j = 0; j < QK_K / 16; j++) {
      const float d = fp16_to_fp32(y[i].d) * y[i].scales[j];
      if (d == 0.0f) continue;
      for (int l = 0; l < 16; l++) {
        int q = qs::nearest_int(x[16 * j + l] / d);
        q = q < -32 ? -32 : q > 31 ? 31 : q;
        L[16 * j + l] = (int8_t)(q + 32);
      }
    }
    for (int h = 0; h < 2; h++) {
      uint8_t* ql = y[i].ql + 64 * h;
      uint8_t* qh = y[i].qh + 32 * h;
      const int8_t* Lh = L + 128 * h;
      for (int l = 0; l < 32; l++) {
        const uint8_t q1 = Lh[l] & 0xF, q2 = Lh[l + 32] & 0xF, q3 = Lh[l + 64] & 0xF, q4 = Lh[l + 96] & 0xF;
        ql[l] = (uint8_t)(q1 | (q3 << 4));
        ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
        qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
      }
    }
  }
}

void row_q8_K(void* dst, const float* x, int64_t n) { qs::quantize_q8_K_row((block_q8_K*)dst, x, n); }

void row_f16(void* dst, const float* x, int64_t n) {
  uint16_t* y = (uint16_t*)dst;
  for (int64_t i = 0; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}
void row_bf16(void* dst, const float* x, int64_t n) {
  uint16_t* y = (uint16_t*)dst;
  for (int64_t i = 0; i < n; i++) y[i] = fp32_to_bf16(x[i]);
}

}  // namespace quant

namespace ref {

static void quantize_act_q4_0(void* dst, const float* x, int64_t n) {
  qs::quantize_act_q8_0_row((qs::ActQ8_0*)dst, x, n, 8);
}
static void quantize_act_q8_0(void* dst, const float* x, int64_t n) {
  qs::quantize_act_q8_0_row((qs::ActQ8_0*)dst, x, n, 128);
}
static void quantize_row_q8_K(void* dst, const float* x, int64_t n) { qs::quantize_q8_K_row((block_q8_K*)dst, x, n); }

static void dequantize_row_q4_0(float* y, const void* x, int64_t n) { qs::dequant_q4_0(y, (const block_q4_0*)x, n); }
static void dequantize_row_q8_0(float* y, const void* x, int64_t n) { qs::dequant_q8_0(y, (const block_q8_0*)x, n); }
static void dequantize_row_q4_K(float* y, const void* x, int64_t n) { qs::dequant_q4_K(y, (const block_q4_K*)x, n); }
static void dequantize_row_q5_K(float* y, const void* x, int64_t n) { qs::dequant_q5_K(y, (const block_q5_K*)x, n); }
static void dequantize_row_q6_K(float* y, const void* x, int64_t n) { qs::dequant_q6_K(y, (const block_q6_K*)x, n); }
static void dequantize_row_f16(float* y, const void* x, int64_t n) { qs::dequant_f16(y, (const uint16_t*)x, n); }
static void dequantize_row_bf16(float* y, const void* x, int64_t n) { qs::dequant_bf16(y, (const uint16_t*)x, n); }
static void round_bf16_row(uint16_t* y, const float* x, int64_t n) { qs::round_bf16(y, x, n); }

// ---- GEMV: one block at a time, int sums per block, f32 accumulation ---------
static float dot_q4_0_q8_0(const block_q4_0* w, const qs::ActQ8_0* a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++) {
    int sum = 0;
    for (int j = 0; j < 16; j++)
      sum += ((w[b].qs[j] & 0xF) - 8) * a[b].qs[j] + ((w[b].qs[j] >> 4) - 8) * a[b].qs[j + 16];
    s += (float)sum * (fp16_to_fp32(w[b].d) * a[b].d);
  }
  return s;
}
static float dot_q8_0_q8_0(const block_q8_0* w, const qs::ActQ8_0* a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++) {
    int sum = 0;
    for (int j = 0; j < 32; j++) sum += w[b].qs[j] * a[b].qs[j];
    s += (float)sum * (fp16_to_fp32(w[b].d) * a[b].d);
  }
  return s;
}
static float dot_q4_K_q8_K(const block_q4_K* w, const block_q8_K* a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++) {
    uint8_t sc[8], m[8];
    qs::unpack_scales_k4(w[b].scales, sc, m);
    int sumi = 0, summ = 0;
    for (int c = 0; c < 4; c++) {
      int s1 = 0, s2 = 0;
      for (int l = 0; l < 32; l++) {
        s1 += (w[b].qs[32 * c + l] & 0xF) * a[b].qs[64 * c + l];
        s2 += (w[b].qs[32 * c + l] >> 4) * a[b].qs[64 * c + 32 + l];
      }
      sumi += sc[2 * c] * s1 + sc[2 * c + 1] * s2;
    }
    for (int j = 0; j < 8; j++) summ += m[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
    s += fp16_to_fp32(w[b].d) * a[b].d * (float)sumi - fp16_to_fp32(w[b].dmin) * a[b].d * (float)summ;
  }
  return s;
}
static float dot_q5_K_q8_K(const block_q5_K* w, const block_q8_K* a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++) {
    uint8_t sc[8], m[8];
    qs::unpack_scales_k4(w[b].scales, sc, m);
    int sumi = 0, summ = 0;
    for (int c = 0; c < 4; c++) {
      int s1 = 0, s2 = 0;
      for (int l = 0; l < 32; l++) {
        const int q1 = (w[b].qs[32 * c + l] & 0xF) | (((w[b].qh[l] >> (2 * c)) & 1) << 4);
        const int q2 = (w[b].qs[32 * c + l] >> 4) | (((w[b].qh[l] >> (2 * c + 1)) & 1) << 4);
        s1 += q1 * a[b].qs[64 * c + l];
        s2 += q2 * a[b].qs[64 * c + 32 + l];
      }
      sumi += sc[2 * c] * s1 + sc[2 * c + 1] * s2;
    }
    for (int j = 0; j < 8; j++) summ += m[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
    s += fp16_to_fp32(w[b].d) * a[b].d * (float)sumi - fp16_to_fp32(w[b].dmin) * a[b].d * (float)summ;
  }
  return s;
}
static float dot_q6_K_q8_K(const block_q6_K* w, const block_q8_K* a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++) {
    int sumi = 0;
    for (int h = 0; h < 2; h++) {
      const uint8_t* ql = w[b].ql + 64 * h;
      const uint8_t* qh = w[b].qh + 32 * h;
      const int8_t* q8 = a[b].qs + 128 * h;
      int part[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // per 16-weight sub-block of this half
      for (int l = 0; l < 32; l++) {
        const int is = l / 16;
        part[is] += ((int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32) * q8[l];
        part[is + 2] += ((int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32) * q8[l + 32];
        part[is + 4] += ((int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * q8[l + 64];
        part[is + 6] += ((int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * q8[l + 96];
      }
      for (int j = 0; j < 8; j++) sumi += w[b].scales[8 * h + j] * part[j];
    }
    s += fp16_to_fp32(w[b].d) * a[b].d * (float)sumi;
  }
  return s;
}

template <class W, class A, float (*dot)(const W*, const A*, int64_t), int QK>
static void gemv_blocks(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* Wp, int64_t n0,
                        int64_t n1) {
  const int64_t nb = K / QK;
  const W* w = (const W*)Wp;
  const A* a = (const A*)acts;
  for (int64_t n = n0; n < n1; n++)
    for (int64_t m = 0; m < M; m++) out[m * ldo + n] = dot(w + n * nb, a + m * nb, nb);
}

template <float (*load)(const void*, int64_t)>
static void gemv_float(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                       int64_t n1) {
  const float* x = (const float*)acts;
  for (int64_t n = n0; n < n1; n++)
    for (int64_t m = 0; m < M; m++) {
      float s = 0;
      for (int64_t k = 0; k < K; k++) s += x[m * K + k] * load(W, n * K + k);
      out[m * ldo + n] = s;
    }
}
static float load_f32(const void* p, int64_t i) { return ((const float*)p)[i]; }
static float load_f16(const void* p, int64_t i) { return fp16_to_fp32(((const uint16_t*)p)[i]); }
static float load_bf16(const void* p, int64_t i) { return bf16_to_fp32(((const uint16_t*)p)[i]); }

static void gemv_q4_0_q8_0(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  gemv_blocks<block_q4_0, qs::ActQ8_0, dot_q4_0_q8_0, 32>(o, l, a, M, K, W, n0, n1);
}
static void gemv_q8_0_q8_0(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  gemv_blocks<block_q8_0, qs::ActQ8_0, dot_q8_0_q8_0, 32>(o, l, a, M, K, W, n0, n1);
}
static void gemv_q4_K_q8_K(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  gemv_blocks<block_q4_K, block_q8_K, dot_q4_K_q8_K, QK_K>(o, l, a, M, K, W, n0, n1);
}
static void gemv_q5_K_q8_K(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  gemv_blocks<block_q5_K, block_q8_K, dot_q5_K_q8_K, QK_K>(o, l, a, M, K, W, n0, n1);
}
static void gemv_q6_K_q8_K(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  gemv_blocks<block_q6_K, block_q8_K, dot_q6_K_q8_K, QK_K>(o, l, a, M, K, W, n0, n1);
}
static void gemv_f32_f32(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                         int64_t n1) {
  gemv_float<load_f32>(o, l, a, M, K, W, n0, n1);
}
static void gemv_f16_f32(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                         int64_t n1) {
  gemv_float<load_f16>(o, l, a, M, K, W, n0, n1);
}
static void gemv_bf16_f32(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                          int64_t n1) {
  gemv_float<load_bf16>(o, l, a, M, K, W, n0, n1);
}

// ---- GEMM over packed panels (layouts in fuselm/ops/qgemm.h) ------------------
// f32: xpack [ceil(M/MB)][K][MB], w: nr row pointers of K floats
static void gemm_f32(float* C, int64_t ldc, const void* xpack, int64_t M, const void* const* wrows, int64_t nr,
                     int64_t K) {
  const int MB = 8;
  const float* xp = (const float*)xpack;
  for (int64_t m = 0; m < M; m++) {
    const float* xb = xp + (m / MB) * K * MB + (m % MB);
    for (int64_t r = 0; r < nr; r++) {
      const float* w = (const float*)wrows[r];
      float s = 0;
      for (int64_t k = 0; k < K; k++) s += xb[k * MB] * w[k];
      C[m * ldc + r] = s;
    }
  }
}
// bf16: xpack [ceil(M/MB)][K/2][MB] bf16 pairs, w: nr row pointers of K bf16 (K even)
static void gemm_bf16(float* C, int64_t ldc, const void* xpack, int64_t M, const void* const* wrows, int64_t nr,
                      int64_t K) {
  const int MB = 8;
  const uint16_t* xp = (const uint16_t*)xpack;
  for (int64_t m = 0; m < M; m++) {
    const uint16_t* xb = xp + ((m / MB) * (K / 2) * MB + (m % MB)) * 2;
    for (int64_t r = 0; r < nr; r++) {
      const uint16_t* w = (const uint16_t*)wrows[r];
      float s = 0;
      for (int64_t p = 0; p < K / 2; p++)
        s += bf16_to_fp32(xb[p * MB * 2]) * bf16_to_fp32(w[2 * p]) +
             bf16_to_fp32(xb[p * MB * 2 + 1]) * bf16_to_fp32(w[2 * p + 1]);
      C[m * ldc + r] = s;
    }
  }
}

// Repacked Q4_0X16 / Q8_0X16 (blocks.h): the same sums read through the
// repacked layout, row r of group g at a time.
static void gemv_q4_0x16_q8_0(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W,
                              int64_t n0, int64_t n1) {
  const int64_t nb = K / 32;
  const block_q4_0x16* w = (const block_q4_0x16*)W;
  const qs::ActQ8_0* A = (const qs::ActQ8_0*)acts;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = n0; n < n1; n++) {
      const block_q4_0x16* wg = w + (n / 16) * nb;
      const int r = (int)(n % 16);
      float s = 0;
      for (int64_t b = 0; b < nb; b++) {
        const qs::ActQ8_0& a = A[m * nb + b];
        int sum = 0;
        for (int k = 0; k < 16; k++) {
          const uint8_t q = wg[b].qs[k / 4][4 * r + k % 4];
          sum += ((q & 0xF) - 8) * a.qs[k] + ((q >> 4) - 8) * a.qs[k + 16];
        }
        s += (float)sum * (fp16_to_fp32(wg[b].d[r]) * a.d);
      }
      out[m * ldo + n] = s;
    }
}
static void gemv_q8_0x16_q8_0(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W,
                              int64_t n0, int64_t n1) {
  const int64_t nb = K / 32;
  const block_q8_0x16* w = (const block_q8_0x16*)W;
  const qs::ActQ8_0* A = (const qs::ActQ8_0*)acts;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = n0; n < n1; n++) {
      const block_q8_0x16* wg = w + (n / 16) * nb;
      const int r = (int)(n % 16);
      float s = 0;
      for (int64_t b = 0; b < nb; b++) {
        const qs::ActQ8_0& a = A[m * nb + b];
        int sum = 0;
        for (int k = 0; k < 32; k++) sum += wg[b].qs[k / 4][4 * r + k % 4] * a.qs[k];
        s += (float)sum * (fp16_to_fp32(wg[b].d[r]) * a.d);
      }
      out[m * ldo + n] = s;
    }
}

static void gemv_q4_Kx16_q8_K(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W,
                              int64_t n0, int64_t n1) {
  const int64_t nb = K / QK_K;
  const block_q4_Kx16* w = (const block_q4_Kx16*)W;
  const block_q8_K* A = (const block_q8_K*)acts;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = n0; n < n1; n++) {
      const block_q4_Kx16* wg = w + (n / 16) * nb;
      const int r = (int)(n % 16);
      float s = 0;
      for (int64_t b = 0; b < nb; b++) {
        const block_q8_K& a = A[m * nb + b];
        const block_q4_Kx16& x = wg[b];
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
          int dot = 0;
          for (int i = 0; i < 32; i++) {
            const uint8_t q = x.qs[j / 2][i / 4][4 * r + i % 4];
            dot += ((j & 1) ? (q >> 4) : (q & 15)) * a.qs[32 * j + i];
          }
          sumi += x.sc[j][r] * dot;
          summ += x.m[j][r] * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
        }
        s += fp16_to_fp32(x.d[r]) * a.d * (float)sumi - fp16_to_fp32(x.dmin[r]) * a.d * (float)summ;
      }
      out[m * ldo + n] = s;
    }
}
static void gemv_q6_Kx16_q8_K(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W,
                              int64_t n0, int64_t n1) {
  const int64_t nb = K / QK_K;
  const block_q6_Kx16* w = (const block_q6_Kx16*)W;
  const block_q8_K* A = (const block_q8_K*)acts;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = n0; n < n1; n++) {
      const block_q6_Kx16* wg = w + (n / 16) * nb;
      const int r = (int)(n % 16);
      float s = 0;
      for (int64_t b = 0; b < nb; b++) {
        const block_q8_K& a = A[m * nb + b];
        const block_q6_Kx16& x = wg[b];
        int sumi = 0;
        for (int sb = 0; sb < 16; sb++) {
          int dot = 0;
          for (int e = 16 * sb; e < 16 * sb + 16; e++) {
            const int t = e / 4, o = 4 * r + e % 4, u = t % 16, i = t / 16;
            const int lo = i < 2 ? (x.q[u][i % 2][o] & 15) : (x.q[u][i % 2][o] >> 4);
            const int q = (lo | (((x.q[u][2][o] >> (2 * i)) & 3) << 4)) - 32;
            dot += q * a.qs[e];
          }
          sumi += x.sc[sb][r] * dot;
        }
        s += fp16_to_fp32(x.d[r]) * a.d * (float)sumi;
      }
      out[m * ldo + n] = s;
    }
}

void fill_qgemm(QgemmTable& t) {
  FL_IMPL(t, quantize_act_q4_0, ref);
  FL_IMPL(t, quantize_act_q8_0, ref);
  FL_IMPL(t, quantize_row_q8_K, ref);
  FL_IMPL(t, dequantize_row_q4_0, ref);
  FL_IMPL(t, dequantize_row_q8_0, ref);
  FL_IMPL(t, dequantize_row_q4_K, ref);
  FL_IMPL(t, dequantize_row_q5_K, ref);
  FL_IMPL(t, dequantize_row_q6_K, ref);
  FL_IMPL(t, dequantize_row_f16, ref);
  FL_IMPL(t, dequantize_row_bf16, ref);
  FL_IMPL(t, gemv_q4_0_q8_0, ref);
  FL_IMPL(t, gemv_q8_0_q8_0, ref);
  FL_IMPL(t, gemv_q4_K_q8_K, ref);
  FL_IMPL(t, gemv_q5_K_q8_K, ref);
  FL_IMPL(t, gemv_q6_K_q8_K, ref);
  FL_IMPL(t, gemv_f32_f32, ref);
  FL_IMPL(t, gemv_f16_f32, ref);
  FL_IMPL(t, gemv_bf16_f32, ref);
  FL_IMPL(t, gemv_q4_0x16_q8_0, ref);
  FL_IMPL(t, gemv_q8_0x16_q8_0, ref);
  FL_IMPL(t, gemv_q4_Kx16_q8_K, ref);
  FL_IMPL(t, gemv_q6_Kx16_q8_K, ref);
  FL_IMPL(t, round_bf16_row, ref);
  FL_IMPL(t, gemm_f32, ref);
  FL_IMPL(t, gemm_bf16, ref);
  t.gemm_mb = 8;
  t.gemm_nr = 4;
}

}  // namespace ref
}  // namespace fuselm
