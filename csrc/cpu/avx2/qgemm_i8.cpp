// AVX2 int8 GEMM of family `qgemm` (quantized W, M > kGemvMaxM): W panels of 16 rows
// repacked to 8-bit codes (csrc/cpu/qgemm_i8_x86.h), micro-tiles of MR activation
// rows x 16 W rows. The u8 x s8 group dot is maddubs, summed in int16 over as many
// groups as the codes allow, then madd(1): the codes are at most 63 (q6_K), so a pair
// never saturates int16, except q8_0, whose codes stay signed and run as
// |w| x sign(a, w) (at most 2 * 128 * 127 per pair).
#include <immintrin.h>
#include <cstdint>
#include <cstring>

#include "cpu/qgemm_i8.h"
#include "fuselm/ops/qgemm.h"

namespace fuselm {
namespace avx2 {

#include "cpu/qgemm_i8_x86.h"

constexpr int MR = 2, NRP = 16;
constexpr int64_t KCB = 32;

static inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
static inline __m256i mask8(int64_t n) {  // lanes < n set
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 0 ? 0 : n > 8 ? 8 : n)), idx);
}

// The int32 sums of one 32-block (or one half: groups G0..G1) for MR rows x 16 W rows.
// maddubs pairs are summed in int16 over CH groups before one madd widens them: CH *
// 2 * max(u) * 127 stays below 2^15 (CH 8 for 4-bit codes, 4 for 5-bit, 2 for 6-bit,
// 1 for q8_0's |w| <= 128).
template <int G0, int G1, bool SIGNED, int CH>
static inline void block_dots(__m256i (*acc)[2], const uint8_t* w, const int8_t* a) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int g0 = G0; g0 < G1; g0 += CH) {
    __m256i s[MR][2];
    for (int c = 0; c < CH; c++) {
      const int g = g0 + c;
      const __m256i w0 = _mm256_load_si256((const __m256i*)(w + g * 4 * NRP));
      const __m256i w1 = _mm256_load_si256((const __m256i*)(w + g * 4 * NRP + 32));
      const __m256i u0 = SIGNED ? _mm256_abs_epi8(w0) : w0, u1 = SIGNED ? _mm256_abs_epi8(w1) : w1;
      for (int i = 0; i < MR; i++) {
        const __m256i av = bcast4(a + i * 32 + 4 * g);
        const __m256i a0 = SIGNED ? _mm256_sign_epi8(av, w0) : av, a1 = SIGNED ? _mm256_sign_epi8(av, w1) : av;
        const __m256i p0 = _mm256_maddubs_epi16(u0, a0), p1 = _mm256_maddubs_epi16(u1, a1);
        s[i][0] = c == 0 ? p0 : _mm256_add_epi16(s[i][0], p0);
        s[i][1] = c == 0 ? p1 : _mm256_add_epi16(s[i][1], p1);
      }
    }
    for (int i = 0; i < MR; i++) {
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(s[i][0], ones));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(s[i][1], ones));
    }
  }
}

// q4_0 / q8_0 (an activation scale per 32-block): f += float(I) * (s * d) per block;
// MIN (q4_1 / q5_1): then f -= mn * (d * S).
template <bool SIGNED, int CH, bool MIN = false>
static inline void tile_q8_0(float* C, int64_t ldc, int64_t mrows, const int8_t* ap, const I8ActMeta* am,
                             const uint8_t* wp, const float* wf, int64_t b0, int64_t b1, __m256i k0, __m256i k1,
                             bool first) {
  __m256 f[MR][2];
  for (int i = 0; i < MR; i++) {
    if (first || i >= mrows) {
      f[i][0] = f[i][1] = _mm256_setzero_ps();
    } else {
      f[i][0] = _mm256_maskload_ps(C + i * ldc, k0);
      f[i][1] = _mm256_maskload_ps(C + i * ldc + 8, k1);
    }
  }
  for (int64_t b = b0; b < b1; b++) {
    const I8ActMeta* mt = am + b * MR;
    __m256i acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_set1_epi32(mt[i].corr[0]);
    block_dots<0, 8, SIGNED, CH>(acc, wp + b * 32 * NRP, ap + b * MR * 32);
    const __m256 s0 = _mm256_load_ps(wf + b * 2 * NRP), s1 = _mm256_load_ps(wf + b * 2 * NRP + 8);
    for (int i = 0; i < MR; i++) {
      const __m256 d = _mm256_set1_ps(mt[i].d);
      f[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][0]), _mm256_mul_ps(s0, d), f[i][0]);
      f[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][1]), _mm256_mul_ps(s1, d), f[i][1]);
    }
    if (MIN) {
      const __m256 m0 = _mm256_load_ps(wf + (2 * b + 1) * NRP), m1 = _mm256_load_ps(wf + (2 * b + 1) * NRP + 8);
      for (int i = 0; i < MR; i++) {
        const __m256 ds = _mm256_set1_ps(mt[i].d * mt[i].sum);
        f[i][0] = _mm256_fnmadd_ps(m0, ds, f[i][0]);
        f[i][1] = _mm256_fnmadd_ps(m1, ds, f[i][1]);
      }
    }
  }
  for (int i = 0; i < MR && i < mrows; i++) {
    _mm256_maskstore_ps(C + i * ldc, k0, f[i][0]);
    _mm256_maskstore_ps(C + i * ldc + 8, k1, f[i][1]);
  }
}

