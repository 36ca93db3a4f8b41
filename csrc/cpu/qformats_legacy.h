// Scalar pieces of the "legacy" 32-block formats with a q8_0 partner (family
// `qgemm`): Q5_0, Q4_1, Q5_1, IQ4_NL, MXFP4 and their 16-row repacked forms
// (layouts: fuselm/blocks.h). One traits row per format; the codes, values,
// scales, dequantizer, dots and (un)packing are written once over the traits.
// static inline: each ISA's translation unit gets its own copy.
//
// A block of any of them is 32 codes q (4 bits, 5 with Q5_*'s qh) read as
//   w_j = s * v(q_j) + m,   v(q) = q - c (Q5_0: c = 16; Q4_1, Q5_1: c = 0), or
//   v(q) = kvalues[q] (IQ4_NL, MXFP4), with s the block's fp16 d (MXFP4: the
//   E8M0 exponent's half scale) and m the fp16 min (Q4_1, Q5_1; else 0).
// Against a q8_0 activation block (qa, d_a, S = sum qa):
//   sum_j x_j w_j ~ d_a * s * sum_j v(q_j) qa_j + d_a * m * S.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/qscalar.h"
#include "fuselm/blocks.h"
#include "fuselm/fp16.h"
#include "fuselm/iq4_values.h"

