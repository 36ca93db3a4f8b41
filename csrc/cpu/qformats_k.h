// Scalar pieces of family `qgemm` for the 256-weight super-block formats IQ4_XS,
// Q3_K and Q2_K (layouts: fuselm/blocks.h), shared by the ref kernels, every ISA's
// tails and the int8 GEMM's panel decode: scale unpacking, dequantizers, the integer
// block dots against q8_K, and the 32-block decode of qgemm_i8.h (w = s_h * (u - c) - mn).
// static inline: each ISA's translation unit gets its own copy with its own flags.
#pragma once
#include <cstdint>
#include <cstring>

#include "cpu/qgemm_i8.h"
#include "cpu/qscalar.h"
#include "fuselm/blocks.h"
#include "fuselm/fp16.h"
#include "fuselm/iq4_values.h"

namespace fuselm {
namespace qs {

// ---- scales ---------------------------------------------------------------------
// IQ4_XS: ls[j] - 32 for its 8 sub-blocks of 32
static inline void unpack_scales_iq4_xs(const block_iq4_xs& b, int8_t* sc) {
  for (int j = 0; j < 8; j++)
    sc[j] = (int8_t)((((b.scales_l[j / 2] >> (4 * (j % 2))) & 0xF) | (((b.scales_h >> (2 * j)) & 3) << 4)) - 32);
}
static inline void pack_scales_iq4_xs(block_iq4_xs& b, const int8_t* sc) {
  b.scales_h = 0;
  std::memset(b.scales_l, 0, sizeof b.scales_l);
  for (int j = 0; j < 8; j++) {
    const int l = sc[j] + 32;
    b.scales_l[j / 2] |= (uint8_t)((l & 0xF) << (4 * (j % 2)));
    b.scales_h |= (uint16_t)((l >> 4) << (2 * j));
  }
}
// Q3_K: sc[j] - 32 for its 16 sub-blocks of 16
static inline void unpack_scales_q3_K(const uint8_t* s, int8_t* sc) {
  for (int j = 0; j < 16; j++) {
    const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    sc[j] = (int8_t)((lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
  }
}
static inline void pack_scales_q3_K(uint8_t* s, const int8_t* sc) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 16; j++) {
    const int l = sc[j] + 32;
    if (j < 8) s[j] = (uint8_t)(l & 0xF);
    else s[j - 8] |= (uint8_t)((l & 0xF) << 4);
    s[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
  }
}

// ---- codes ----------------------------------------------------------------------
// Q3_K / Q2_K: the 2-bit part of weight e (0..255) of qs[64]
static inline int q2bits(const uint8_t* qs, int e) { return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3; }
// Q3_K: the code q in [0, 7] (the weight is (q - 4) * scale)
static inline int q3_code(const block_q3_K& b, int e) {
  return q2bits(b.qs, e) | (((b.hmask[e % 32] >> (e / 32)) & 1) << 2);
}

// ---- dequantizers (n a multiple of 256) ---------------------------------------------
// Q3_K / Q2_K: weight e of a super-block belongs to 16-weight sub-block e / 16 (its
// scale), whatever the bit layout (ggml's loops walk sub-blocks 8h + 2g + l / 16).
static inline void dequant_iq4_xs(float* y, const block_iq4_xs* x, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    int8_t sc[8];
    unpack_scales_iq4_xs(x[i], sc);
    for (int j = 0; j < 8; j++) {
      const float dl = d * (float)sc[j];
      const uint8_t* q = x[i].qs + 16 * j;
      float* o = y + QK_K * i + 32 * j;
      for (int l = 0; l < 16; l++) {
        o[l] = dl * (float)kIq4nlValues[q[l] & 0xF];
        o[l + 16] = dl * (float)kIq4nlValues[q[l] >> 4];
      }
    }
  }
}
static inline void dequant_q3_K(float* y, const block_q3_K* x, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d);
    int8_t sc[16];
    unpack_scales_q3_K(x[i].scales, sc);
    for (int e = 0; e < QK_K; e++) y[QK_K * i + e] = d * (float)sc[e / 16] * (float)(q3_code(x[i], e) - 4);
  }
}
static inline void dequant_q2_K(float* y, const block_q2_K* x, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; i++) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    for (int e = 0; e < QK_K; e++) {
      const uint8_t s = x[i].scales[e / 16];
      y[QK_K * i + e] = d * (float)(s & 0xF) * (float)q2bits(x[i].qs, e) - dmin * (float)(s >> 4);
    }
  }
}