// K-quants (one activation scale per 8 32-blocks): per 256-block T = sum of
// float(I_h) * s_h (- mn * S for q4_K / q5_K), then C += T * d.
// SIGNED: the codes are signed (IQ4_XS's levels): |w| x sign(a, w) as q8_0.
template <int HALVES, int CH, bool SIGNED = false>
static inline void tile_qk(float* C, int64_t ldc, int64_t mrows, const int8_t* ap, const I8ActMeta* am,
                           const uint8_t* wp, const float* wf, int64_t b0, int64_t b1, __m256i k0, __m256i k1,
                           bool first) {
  for (int64_t sb = b0; sb < b1; sb += 8) {
    __m256 t[MR][2];
    for (int i = 0; i < MR; i++) t[i][0] = t[i][1] = _mm256_setzero_ps();
    for (int64_t b = sb; b < sb + 8; b++) {
      const I8ActMeta* mt = am + b * MR;
      const uint8_t* w = wp + b * 32 * NRP;
      const int8_t* a = ap + b * MR * 32;
      const float* sf = wf + b * 2 * NRP;
      __m256i acc[MR][2];
      if (HALVES == 2) {
        for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_set1_epi32(mt[i].corr[0]);
        block_dots<0, 4, SIGNED, CH>(acc, w, a);
        const __m256 s0 = _mm256_load_ps(sf), s1 = _mm256_load_ps(sf + 8);
        for (int i = 0; i < MR; i++) {
          t[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][0]), s0, t[i][0]);
          t[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][1]), s1, t[i][1]);
          acc[i][0] = acc[i][1] = _mm256_set1_epi32(mt[i].corr[1]);
        }
        block_dots<4, 8, SIGNED, CH>(acc, w, a);
        const __m256 h0 = _mm256_load_ps(sf + NRP), h1 = _mm256_load_ps(sf + NRP + 8);
        for (int i = 0; i < MR; i++) {
          t[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][0]), h0, t[i][0]);
          t[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][1]), h1, t[i][1]);
        }
      } else {
        for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
        block_dots<0, 8, false, CH>(acc, w, a);
        const __m256 s0 = _mm256_load_ps(sf), s1 = _mm256_load_ps(sf + 8);
        const __m256 m0 = _mm256_load_ps(sf + NRP), m1 = _mm256_load_ps(sf + NRP + 8);
        for (int i = 0; i < MR; i++) {
          const __m256 sum = _mm256_set1_ps(mt[i].sum);
          t[i][0] = _mm256_fnmadd_ps(m0, sum, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][0]), s0, t[i][0]));
          t[i][1] = _mm256_fnmadd_ps(m1, sum, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][1]), s1, t[i][1]));
        }
      }
    }
    const I8ActMeta* mt = am + sb * MR;
    for (int i = 0; i < MR && i < mrows; i++) {
      const __m256 d = _mm256_set1_ps(mt[i].d);
      float* c = C + i * ldc;
      if (first && sb == b0) {
        _mm256_maskstore_ps(c, k0, _mm256_mul_ps(t[i][0], d));
        _mm256_maskstore_ps(c + 8, k1, _mm256_mul_ps(t[i][1], d));
      } else {
        _mm256_maskstore_ps(c, k0, _mm256_fmadd_ps(t[i][0], d, _mm256_maskload_ps(c, k0)));
        _mm256_maskstore_ps(c + 8, k1, _mm256_fmadd_ps(t[i][1], d, _mm256_maskload_ps(c + 8, k1)));
      }
    }
  }
}

