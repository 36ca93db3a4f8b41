// Scalar reference for the legacy 32-block formats of family `qgemm` (Q5_0, Q4_1,
// Q5_1, IQ4_NL, MXFP4; csrc/cpu/qformats_legacy.h): ggml's quantizers re-derived
// (byte-exact with llama-quantize without an importance matrix), and plain-loop
// dequantizers and GEMV (plain and repacked), the ground truth of the SIMD paths.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "cpu/qformats_legacy.h"
#include "fuselm/ops/qgemm.h"

namespace fuselm {

namespace quant {

// A float the compiler may not fuse with the next operation (ggml's C rounds each
// product before an add; this file builds without -mfma, the barrier keeps it so).
static inline float rnd(float v) {
  __asm__("" : "+x"(v));
  return v;
}

// ggml quantize_row_q5_0_ref: d = (value of largest magnitude) / -16,
// q = min(31, (int8)(x / d + 16.5))
void row_q5_0(void* dst, const float* x, int64_t n) {
  block_q5_0* y = (block_q5_0*)dst;
  for (int64_t i = 0; i < n / 32; i++, x += 32) {
    float amax = 0, mx = 0;
    for (int j = 0; j < 32; j++)
      if (amax < std::fabs(x[j])) { amax = std::fabs(x[j]); mx = x[j]; }
    const float d = mx / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
      const int a = (int8_t)(rnd(x[j] * id) + 16.5f), b = (int8_t)(rnd(x[16 + j] * id) + 16.5f);
      const uint8_t q0 = (uint8_t)(a < 31 ? a : 31), q1 = (uint8_t)(b < 31 ? b : 31);
      y[i].qs[j] = (uint8_t)((q0 & 15) | ((q1 & 15) << 4));
      qh |= ((uint32_t)(q0 & 0x10) >> 4) << j;
      qh |= ((uint32_t)(q1 & 0x10) >> 4) << (j + 16);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

// ggml quantize_row_q4_1_ref / q5_1_ref: d = (max - min) / (2^bits - 1), m = min,
// q = (int8)((x - min) / d + 0.5) (capped at 15 for q4_1)
template <int BITS, class B>
static void row_qx_1(B* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n / 32; i++, x += 32) {
    float mn = FLT_MAX, mx = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
      if (x[j] < mn) mn = x[j];
      if (x[j] > mx) mx = x[j];
    }
    const float d = (mx - mn) / ((1 << BITS) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
      int a = (int8_t)(rnd((x[j] - mn) * id) + 0.5f), b = (int8_t)(rnd((x[16 + j] - mn) * id) + 0.5f);
      uint8_t q0, q1;
      if (BITS == 4) {
        q0 = (uint8_t)(a < 15 ? a : 15);
        q1 = (uint8_t)(b < 15 ? b : 15);
      } else {
        q0 = (uint8_t)a;
        q1 = (uint8_t)b;
      }
      y[i].qs[j] = (uint8_t)((q0 & 15) | ((q1 & 15) << 4));
      qh |= ((uint32_t)(q0 & 0x10) >> 4) << j;
      qh |= ((uint32_t)(q1 & 0x10) >> 4) << (j + 16);
    }
    if constexpr (BITS == 5) std::memcpy(y[i].qh, &qh, 4);
  }
}
void row_q4_1(void* dst, const float* x, int64_t n) { row_qx_1<4>((block_q4_1*)dst, x, n); }
void row_q5_1(void* dst, const float* x, int64_t n) { row_qx_1<5>((block_q5_1*)dst, x, n); }

// ggml best_index_int8: the index of the table value nearest x (ties to the lower)
static int best_index_int8(const int8_t* val, float x) {
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

// ggml quantize_iq4_nl as llama-quantize runs it without an importance matrix:
// quantize_row_iq4_nl_impl with one 32-block per super-block, weights x², ntry 7: the
// scale that maximises sumqx² / sumq2 over 15 candidates, then codes against it.
void row_iq4_nl(void* dst, const float* x, int64_t n) {
  block_iq4_nl* y = (block_iq4_nl*)dst;
  const int8_t* values = lg::kvalues_iq4nl;
  const int ntry = 7;
  for (int64_t i = 0; i < n / 32; i++, x += 32) {
    float weight[32];
    uint8_t L[32];
    std::memset(y[i].qs, 0, 16);
    float amax = 0, mx = 0;
    for (int j = 0; j < 32; j++) {
      weight[j] = rnd(x[j] * x[j]);
      const float ax = std::fabs(x[j]);
      if (ax > amax) { amax = ax; mx = x[j]; }
    }
    float d = 0;
    if (amax >= 1e-15f) {  // GROUP_MAX_EPS
      d = -mx / values[0];
      float id = 1 / d;
      float sumqx = 0, sumq2 = 0;
      for (int j = 0; j < 32; j++) {
        const int l = best_index_int8(values, rnd(id * x[j]));
        L[j] = (uint8_t)l;
        const float q = values[l], w = weight[j];
        sumqx = rnd(sumqx + rnd(rnd(w * q) * x[j]));
        sumq2 = rnd(sumq2 + rnd(rnd(w * q) * q));
      }
      d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
      float best = rnd(d * sumqx);
      for (int itry = -ntry; itry <= ntry; itry++) {
        id = (float)(itry + values[0]) / mx;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; j++) {
          const int l = best_index_int8(values, rnd(id * x[j]));
          const float q = values[l], w = weight[j];
          sumqx = rnd(sumqx + rnd(rnd(w * q) * x[j]));
          sumq2 = rnd(sumq2 + rnd(rnd(w * q) * q));
        }
        if (sumq2 > 0 && rnd(sumqx * sumqx) > rnd(best * sumq2)) {
          d = sumqx / sumq2;
          best = rnd(d * sumqx);
        }
      }
    }
    y[i].d = fp32_to_fp16(d);
    const float id = d != 0.0f ? 1 / d : 0.0f;
    for (int j = 0; j < 32; j++) L[j] = (uint8_t)best_index_int8(values, rnd(id * x[j]));
    for (int j = 0; j < 16; j++) y[i].qs[j] = (uint8_t)(L[j] | (L[16 + j] << 4));
  }
}

// ggml quantize_row_mxfp4_ref: e = floor(log2(amax)) - 2 + 127 (0 for an all-zero
// block), each weight to the nearest of kvalues_mxfp4 * 2^(e - 128) (first on ties)
void row_mxfp4(void* dst, const float* x, int64_t n) {
  block_mxfp4* y = (block_mxfp4*)dst;
  for (int64_t i = 0; i < n / 32; i++, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; j++)
      if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
    const uint8_t e = amax > 0.0f ? (uint8_t)(std::floor(std::log2(amax)) - 2 + 127) : 0;
    const float d = lg::e8m0_half(e);
    y[i].e = e;
    auto best = [&](float v) {
      int bi = 0;
      float be = std::fabs(rnd(lg::kvalues_mxfp4[0] * d) - v);
      for (int k = 1; k < 16; k++) {
        const float err = std::fabs(rnd(lg::kvalues_mxfp4[k] * d) - v);
        if (err < be) { bi = k; be = err; }
      }
      return bi;
    };
    for (int j = 0; j < 16; j++) y[i].qs[j] = (uint8_t)(best(x[j]) | (best(x[16 + j]) << 4));
  }
}

}  // namespace quant