// ---- integer dots against q8_K (the ref GEMV and the SIMD tails) ----------------------
// IQ4_XS: d * da * sum_j (ls_j - 32) * sum_{k in j} kv[q_k] a_k
static inline float dot_iq4_xs_q8_K(const block_iq4_xs* w, const block_q8_K* a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++) {
    int8_t sc[8];
    unpack_scales_iq4_xs(w[b], sc);
    int sumi = 0;
    for (int j = 0; j < 8; j++) {
      int dot = 0;
      for (int l = 0; l < 16; l++) {
        dot += kIq4nlValues[w[b].qs[16 * j + l] & 0xF] * a[b].qs[32 * j + l];
        dot += kIq4nlValues[w[b].qs[16 * j + l] >> 4] * a[b].qs[32 * j + 16 + l];
      }
      sumi += sc[j] * dot;
    }
    s += fp16_to_fp32(w[b].d) * a[b].d * (float)sumi;
  }
  return s;
}
// Q3_K: d * da * sum_j (sc_j - 32) * (sum_{k in j} q_k a_k - 4 * bsums[j])
static inline float dot_q3_K_q8_K(const block_q3_K* w, const block_q8_K* a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++) {
    int8_t sc[16];
    unpack_scales_q3_K(w[b].scales, sc);
    int part[16] = {0};
    for (int e = 0; e < QK_K; e++) part[e / 16] += q3_code(w[b], e) * a[b].qs[e];
    int sumi = 0;
    for (int j = 0; j < 16; j++) sumi += sc[j] * (part[j] - 4 * a[b].bsums[j]);
    s += fp16_to_fp32(w[b].d) * a[b].d * (float)sumi;
  }
  return s;
}
// Q2_K: da * (d * sum_j sc_j (q . a)_j - dmin * sum_j m_j bsums[j])
static inline float dot_q2_K_q8_K(const block_q2_K* w, const block_q8_K* a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++) {
    int part[16] = {0};
    for (int e = 0; e < QK_K; e++) part[e / 16] += q2bits(w[b].qs, e) * a[b].qs[e];
    int sumi = 0, summ = 0;
    for (int j = 0; j < 16; j++) {
      sumi += (w[b].scales[j] & 0xF) * part[j];
      summ += (w[b].scales[j] >> 4) * a[b].bsums[j];
    }
    s += fp16_to_fp32(w[b].d) * a[b].d * (float)sumi - fp16_to_fp32(w[b].dmin) * a[b].d * (float)summ;
  }
  return s;
}

// ---- the repacked forms, read back (the ref GEMV of the x16 layouts, the GEMM's decode) ----
// code of weight e (0..255) of row r in a Q3_KX16 / Q2_KX16 block: dword t = e / 4
static inline int kx16_q2(const uint8_t (*ql)[64], int r, int e) {
  const int t = e / 4;
  return (ql[t % 16][4 * r + e % 4] >> (2 * (t / 16))) & 3;
}
static inline int q3_Kx16_code(const block_q3_Kx16& x, int r, int e) {
  const int t = e / 4;
  return kx16_q2(x.ql, r, e) | (((x.qh[t % 8][4 * r + e % 4] >> (t / 8)) & 1) << 2);
}
static inline int iq4_xsx16_code(const block_iq4_xsx16& x, int r, int e) {
  const int j = e / 32, i = e % 32, k = i % 16;
  const uint8_t q = x.qs[j][k / 4][4 * r + k % 4];
  return i < 16 ? q & 0xF : q >> 4;
}

}  // namespace qs

