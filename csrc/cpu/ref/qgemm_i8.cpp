// Scalar reference of the int8 GEMM of family `qgemm` (quantized W, M > kGemvMaxM):
// plain loops over the decoded blocks of csrc/cpu/qgemm_i8.h, the ground truth the
// AVX2 / AVX-512 panel kernels are tested against.
#include <cstring>

#include "cpu/qgemm_i8.h"
#include "fuselm/ops/qgemm.h"

namespace fuselm {
namespace ref {

constexpr int MR = 4;  // activation rows per packed panel (the layout in fuselm/ops/qgemm.h)

// G: 32-blocks sharing one activation scale (1 for q8_0 activations, 8 for q8_K)
// decode(W, r, nb, b, out): block b of row r
template <void (*decode)(const void*, int64_t, int64_t, int64_t, qi8::Block*), int HALVES, bool MIN, int G>
static void gemm_blocks(float* C, int64_t ldc, const int8_t* qa, const I8ActMeta* meta, int64_t M, int64_t K,
                        const void* W, int64_t nr) {
  const int64_t nb = K / 32;
  qi8::Block blk[G];
  for (int64_t r = 0; r < nr; r++) {
    for (int64_t m = 0; m < M; m++) C[m * ldc + r] = 0.0f;
    for (int64_t b0 = 0; b0 < nb; b0 += G) {
      for (int j = 0; j < G; j++) decode(W, r, nb, b0 + j, &blk[j]);
      for (int64_t m = 0; m < M; m++) {
        float t = 0, d = 0;
        for (int j = 0; j < G; j++) {
          const int64_t at = ((m / MR) * nb + b0 + j) * MR + m % MR;
          const int8_t* a = qa + at * 32;
          const I8ActMeta& mt = meta[at];
          d = mt.d;
          for (int h = 0; h < HALVES; h++) {
            const int n = 32 / HALVES;
            int32_t s = mt.corr[h];
            for (int k = h * n; k < h * n + n; k++) s += blk[j].u[k] * (int32_t)a[k];
            if (G == 1) C[m * ldc + r] += (float)s * (blk[j].s[h] * mt.d);
            else t += (float)s * blk[j].s[h];
          }
          if (MIN && G == 1) C[m * ldc + r] -= blk[j].mn * (mt.d * mt.sum);
          else if (MIN) t -= blk[j].mn * mt.sum;
        }
        if (G > 1) C[m * ldc + r] += t * d;
      }
    }
  }
}

// plain formats: rows row_bytes apart (BYTES per stored block of PER 32-blocks)
template <void (*dec)(const void*, int64_t, qi8::Block*), size_t BYTES, int PER>
static void dec_rows(const void* W, int64_t r, int64_t nb, int64_t b, qi8::Block* o) {
  dec((const uint8_t*)W + (size_t)r * (size_t)(nb / PER) * BYTES, b, o);
}
static void dec_q8_0(const void* row, int64_t b, qi8::Block* o) { qi8::decode_q8_0(row, b, o, 0); }
static void dec_q8_0x16(const void* W, int64_t r, int64_t nb, int64_t b, qi8::Block* o) {
  qi8::decode_q8_0x16(W, r, nb, b, o, 0);
}

#define FL_GEMM_I8(name, decode, halves, min, g)                                                                  \
  static void name(float* C, int64_t ldc, const int8_t* qa, const I8ActMeta* meta, int64_t M, int64_t K,         \
                   const void* W, int64_t nr, void*) {                                                          \
    gemm_blocks<decode, halves, min, g>(C, ldc, qa, meta, M, K, W, nr);                                         \
  }
FL_GEMM_I8(gemm_q4_0_q8_0, (dec_rows<qi8::decode_q4_0, sizeof(block_q4_0), 1>), 1, false, 1)
FL_GEMM_I8(gemm_q8_0_q8_0, (dec_rows<dec_q8_0, sizeof(block_q8_0), 1>), 1, false, 1)
FL_GEMM_I8(gemm_q4_K_q8_K, (dec_rows<qi8::decode_qk4<false>, sizeof(block_q4_K), 8>), 1, true, 8)
FL_GEMM_I8(gemm_q5_K_q8_K, (dec_rows<qi8::decode_qk4<true>, sizeof(block_q5_K), 8>), 1, true, 8)
FL_GEMM_I8(gemm_q6_K_q8_K, (dec_rows<qi8::decode_q6_K, sizeof(block_q6_K), 8>), 2, false, 8)
FL_GEMM_I8(gemm_q4_0x16_q8_0, qi8::decode_q4_0x16, 1, false, 1)
FL_GEMM_I8(gemm_q8_0x16_q8_0, dec_q8_0x16, 1, false, 1)
FL_GEMM_I8(gemm_q4_Kx16_q8_K, qi8::decode_q4_Kx16, 1, true, 8)
FL_GEMM_I8(gemm_q6_Kx16_q8_K, qi8::decode_q6_Kx16, 2, false, 8)
static void dec_iq4_xs(const void* row, int64_t b, qi8::Block* o) { qi8::decode_iq4_xs(row, b, o, 0); }
static void dec_iq4_xsx16(const void* W, int64_t r, int64_t nb, int64_t b, qi8::Block* o) {
  qi8::decode_iq4_xsx16(W, r, nb, b, o, 0);
}
FL_GEMM_I8(gemm_iq4_xs_q8_K, (dec_rows<dec_iq4_xs, sizeof(block_iq4_xs), 8>), 2, false, 8)
FL_GEMM_I8(gemm_q3_K_q8_K, (dec_rows<qi8::decode_q3_K, sizeof(block_q3_K), 8>), 2, false, 8)
FL_GEMM_I8(gemm_iq4_xsx16_q8_K, dec_iq4_xsx16, 2, false, 8)
FL_GEMM_I8(gemm_q3_Kx16_q8_K, qi8::decode_q3_Kx16, 2, false, 8)

// the legacy 32-block formats (csrc/cpu/qformats_legacy.h): u = q (c = kC) or, for the
// table formats, the signed value (c = 0, the ref's q8_0 offset); mn = -m
template <int F>
static void dec_legacy(const uint8_t* q, float s, float m, qi8::Block* o) {
  for (int j = 0; j < 32; j++) o->u[j] = lg::kLutOf[F] ? lg::value<F>(q[j]) : q[j];
  o->s[0] = o->s[1] = s;
  o->mn = -m;
}
template <int F>
static void dec_legacy_rows(const void* W, int64_t r, int64_t nb, int64_t b, qi8::Block* o) {
  const typename lg::Traits<F>::Block& x = ((const typename lg::Traits<F>::Block*)W)[r * nb + b];
  uint8_t q[32];
  lg::codes<F>(x, q);
  dec_legacy<F>(q, lg::scale<F>(x), lg::minv<F>(x), o);
}
template <int F>
static void dec_legacy_x16(const void* W, int64_t r, int64_t nb, int64_t b, qi8::Block* o) {
  const typename lg::Traits<F>::X16& x = ((const typename lg::Traits<F>::X16*)W)[(r / 16) * nb + b];
  uint8_t q[32];
  lg::codes_x16<F>(x, (int)(r % 16), q);
  dec_legacy<F>(q, lg::scale_x16<F>(x, (int)(r % 16)), lg::minv_x16<F>(x, (int)(r % 16)), o);
}
#define FL_GEMM_I8_LG(fmt, F)                                                                                    \
  FL_GEMM_I8(gemm_##fmt##_q8_0, dec_legacy_rows<F>, 1, lg::Traits<F>::kMin, 1)                                  \
  FL_GEMM_I8(gemm_##fmt##x16_q8_0, dec_legacy_x16<F>, 1, lg::Traits<F>::kMin, 1)
FL_GEMM_I8_LG(q5_0, lg::Q5_0)
FL_GEMM_I8_LG(q4_1, lg::Q4_1)
FL_GEMM_I8_LG(q5_1, lg::Q5_1)
FL_GEMM_I8_LG(iq4_nl, lg::IQ4_NL)
FL_GEMM_I8_LG(mxfp4, lg::MXFP4)
#undef FL_GEMM_I8_LG
#undef FL_GEMM_I8

void fill_qgemm_i8_legacy(QgemmTable& t) {
#define FL_LG_FILL(F, fmt)                                        \
  FL_LEGACY_IMPL(t, F, gemm, gemm_##fmt##_q8_0, ref);             \
  FL_LEGACY_IMPL(t, F, gemm_x16, gemm_##fmt##x16_q8_0, ref)
  FL_LG_FILL(lg::Q5_0, q5_0);
  FL_LG_FILL(lg::Q4_1, q4_1);
  FL_LG_FILL(lg::Q5_1, q5_1);
  FL_LG_FILL(lg::IQ4_NL, iq4_nl);
  FL_LG_FILL(lg::MXFP4, mxfp4);
#undef FL_LG_FILL
}

// Q2_K: per 16-half a factor s_h and a min mn_h (qformats_k.h decode_q2_K); meta corr[h]
// holds the half's activation sum S_h (ops packs it so for Q2_K):
// T = sum_h float(I_h) * s_h - mn_h * S_h per 256-block, then C += T * d
template <bool X16>
static void gemm_q2_K(float* C, int64_t ldc, const int8_t* qa, const I8ActMeta* meta, int64_t M, int64_t K,
                      const void* W, int64_t nr, void*) {
  const int64_t nb = K / 32;
  qi8::Block blk[8];
  float mn[8][2];
  for (int64_t r = 0; r < nr; r++) {
    for (int64_t m = 0; m < M; m++) C[m * ldc + r] = 0.0f;
    for (int64_t b0 = 0; b0 < nb; b0 += 8) {
      for (int j = 0; j < 8; j++) {
        if (X16) qi8::decode_q2_Kx16(W, r, nb, b0 + j, &blk[j], mn[j]);
        else qi8::decode_q2_K((const uint8_t*)W + (size_t)r * (size_t)(nb / 8) * sizeof(block_q2_K), b0 + j, &blk[j], mn[j]);
      }
      for (int64_t m = 0; m < M; m++) {
        float t = 0, d = 0;
        for (int j = 0; j < 8; j++) {
          const int64_t at = ((m / MR) * nb + b0 + j) * MR + m % MR;
          const int8_t* a = qa + at * 32;
          const I8ActMeta& mt = meta[at];
          d = mt.d;
          for (int h = 0; h < 2; h++) {
            int32_t s = 0;
            for (int k = 16 * h; k < 16 * h + 16; k++) s += blk[j].u[k] * (int32_t)a[k];
            t += (float)s * blk[j].s[h];
            t -= mn[j][h] * (float)mt.corr[h];
          }
        }
        C[m * ldc + r] += t * d;
      }
    }
  }
}
static void gemm_q2_K_q8_K(float* C, int64_t ldc, const int8_t* qa, const I8ActMeta* meta, int64_t M, int64_t K,
                           const void* W, int64_t nr, void* s) {
  gemm_q2_K<false>(C, ldc, qa, meta, M, K, W, nr, s);
}
static void gemm_q2_Kx16_q8_K(float* C, int64_t ldc, const int8_t* qa, const I8ActMeta* meta, int64_t M, int64_t K,
                              const void* W, int64_t nr, void* s) {
  gemm_q2_K<true>(C, ldc, qa, meta, M, K, W, nr, s);
}

void fill_qgemm_i8(QgemmTable& t) {
  FL_IMPL(t, gemm_q4_0_q8_0, ref);
  FL_IMPL(t, gemm_q8_0_q8_0, ref);
  FL_IMPL(t, gemm_q4_K_q8_K, ref);
  FL_IMPL(t, gemm_q5_K_q8_K, ref);
  FL_IMPL(t, gemm_q6_K_q8_K, ref);
  FL_IMPL(t, gemm_q4_0x16_q8_0, ref);
  FL_IMPL(t, gemm_q8_0x16_q8_0, ref);
  FL_IMPL(t, gemm_q4_Kx16_q8_K, ref);
  FL_IMPL(t, gemm_q6_Kx16_q8_K, ref);
  FL_IMPL(t, gemm_iq4_xs_q8_K, ref);
  FL_IMPL(t, gemm_q3_K_q8_K, ref);
  FL_IMPL(t, gemm_iq4_xsx16_q8_K, ref);
  FL_IMPL(t, gemm_q3_Kx16_q8_K, ref);
  FL_IMPL(t, gemm_q2_K_q8_K, ref);
  FL_IMPL(t, gemm_q2_Kx16_q8_K, ref);
  t.gemm_i8_mr = MR;
  t.gemm_i8_nr = 16;
  t.gemm_i8_q8_0_off = 0;
}

}  // namespace ref
}  // namespace fuselm