namespace ref {

static void dequantize_row_q5_0(float* y, const void* x, int64_t n) { lg::dequant<lg::Q5_0>(y, x, n); }
static void dequantize_row_q4_1(float* y, const void* x, int64_t n) { lg::dequant<lg::Q4_1>(y, x, n); }
static void dequantize_row_q5_1(float* y, const void* x, int64_t n) { lg::dequant<lg::Q5_1>(y, x, n); }
static void dequantize_row_iq4_nl(float* y, const void* x, int64_t n) { lg::dequant<lg::IQ4_NL>(y, x, n); }
static void dequantize_row_mxfp4(float* y, const void* x, int64_t n) { lg::dequant<lg::MXFP4>(y, x, n); }

template <int F>
static void gemv_plain(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                       int64_t n1) {
  const int64_t nb = K / 32;
  const typename lg::Traits<F>::Block* w = (const typename lg::Traits<F>::Block*)W;
  const qs::ActQ8_0* a = (const qs::ActQ8_0*)acts;
  for (int64_t n = n0; n < n1; n++)
    for (int64_t m = 0; m < M; m++) out[m * ldo + n] = lg::dot_row<F>(w + n * nb, a + m * nb, nb);
}
template <int F>
static void gemv_x16(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                     int64_t n1) {
  const int64_t nb = K / 32;
  const typename lg::Traits<F>::X16* w = (const typename lg::Traits<F>::X16*)W;
  const qs::ActQ8_0* a = (const qs::ActQ8_0*)acts;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = n0; n < n1; n++) out[m * ldo + n] = lg::dot_row_x16<F>(w + (n / 16) * nb, (int)(n % 16), a + m * nb, nb);
}
#define FL_LG_GEMV(fmt, F)                                                                                       \
  static void gemv_##fmt##_q8_0(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W,       \
                                int64_t n0, int64_t n1) {                                                       \
    gemv_plain<F>(o, l, a, M, K, W, n0, n1);                                                                   \
  }                                                                                                             \
  static void gemv_##fmt##x16_q8_0(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W,    \
                                   int64_t n0, int64_t n1) {                                                    \
    gemv_x16<F>(o, l, a, M, K, W, n0, n1);                                                                     \
  }
FL_LG_GEMV(q5_0, lg::Q5_0)
FL_LG_GEMV(q4_1, lg::Q4_1)
FL_LG_GEMV(q5_1, lg::Q5_1)
FL_LG_GEMV(iq4_nl, lg::IQ4_NL)
FL_LG_GEMV(mxfp4, lg::MXFP4)
#undef FL_LG_GEMV

void fill_qgemm_legacy(QgemmTable& t) {
#define FL_LG_FILL(F, fmt)                                             \
  FL_LEGACY_IMPL(t, F, dequantize_row, dequantize_row_##fmt, ref);     \
  FL_LEGACY_IMPL(t, F, gemv, gemv_##fmt##_q8_0, ref);                  \
  FL_LEGACY_IMPL(t, F, gemv_x16, gemv_##fmt##x16_q8_0, ref)
  FL_LG_FILL(lg::Q5_0, q5_0);
  FL_LG_FILL(lg::Q4_1, q4_1);
  FL_LG_FILL(lg::Q5_1, q5_1);
  FL_LG_FILL(lg::IQ4_NL, iq4_nl);
  FL_LG_FILL(lg::MXFP4, mxfp4);
#undef FL_LG_FILL
}

}  // namespace ref
}  // namespace fuselm
