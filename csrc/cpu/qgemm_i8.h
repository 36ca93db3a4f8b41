// Scalar pieces of the int8 GEMM of family `qgemm` (quantized W, M > kGemvMaxM),
// shared by the ref kernels and the x86 panel packers' reference decode.
//
// Numerics (llama.cpp's): an activation row is quantized to int8 blocks as the GEMV
// does (q8_0: a scale d per 32 for q4_0 / q8_0 weights; q8_K: a scale per 256 for the
// K-quants), a = d * qa; a W row's 32-block is written as integer codes u with f32
// factors,  w_k = s_h * (u_k - c) - mn  (h = k / 16), so that
//   sum_k x_k w_k ~ d * sum_h s_h * (sum_{k in h} u_k qa_k - c * S_h) - d * mn * S
// with every inner sum exact in int32. The f32 scaling, in this order on every path:
//   q4_0, q8_0: per 32-block  f += float(I) * (s * d)
//   K-quants:   per 256-block T = sum over its 32-blocks (and halves) of float(I_h) * s_h,
//               minus mn * S for q4_K / q5_K; then f += T * d
//   q4_0: u = q in [0, 15], c = 8, s = d, mn = 0
//   q8_0: u = q + off (off 0: u = q signed, or 128: u = q + 128 in [0, 255]), c = off, s = d
//   q4_K: u = q in [0, 15], c = 0, s = d * sc_j, mn = dmin * m_j   (j: the 32-sub-block)
//   q5_K: as q4_K with u in [0, 31]
//   q6_K: u = q in [0, 63], c = 32, s_h = d * scales[2j + h] (its 16-sub-blocks)
#pragma once
#include <cstdint>

#include "cpu/qformats_legacy.h"
#include "cpu/qscalar.h"

