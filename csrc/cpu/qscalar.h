// Scalar helpers for family `qgemm`, shared by the ref kernels and every ISA's
// tails and dequantizers. static inline: each ISA's translation unit gets its
// own copy, compiled (and auto-vectorised) with its own flags.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "fuselm/blocks.h"
#include "fuselm/fp16.h"

namespace fuselm {
namespace qs {

// The activation block the q4_0 / q8_0 GEMV reads: ggml's q8_0 quantization of
// 32 activations plus per-lane offsets for the unsigned x signed int8 product
// (vpdpbusd / maddubs): lane l covers qs[4l..4l+3] and holds
// -off * (qs[4l] + qs[4l+1] + qs[4l+2] + qs[4l+3]), off = 8 for q4_0 weights
// (q in [0, 15] stands for q - 8) and 128 for q8_0 weights (read as w ^ 0x80).
struct ActQ8_0 {
  int8_t qs[32];
  int32_t off[8];
  float d;
  int32_t sum;  // qs[0] + ... + qs[31] (the offset term of the repacked GEMV)
};
static_assert(sizeof(ActQ8_0) == 72, "ActQ8_0 is 72 bytes");
static inline int32_t qsum32(const int8_t* q) {
  int32_t s = 0;
  for (int j = 0; j < 32; j++) s += q[j];
  return s;
}

// round to nearest, ties to even, for |f| < 2^22 (ggml's nearest_int)
// The barrier keeps f a rounded float: without it a product passed in could be
// contracted with the add into one FMA (ISA files build with -mfma), which
// rounds differently from ggml's two-step C.
static inline int nearest_int(float f) {
  __asm__("" : "+x"(f));
  float v = f + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// The 6-bit scales and mins of a q4_K / q5_K block: sc[j], m[j] for j < 8.
static inline void unpack_scales_k4(const uint8_t* s, uint8_t* sc, uint8_t* m) {
  for (int j = 0; j < 4; j++) {
    sc[j] = s[j] & 63;
    m[j] = s[j + 4] & 63;
  }
  for (int j = 4; j < 8; j++) {
    sc[j] = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    m[j] = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}
// The same as two little-endian words of 8 bytes (sc0..7, m0..7), branch-free.
static inline void unpack_scales_k4_u64(const uint8_t* s, uint64_t* sc, uint64_t* m) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, s, 4);
  std::memcpy(&u1, s + 4, 4);
  std::memcpy(&u2, s + 8, 4);
  const uint32_t lo_sc = u0 & 0x3f3f3f3fu, lo_m = u1 & 0x3f3f3f3fu;
  const uint32_t hi_sc = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
  const uint32_t hi_m = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
  *sc = (uint64_t)lo_sc | ((uint64_t)hi_sc << 32);
  *m = (uint64_t)lo_m | ((uint64_t)hi_m << 32);
}

// ---- dequantizers (n a multiple of the block) ---------------------------------
static inline void dequant_q4_0(float* y, const block_q4_0* x, int64_t n) {
  for (int64_t i = 0; i < n / QK4_0; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < 16; j++) {
      y[32 * i + j] = (float)((x[i].qs[j] & 0xF) - 8) * d;
      y[32 * i + j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}
static inline void dequant_q8_0(float* y, const block_q8_0* x, int64_t n) {
  for (int64_t i = 0; i < n / QK8_0; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < 32; j++) y[32 * i + j] = (float)x[i].qs[j] * d;
  }
}
static inline void dequant_q4_K(float* y, const block_q4_K* x, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    uint8_t sc[8], m[8];
    unpack_scales_k4(x[i].scales, sc, m);
    const uint8_t* q = x[i].qs;
    float* o = y + QK_K * i;
    for (int c = 0; c < 4; c++) {
      const float d1 = d * sc[2 * c], m1 = dmin * m[2 * c];
      const float d2 = d * sc[2 * c + 1], m2 = dmin * m[2 * c + 1];
      for (int l = 0; l < 32; l++) o[64 * c + l] = d1 * (float)(q[32 * c + l] & 0xF) - m1;
      for (int l = 0; l < 32; l++) o[64 * c + 32 + l] = d2 * (float)(q[32 * c + l] >> 4) - m2;
    }
  }
}
static inline void dequant_q5_K(float* y, const block_q5_K* x, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    uint8_t sc[8], m[8];
    unpack_scales_k4(x[i].scales, sc, m);
    const uint8_t* q = x[i].qs;
    const uint8_t* qh = x[i].qh;
    float* o = y + QK_K * i;
    for (int c = 0; c < 4; c++) {
      const float d1 = d * sc[2 * c], m1 = dmin * m[2 * c];
      const float d2 = d * sc[2 * c + 1], m2 = dmin * m[2 * c + 1];
      for (int l = 0; l < 32; l++)
        o[64 * c + l] = d1 * (float)((q[32 * c + l] & 0xF) | (((qh[l] >> (2 * c)) & 1) << 4)) - m1;
      for (int l = 0; l < 32; l++)
        o[64 * c + 32 + l] = d2 * (float)((q[32 * c + l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4)) - m2;
    }
  }
}
static inline void dequant_q6_K(float* y, const block_q6_K* x, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    for (int h = 0; h < 2; h++) {
      const uint8_t* ql = x[i].ql + 64 * h;
      const uint8_t* qh = x[i].qh + 32 * h;
      const int8_t* sc = x[i].scales + 8 * h;
      float* o = y + QK_K * i + 128 * h;
      for (int l = 0; l < 32; l++) {
        const int is = l / 16;
        const int q1 = (int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        o[l] = d * (float)sc[is] * (float)q1;
        o[l + 32] = d * (float)sc[is + 2] * (float)q2;
        o[l + 64] = d * (float)sc[is + 4] * (float)q3;
        o[l + 96] = d * (float)sc[is + 6] * (float)q4;
      }
    }
  }
}
static inline void dequant_q8_K(float* y, const block_q8_K* x, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; i++)
    for (int j = 0; j < QK_K; j++) y[QK_K * i + j] = x[i].d * (float)x[i].qs[j];
}
static inline void dequant_f16(float* y, const uint16_t* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = fp16_to_fp32(x[i]);
}
static inline void dequant_bf16(float* y, const uint16_t* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = bf16_to_fp32(x[i]);
}

static inline void round_bf16(uint16_t* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = fp32_to_bf16(x[i]);
}

// ---- activation quantizers ----------------------------------------------------
// ggml's q8_0 reference: d = amax / 127, q = roundf(x / d) (ties away from zero)
static inline void quantize_q8_0_block(const float* x, int8_t* q, float* d_out) {
  float amax = 0;
  for (int j = 0; j < 32; j++) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; j++) q[j] = (int8_t)std::roundf(x[j] * id);
  *d_out = d;
}
// ggml's q8_K reference: iscale = -127 / (the value of largest magnitude), ties to even
static inline void quantize_q8_K_row(block_q8_K* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    float amax = 0, mx = 0;
    for (int j = 0; j < QK_K; j++) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) { amax = ax; mx = x[j]; }
    }
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof(block_q8_K));
      continue;
    }
    const float iscale = -127.f / mx;
    for (int j = 0; j < QK_K; j++) {
      const int v = nearest_int(iscale * x[j]);
      y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
    }
    for (int j = 0; j < QK_K / 16; j++) {
      int s = 0;
      for (int l = 0; l < 16; l++) s += y[i].qs[16 * j + l];
      y[i].bsums[j] = (int16_t)s;
    }
    y[i].d = 1.0f / iscale;
  }
}
// The q8_0 activation row with its lane offsets (see ActQ8_0).
static inline void quantize_act_q8_0_row(ActQ8_0* y, const float* x, int64_t n, int off) {
  for (int64_t i = 0; i < n / 32; i++) {
    quantize_q8_0_block(x + 32 * i, y[i].qs, &y[i].d);
    for (int l = 0; l < 8; l++)
      y[i].off[l] = -off * (y[i].qs[4 * l] + y[i].qs[4 * l + 1] + y[i].qs[4 * l + 2] + y[i].qs[4 * l + 3]);
    y[i].sum = qsum32(y[i].qs);
  }
}

}  // namespace qs
}  // namespace fuselm