// Q2_K: as tile_qk's halves, the sums starting at 0, minus each half's min times its
// activation sum S_h (meta corr[h]); codes <= 3 (pairs summed over the 4 groups of a half
// in int16: 4 * 2 * 3 * 127 < 2^15).
static inline void tile_q2k(float* C, int64_t ldc, int64_t mrows, const int8_t* ap, const I8ActMeta* am,
                            const uint8_t* wp, const float* wf, const float* wm, int64_t b0, int64_t b1, __m256i k0,
                            __m256i k1, bool first) {
  for (int64_t sb = b0; sb < b1; sb += 8) {
    __m256 t[MR][2];
    for (int i = 0; i < MR; i++) t[i][0] = t[i][1] = _mm256_setzero_ps();
    for (int64_t b = sb; b < sb + 8; b++) {
      const I8ActMeta* mt = am + b * MR;
      const uint8_t* w = wp + b * 32 * NRP;
      const int8_t* a = ap + b * MR * 32;
      for (int h = 0; h < 2; h++) {
        __m256i acc[MR][2];
        for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
        if (h == 0) block_dots<0, 4, false, 4>(acc, w, a);
        else block_dots<4, 8, false, 4>(acc, w, a);
        const float* sf = wf + (2 * b + h) * NRP;
        const float* mf = wm + (2 * b + h) * NRP;
        const __m256 s0 = _mm256_load_ps(sf), s1 = _mm256_load_ps(sf + 8);
        const __m256 m0 = _mm256_load_ps(mf), m1 = _mm256_load_ps(mf + 8);
        for (int i = 0; i < MR; i++) {
          const __m256 S = _mm256_set1_ps((float)mt[i].corr[h]);
          t[i][0] = _mm256_fnmadd_ps(m0, S, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][0]), s0, t[i][0]));
          t[i][1] = _mm256_fnmadd_ps(m1, S, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][1]), s1, t[i][1]));
        }
      }
    }
    const I8ActMeta* mt = am + sb * MR;
    for (int i = 0; i < MR && i < mrows; i++) {
      const __m256 d = _mm256_set1_ps(mt[i].d);
      float* c = C + i * ldc;
      if (first && sb == b0) {
        _mm256_maskstore_ps(c, k0, _mm256_mul_ps(t[i][0], d));
        _mm256_maskstore_ps(c + 8, k1, _mm256_mul_ps(t[i][1], d));
      } else {
        _mm256_maskstore_ps(c, k0, _mm256_fmadd_ps(t[i][0], d, _mm256_maskload_ps(c, k0)));
        _mm256_maskstore_ps(c + 8, k1, _mm256_fmadd_ps(t[i][1], d, _mm256_maskload_ps(c + 8, k1)));
      }
    }
  }
}

template <int FMT>
static void gemm_panel(float* C, int64_t ldc, const int8_t* qa, const I8ActMeta* meta, int64_t M, int64_t K,
                       const void* W, int64_t nr, void* scratch) {
  const int64_t nb = K / 32, mp = (M + MR - 1) / MR;
  uint8_t* wp = (uint8_t*)scratch;
  i8_pack_panel<NRP, FMT, 0>(W, nr, nb, wp);
  const float* wf = (const float*)(wp + nb * 32 * NRP);
  const __m256i k0 = mask8(nr), k1 = mask8(nr - 8);
  for (int64_t kb = 0; kb < nb; kb += KCB) {
    const int64_t ke = kb + KCB < nb ? kb + KCB : nb;
    for (int64_t p = 0; p < mp; p++) {
      const int64_t mrows = M - p * MR < MR ? M - p * MR : MR;
      float* c = C + p * MR * ldc;
      const int8_t* a = qa + p * nb * MR * 32;
      const I8ActMeta* m = meta + p * nb * MR;
      if constexpr (i8_is_legacy<FMT>()) {
        // codes < 32 (pairs summed over 4 groups in int16: 4 * 2 * 31 * 127 < 2^15), q4_1's < 16
        // over 8; the table formats signed as q8_0 (Q8OFF 0 here)
        constexpr int F = (FMT - I8_LG) % (I8_LG_X16 - I8_LG);
        if (lg::kLutOf[F]) tile_q8_0<true, 1>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
        else if (F == lg::Q4_1) tile_q8_0<false, 8, true>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
        else if (F == lg::Q5_1) tile_q8_0<false, 4, true>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
        else tile_q8_0<false, 4>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
      } else if (FMT == I8_Q4_0 || FMT == I8_Q4_0X16) tile_q8_0<false, 8>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
      else if (FMT == I8_Q8_0 || FMT == I8_Q8_0X16) tile_q8_0<true, 1>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
      else if (FMT == I8_Q4_K || FMT == I8_Q4_KX16) tile_qk<1, 8>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
      else if (FMT == I8_Q5_K) tile_qk<1, 4>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
      // IQ4_XS: signed levels up to 127 (a maddubs pair <= 2 * 127 * 127); Q3_K: codes <= 7
      else if (FMT == I8_IQ4_XS || FMT == I8_IQ4_XSX16) tile_qk<2, 1, true>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
      else if (FMT == I8_Q3_K || FMT == I8_Q3_KX16) tile_qk<2, 4>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
      else if (i8_is_q2k<FMT>()) tile_q2k(c, ldc, mrows, a, m, wp, wf, wf + nb * 2 * NRP, kb, ke, k0, k1, kb == 0);
      else tile_qk<2, 2>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
    }
  }
}

FL_QGEMM_I8_ENTRIES(avx2, 0)
FL_QGEMM_I8_LEGACY_ENTRIES(avx2)

}  // namespace avx2
}  // namespace fuselm