namespace fuselm {
namespace qi8 {

// One 32-block of a W row: codes and factors (s[1] == s[0] unless the format has
// per-16 scales).
struct Block {
  int32_t u[32];
  float s[2];
  float mn;
};

// Block b (of 32 weights) of a row of each format.
static inline void decode_q4_0(const void* row, int64_t b, Block* o) {
  const block_q4_0* x = (const block_q4_0*)row + b;
  for (int j = 0; j < 16; j++) {
    o->u[j] = x->qs[j] & 0xF;
    o->u[j + 16] = x->qs[j] >> 4;
  }
  o->s[0] = o->s[1] = fp16_to_fp32(x->d);
  o->mn = 0;
}
static inline void decode_q8_0(const void* row, int64_t b, Block* o, int off) {
  const block_q8_0* x = (const block_q8_0*)row + b;
  for (int j = 0; j < 32; j++) o->u[j] = x->qs[j] + off;
  o->s[0] = o->s[1] = fp16_to_fp32(x->d);
  o->mn = 0;
}
template <bool Q5>
static inline void decode_qk4(const void* row, int64_t b, Block* o) {
  const int64_t sb = b / 8;
  const int j = (int)(b % 8);
  const block_q4_K* h = Q5 ? nullptr : (const block_q4_K*)row + sb;
  const block_q5_K* h5 = Q5 ? (const block_q5_K*)row + sb : nullptr;
  const uint8_t* scales = Q5 ? h5->scales : h->scales;
  const uint8_t* qs = (Q5 ? h5->qs : h->qs) + 32 * (j / 2);
  uint8_t sc[8], m[8];
  qs::unpack_scales_k4(scales, sc, m);
  for (int l = 0; l < 32; l++) {
    int q = (qs[l] >> (4 * (j & 1))) & 0xF;
    if (Q5) q |= ((h5->qh[l] >> j) & 1) << 4;
    o->u[l] = q;
  }
  const float d = fp16_to_fp32(Q5 ? h5->d : h->d), dmin = fp16_to_fp32(Q5 ? h5->dmin : h->dmin);
  o->s[0] = o->s[1] = d * (float)sc[j];
  o->mn = dmin * (float)m[j];
}
// Q4_0X16 / Q8_0X16: row r (of a matrix starting at a whole 16-row group), block b
static inline void decode_q4_0x16(const void* W, int64_t r, int64_t nb, int64_t b, Block* o) {
  const block_q4_0x16* x = (const block_q4_0x16*)W + (r / 16) * nb + b;
  const int rr = (int)(r % 16);
  for (int j = 0; j < 4; j++)
    for (int e = 0; e < 4; e++) {
      o->u[4 * j + e] = x->qs[j][4 * rr + e] & 0xF;
      o->u[16 + 4 * j + e] = x->qs[j][4 * rr + e] >> 4;
    }
  o->s[0] = o->s[1] = fp16_to_fp32(x->d[rr]);
  o->mn = 0;
}
static inline void decode_q8_0x16(const void* W, int64_t r, int64_t nb, int64_t b, Block* o, int off) {
  const block_q8_0x16* x = (const block_q8_0x16*)W + (r / 16) * nb + b;
  const int rr = (int)(r % 16);
  for (int j = 0; j < 8; j++)
    for (int e = 0; e < 4; e++) o->u[4 * j + e] = x->qs[j][4 * rr + e] + off;
  o->s[0] = o->s[1] = fp16_to_fp32(x->d[rr]);
  o->mn = 0;
}
// Q4_KX16 / Q6_KX16: row r (of a matrix starting at a whole 16-row group), 32-block b
static inline void decode_q4_Kx16(const void* W, int64_t r, int64_t nb, int64_t b, Block* o) {
  const block_q4_Kx16* x = (const block_q4_Kx16*)W + (r / 16) * (nb / 8) + b / 8;
  const int rr = (int)(r % 16), j = (int)(b % 8), c = j / 2;
  for (int g = 0; g < 8; g++)
    for (int e = 0; e < 4; e++) o->u[4 * g + e] = (x->qs[c][g][4 * rr + e] >> (4 * (j & 1))) & 0xF;
  o->s[0] = o->s[1] = fp16_to_fp32(x->d[rr]) * (float)x->sc[j][rr];
  o->mn = fp16_to_fp32(x->dmin[rr]) * (float)x->m[j][rr];
}
static inline void decode_q6_Kx16(const void* W, int64_t r, int64_t nb, int64_t b, Block* o) {
  const block_q6_Kx16* x = (const block_q6_Kx16*)W + (r / 16) * (nb / 8) + b / 8;
  const int rr = (int)(r % 16), j = (int)(b % 8);
  for (int g = 0; g < 8; g++) {
    const int t = 8 * j + g;  // dword t of the 256 weights
    for (int e = 0; e < 4; e++) {
      const uint8_t l = x->q[t % 16][(t % 32) / 16][4 * rr + e];  // blocks.h: Q6_KX16
      const int lo = t < 32 ? l & 0xF : l >> 4;
      const int hi = (x->q[t % 16][2][4 * rr + e] >> (2 * (t / 16))) & 3;
      o->u[4 * g + e] = lo | (hi << 4);
    }
  }
  const float d = fp16_to_fp32(x->d[rr]);
  o->s[0] = d * (float)x->sc[2 * j][rr];
  o->s[1] = d * (float)x->sc[2 * j + 1][rr];
  o->mn = 0;
}
// q6_K 32-block j = 4 * half + grp of super-block sb: grp 0..3 read ql[l] low, ql[l + 32]
// low, ql[l] high, ql[l + 32] high nibbles with qh bits 2 * grp, scales[8 half + 2 grp + l / 16].
static inline void decode_q6_K(const void* row, int64_t b, Block* o) {
  const block_q6_K* x = (const block_q6_K*)row + b / 8;
  const int j = (int)(b % 8), half = j / 4, grp = j % 4;
  const uint8_t* ql = x->ql + 64 * half + (grp & 1 ? 32 : 0);
  const uint8_t* qh = x->qh + 32 * half;
  for (int l = 0; l < 32; l++)
    o->u[l] = ((ql[l] >> (grp >= 2 ? 4 : 0)) & 0xF) | (((qh[l] >> (2 * grp)) & 3) << 4);
  const float d = fp16_to_fp32(x->d);
  o->s[0] = d * (float)x->scales[8 * half + 2 * grp];
  o->s[1] = d * (float)x->scales[8 * half + 2 * grp + 1];
  o->mn = 0;
}

}  // namespace qi8
}  // namespace fuselm

// IQ4_XS / Q3_K (and their repacked forms): csrc/cpu/qformats_k.h
#include "cpu/qformats_k.h"