namespace qi8 {
// 32-block b of a row (csrc/cpu/qgemm_i8.h's Block: w = s_h * (u - c) - mn)
// IQ4_XS: u = kv + off (off 0: the signed level, c = 0; 128: u in [1, 241], c = 128),
// s = d * (ls - 32) for both halves
static inline void decode_iq4_xs(const void* row, int64_t b, Block* o, int off) {
  const block_iq4_xs* x = (const block_iq4_xs*)row + b / 8;
  const int j = (int)(b % 8);
  int8_t sc[8];
  qs::unpack_scales_iq4_xs(*x, sc);
  for (int l = 0; l < 16; l++) {
    o->u[l] = kIq4nlValues[x->qs[16 * j + l] & 0xF] + off;
    o->u[l + 16] = kIq4nlValues[x->qs[16 * j + l] >> 4] + off;
  }
  o->s[0] = o->s[1] = fp16_to_fp32(x->d) * (float)sc[j];
  o->mn = 0;
}
static inline void decode_iq4_xsx16(const void* W, int64_t r, int64_t nb, int64_t b, Block* o, int off) {
  const block_iq4_xsx16* x = (const block_iq4_xsx16*)W + (r / 16) * (nb / 8) + b / 8;
  const int rr = (int)(r % 16), j = (int)(b % 8);
  for (int i = 0; i < 32; i++) o->u[i] = kIq4nlValues[qs::iq4_xsx16_code(*x, rr, 32 * j + i)] + off;
  o->s[0] = o->s[1] = fp16_to_fp32(x->d[rr]) * (float)x->sc[j][rr];
  o->mn = 0;
}
// Q3_K: u = q in [0, 7], c = 4, s_h = d * (sc - 32) of its two 16-sub-blocks
static inline void decode_q3_K(const void* row, int64_t b, Block* o) {
  const block_q3_K* x = (const block_q3_K*)row + b / 8;
  const int j = (int)(b % 8);
  int8_t sc[16];
  qs::unpack_scales_q3_K(x->scales, sc);
  for (int l = 0; l < 32; l++) o->u[l] = qs::q3_code(*x, 32 * j + l);
  const float d = fp16_to_fp32(x->d);
  o->s[0] = d * (float)sc[2 * j];
  o->s[1] = d * (float)sc[2 * j + 1];
  o->mn = 0;
}
static inline void decode_q3_Kx16(const void* W, int64_t r, int64_t nb, int64_t b, Block* o) {
  const block_q3_Kx16* x = (const block_q3_Kx16*)W + (r / 16) * (nb / 8) + b / 8;
  const int rr = (int)(r % 16), j = (int)(b % 8);
  for (int i = 0; i < 32; i++) o->u[i] = qs::q3_Kx16_code(*x, rr, 32 * j + i);
  const float d = fp16_to_fp32(x->d[rr]);
  o->s[0] = d * (float)x->sc[2 * j][rr];
  o->s[1] = d * (float)x->sc[2 * j + 1][rr];
  o->mn = 0;
}

// Q2_K (the int8 GEMM's Q2_K panel): u = q in [0, 3], c = 0, s_h = d * sc_h and a min per
// 16-half, mn_h = dmin * m_h (w = s_h * u - mn_h)
static inline void decode_q2_K(const void* row, int64_t b, Block* o, float* mn) {
  const block_q2_K* x = (const block_q2_K*)row + b / 8;
  const int j = (int)(b % 8);
  for (int l = 0; l < 32; l++) o->u[l] = qs::q2bits(x->qs, 32 * j + l);
  const float d = fp16_to_fp32(x->d), dmin = fp16_to_fp32(x->dmin);
  for (int h = 0; h < 2; h++) {
    o->s[h] = d * (float)(x->scales[2 * j + h] & 0xF);
    mn[h] = dmin * (float)(x->scales[2 * j + h] >> 4);
  }
  o->mn = 0;
}
static inline void decode_q2_Kx16(const void* W, int64_t r, int64_t nb, int64_t b, Block* o, float* mn) {
  const block_q2_Kx16* x = (const block_q2_Kx16*)W + (r / 16) * (nb / 8) + b / 8;
  const int rr = (int)(r % 16), j = (int)(b % 8);
  for (int i = 0; i < 32; i++) o->u[i] = qs::kx16_q2(x->ql, rr, 32 * j + i);
  const float d = fp16_to_fp32(x->d[rr]), dmin = fp16_to_fp32(x->dmin[rr]);
  for (int h = 0; h < 2; h++) {
    o->s[h] = d * (float)(x->scales[2 * j + h][rr] & 0xF);
    mn[h] = dmin * (float)(x->scales[2 * j + h][rr] >> 4);
  }
  o->mn = 0;
}

}  // namespace qi8
}  // namespace fuselm