namespace fuselm {
namespace lg {

// index of each format in the per-format kernel rows (QgemmTable::legacy)
enum Fmt { Q5_0 = 0, Q4_1 = 1, Q5_1 = 2, IQ4_NL = 3, MXFP4 = 4, COUNT = 5 };
static constexpr DType kPlain[COUNT] = {DType::Q5_0, DType::Q4_1, DType::Q5_1, DType::IQ4_NL, DType::MXFP4};
static constexpr DType kX16[COUNT] = {DType::Q5_0X16, DType::Q4_1X16, DType::Q5_1X16, DType::IQ4_NLX16,
                                      DType::MXFP4X16};
// the format (plain or repacked) of t, or -1
static inline int index_of(DType t) {
  for (int i = 0; i < COUNT; i++)
    if (kPlain[i] == t || kX16[i] == t) return i;
  return -1;
}
static inline int plain_index(DType t) {
  for (int i = 0; i < COUNT; i++)
    if (kPlain[i] == t) return i;
  return -1;
}
static inline int x16_index(DType t) {
  for (int i = 0; i < COUNT; i++)
    if (kX16[i] == t) return i;
  return -1;
}

// ggml-common.h: kvalues_iq4nl (declared once, fuselm/iq4_values.h, shared with IQ4_XS);
// kvalues_mxfp4 (= kvalues_fp4, twice the E2M1 values)
static const int8_t (&kvalues_iq4nl)[16] = kIq4nlValues;
alignas(16) static const int8_t kvalues_mxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// ggml's GGML_E8M0_TO_FP32_HALF: 2^(x - 128) (x < 2 as the denormals 2^-128, 2^-127)
static inline float e8m0_half(uint8_t x) {
  const uint32_t bits = x < 2 ? 0x00200000u << x : (uint32_t)(x - 1) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <int F>
struct Traits;
template <>
struct Traits<Q5_0> {
  typedef block_q5_0 Block;
  typedef block_q5_0x16 X16;
  static constexpr bool kHigh = true, kMin = false, kLut = false;
  static constexpr int kC = 16;
};
template <>
struct Traits<Q4_1> {
  typedef block_q4_1 Block;
  typedef block_q4_1x16 X16;
  static constexpr bool kHigh = false, kMin = true, kLut = false;
  static constexpr int kC = 0;
};
template <>
struct Traits<Q5_1> {
  typedef block_q5_1 Block;
  typedef block_q5_1x16 X16;
  static constexpr bool kHigh = true, kMin = true, kLut = false;
  static constexpr int kC = 0;
};
template <>
struct Traits<IQ4_NL> {
  typedef block_iq4_nl Block;
  typedef block_iq4_nlx16 X16;
  static constexpr bool kHigh = false, kMin = false, kLut = true;
  static constexpr int kC = 0;
};
template <>
struct Traits<MXFP4> {
  typedef block_mxfp4 Block;
  typedef block_mxfp4x16 X16;
  static constexpr bool kHigh = false, kMin = false, kLut = true;
  static constexpr int kC = 0;
};
// runtime views of the traits
static constexpr bool kLutOf[COUNT] = {false, false, false, true, true};
static constexpr int kCOf[COUNT] = {16, 0, 0, 0, 0};

template <int F>
static inline const int8_t* table() {
  return F == IQ4_NL ? kvalues_iq4nl : kvalues_mxfp4;
}
// v(q)
template <int F>
static inline int value(int q) {
  if constexpr (Traits<F>::kLut) return table<F>()[q];
  else return q - Traits<F>::kC;
}

// s, m and qh of a plain block; of row r of a repacked block
template <int F>
static inline float scale(const typename Traits<F>::Block& b) {
  if constexpr (F == MXFP4) return e8m0_half(b.e);
  else return fp16_to_fp32(b.d);
}
template <int F>
static inline float minv(const typename Traits<F>::Block& b) {
  if constexpr (Traits<F>::kMin) return fp16_to_fp32(b.m);
  else return 0.0f;
}
template <int F>
static inline uint32_t qh(const typename Traits<F>::Block& b) {
  if constexpr (Traits<F>::kHigh) {
    uint32_t v;
    std::memcpy(&v, b.qh, 4);
    return v;
  } else {
    return 0;
  }
}
template <int F>
static inline float scale_x16(const typename Traits<F>::X16& x, int r) {
  if constexpr (F == MXFP4) return e8m0_half(x.e[r]);
  else return fp16_to_fp32(x.d[r]);
}
template <int F>
static inline float minv_x16(const typename Traits<F>::X16& x, int r) {
  if constexpr (Traits<F>::kMin) return fp16_to_fp32(x.m[r]);
  else return 0.0f;
}

// the 32 codes of a plain block; of row r of a repacked block
template <int F>
static inline void codes(const typename Traits<F>::Block& b, uint8_t* q) {
  const uint32_t h = qh<F>(b);
  for (int j = 0; j < 16; j++) {
    q[j] = (uint8_t)((b.qs[j] & 15) | (((h >> j) & 1) << 4));
    q[j + 16] = (uint8_t)((b.qs[j] >> 4) | (((h >> (j + 16)) & 1) << 4));
  }
}
template <int F>
static inline void codes_x16(const typename Traits<F>::X16& x, int r, uint8_t* q) {
  for (int j = 0; j < 4; j++)
    for (int e = 0; e < 4; e++) {
      const uint8_t v = x.qs[j][4 * r + e];
      q[4 * j + e] = v & 15;
      q[16 + 4 * j + e] = v >> 4;
      if constexpr (Traits<F>::kHigh) {
        const uint8_t h = x.qh[4 * r + e];
        q[4 * j + e] |= (uint8_t)(((h >> j) & 1) << 4);
        q[16 + 4 * j + e] |= (uint8_t)(((h >> (4 + j)) & 1) << 4);
      }
    }
}

// ---- dequantizer (n a multiple of 32): w = s * v + m, the product rounded before
// the add (no FMA contraction, on every ISA the same bits as ggml's C) --------------
template <int F>
static inline void dequant(float* y, const void* x, int64_t n) {
  const typename Traits<F>::Block* b = (const typename Traits<F>::Block*)x;
  for (int64_t i = 0; i < n / 32; i++) {
    uint8_t q[32];
    codes<F>(b[i], q);
    const float s = scale<F>(b[i]);
    if constexpr (Traits<F>::kMin) {
      const float m = minv<F>(b[i]);
      for (int j = 0; j < 32; j++) {
        float t = (float)value<F>(q[j]) * s;
        __asm__("" : "+x"(t));
        y[32 * i + j] = t + m;
      }
    } else {
      for (int j = 0; j < 32; j++) y[32 * i + j] = (float)value<F>(q[j]) * s;
    }
  }
}

// ---- scalar dots against the q8_0 activation row (the ref GEMV) ----------------------
template <int F>
static inline float dot_block(const uint8_t* q, float s, float m, const qs::ActQ8_0& a) {
  int sum = 0;
  for (int j = 0; j < 32; j++) sum += value<F>(q[j]) * a.qs[j];
  float r = (float)sum * (s * a.d);
  if constexpr (Traits<F>::kMin) r += m * (a.d * (float)a.sum);
  return r;
}
template <int F>
static inline float dot_row(const typename Traits<F>::Block* w, const qs::ActQ8_0* a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++) {
    uint8_t q[32];
    codes<F>(w[b], q);
    s += dot_block<F>(q, scale<F>(w[b]), minv<F>(w[b]), a[b]);
  }
  return s;
}
template <int F>
static inline float dot_row_x16(const typename Traits<F>::X16* wg, int r, const qs::ActQ8_0* a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++) {
    uint8_t q[32];
    codes_x16<F>(wg[b], r, q);
    s += dot_block<F>(q, scale_x16<F>(wg[b], r), minv_x16<F>(wg[b], r), a[b]);
  }
  return s;
}

// ---- repacking: one group of 16 rows (row stride nb blocks) <-> nb repacked blocks ---
template <int F>
static inline void pack_group(typename Traits<F>::X16* y, const typename Traits<F>::Block* x, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      const typename Traits<F>::Block& p = x[r * nb + b];
      typename Traits<F>::X16& o = y[b];
      if constexpr (F == MXFP4) o.e[r] = p.e;
      else o.d[r] = p.d;
      if constexpr (Traits<F>::kMin) o.m[r] = p.m;
      for (int k = 0; k < 16; k++) o.qs[k / 4][4 * r + k % 4] = p.qs[k];
      if constexpr (Traits<F>::kHigh) {
        const uint32_t h = qh<F>(p);
        for (int e = 0; e < 4; e++) {
          uint32_t v = 0;
          for (int j = 0; j < 4; j++) v |= ((h >> (4 * j + e)) & 1) << j | ((h >> (16 + 4 * j + e)) & 1) << (4 + j);
          o.qh[4 * r + e] = (uint8_t)v;
        }
      }
    }
}
template <int F>
static inline void unpack_group(typename Traits<F>::Block* x, const typename Traits<F>::X16* y, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      typename Traits<F>::Block& p = x[r * nb + b];
      const typename Traits<F>::X16& o = y[b];
      if constexpr (F == MXFP4) p.e = o.e[r];
      else p.d = o.d[r];
      if constexpr (Traits<F>::kMin) p.m = o.m[r];
      for (int k = 0; k < 16; k++) p.qs[k] = o.qs[k / 4][4 * r + k % 4];
      if constexpr (Traits<F>::kHigh) {
        uint32_t h = 0;
        for (int e = 0; e < 4; e++)
          for (int j = 0; j < 4; j++) {
            const uint32_t v = o.qh[4 * r + e];
            h |= ((v >> j) & 1) << (4 * j + e) | ((v >> (4 + j)) & 1) << (16 + 4 * j + e);
          }
        std::memcpy(p.qh, &h, 4);
      }
    }
}
template <int F>
static inline void repack_group_t(void* dst, const void* src, int64_t nb, bool unpack) {
  if (unpack) unpack_group<F>((typename Traits<F>::Block*)dst, (const typename Traits<F>::X16*)src, nb);
  else pack_group<F>((typename Traits<F>::X16*)dst, (const typename Traits<F>::Block*)src, nb);
}
static inline void repack_group(int f, void* dst, const void* src, int64_t nb, bool unpack) {
  switch (f) {
    case Q5_0: repack_group_t<Q5_0>(dst, src, nb, unpack); break;
    case Q4_1: repack_group_t<Q4_1>(dst, src, nb, unpack); break;
    case Q5_1: repack_group_t<Q5_1>(dst, src, nb, unpack); break;
    case IQ4_NL: repack_group_t<IQ4_NL>(dst, src, nb, unpack); break;
    default: repack_group_t<MXFP4>(dst, src, nb, unpack); break;
  }
}

}  // namespace lg
}  // namespace fuselm
