// AVX-512 VNNI int8 GEMM of family `qgemm` (quantized W, M > kGemvMaxM): W panels of
// 32 rows repacked to u8 codes (csrc/cpu/qgemm_i8_x86.h), micro-tiles of MR
// activation rows x 32 W rows: per 32-block, 8 groups of one W load (2 zmm) and MR
// broadcast 4-byte activation groups into vpdpbusd (u8 codes x s8 activations),
// then per block the int32 sums scaled into f32 accumulators (cvt, mul, fma).
#include <immintrin.h>
#include <cstdint>
#include <cstring>

#include "cpu/qgemm_i8.h"
#include "fuselm/ops/qgemm.h"

namespace fuselm {
namespace avx512 {

#include "cpu/qgemm_i8_x86.h"

constexpr int MR = 6, NRP = 32;
constexpr int64_t KCB = 32;  // 32-blocks per K chunk (a multiple of 8): the W sub-panel (32 KiB of codes) stays in L1/L2

static inline __mmask16 tail16(int64_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}
static inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// The int32 sums of one 32-block (or one half: groups g0..g1) for MR rows x 32 W rows.
template <int G0, int G1>
static inline void block_dots(__m512i (*acc)[2], const uint8_t* w, const int8_t* a) {
  for (int g = G0; g < G1; g++) {
    const __m512i w0 = _mm512_load_si512((const void*)(w + g * 4 * NRP));
    const __m512i w1 = _mm512_load_si512((const void*)(w + g * 4 * NRP + 64));
    for (int i = 0; i < MR; i++) {
      const __m512i av = bcast4(a + i * 32 + 4 * g);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], w0, av);
      acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], w1, av);
    }
  }
}

// q4_0 / q8_0 (an activation scale per 32-block): f += float(I) * (s * d) per block,
// with corr[0] as the sums' start; f in registers over blocks b0..b1. MIN (q4_1 /
// q5_1): then f -= mn * (d * S).
template <bool MIN = false>
static inline void tile_q8_0(float* C, int64_t ldc, int64_t mrows, const int8_t* ap, const I8ActMeta* am,
                             const uint8_t* wp, const float* wf, int64_t b0, int64_t b1, __mmask16 k0,
                             __mmask16 k1, bool first) {
  __m512 f[MR][2];
  for (int i = 0; i < MR; i++) {
    if (first || i >= mrows) {
      f[i][0] = f[i][1] = _mm512_setzero_ps();
    } else {
      f[i][0] = _mm512_maskz_loadu_ps(k0, C + i * ldc);
      f[i][1] = _mm512_maskz_loadu_ps(k1, C + i * ldc + 16);
    }
  }
  for (int64_t b = b0; b < b1; b++) {
    const I8ActMeta* mt = am + b * MR;
    __m512i acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_set1_epi32(mt[i].corr[0]);
    block_dots<0, 8>(acc, wp + b * 32 * NRP, ap + b * MR * 32);
    const __m512 s0 = _mm512_load_ps(wf + b * 2 * NRP), s1 = _mm512_load_ps(wf + b * 2 * NRP + 16);
    for (int i = 0; i < MR; i++) {
      const __m512 d = _mm512_set1_ps(mt[i].d);
      f[i][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][0]), _mm512_mul_ps(s0, d), f[i][0]);
      f[i][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][1]), _mm512_mul_ps(s1, d), f[i][1]);
    }
    if (MIN) {
      const __m512 m0 = _mm512_load_ps(wf + (2 * b + 1) * NRP), m1 = _mm512_load_ps(wf + (2 * b + 1) * NRP + 16);
      for (int i = 0; i < MR; i++) {
        const __m512 ds = _mm512_set1_ps(mt[i].d * mt[i].sum);
        f[i][0] = _mm512_fnmadd_ps(m0, ds, f[i][0]);
        f[i][1] = _mm512_fnmadd_ps(m1, ds, f[i][1]);
      }
    }
  }
  for (int i = 0; i < MR && i < mrows; i++) {
    _mm512_mask_storeu_ps(C + i * ldc, k0, f[i][0]);
    _mm512_mask_storeu_ps(C + i * ldc + 16, k1, f[i][1]);
  }
}

// K-quants (one activation scale per 8 32-blocks): per 256-block T = sum of
// float(I_h) * s_h (- mn * S for q4_K / q5_K), then C += T * d in memory (L1).
// HALVES: 2 for q6_K (a scale per 16, corr[h] as the sums' start), 1 with mins.
template <int HALVES>
static inline void tile_qk(float* C, int64_t ldc, int64_t mrows, const int8_t* ap, const I8ActMeta* am,
                           const uint8_t* wp, const float* wf, int64_t b0, int64_t b1, __mmask16 k0,
                           __mmask16 k1, bool first) {
  for (int64_t sb = b0; sb < b1; sb += 8) {
    __m512 t[MR][2];
    for (int i = 0; i < MR; i++) t[i][0] = t[i][1] = _mm512_setzero_ps();
    for (int64_t b = sb; b < sb + 8; b++) {
      const I8ActMeta* mt = am + b * MR;
      const uint8_t* w = wp + b * 32 * NRP;
      const int8_t* a = ap + b * MR * 32;
      const float* sf = wf + b * 2 * NRP;
      __m512i acc[MR][2];
      if (HALVES == 2) {
        for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_set1_epi32(mt[i].corr[0]);
        block_dots<0, 4>(acc, w, a);
        const __m512 s0 = _mm512_load_ps(sf), s1 = _mm512_load_ps(sf + 16);
        for (int i = 0; i < MR; i++) {
          t[i][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][0]), s0, t[i][0]);
          t[i][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][1]), s1, t[i][1]);
          acc[i][0] = acc[i][1] = _mm512_set1_epi32(mt[i].corr[1]);
        }
        block_dots<4, 8>(acc, w, a);
        const __m512 h0 = _mm512_load_ps(sf + NRP), h1 = _mm512_load_ps(sf + NRP + 16);
        for (int i = 0; i < MR; i++) {
          t[i][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][0]), h0, t[i][0]);
          t[i][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][1]), h1, t[i][1]);
        }
      } else {
        for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
        block_dots<0, 8>(acc, w, a);
        const __m512 s0 = _mm512_load_ps(sf), s1 = _mm512_load_ps(sf + 16);
        const __m512 m0 = _mm512_load_ps(sf + NRP), m1 = _mm512_load_ps(sf + NRP + 16);
        for (int i = 0; i < MR; i++) {
          const __m512 sum = _mm512_set1_ps(mt[i].sum);
          t[i][0] = _mm512_fnmadd_ps(m0, sum, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][0]), s0, t[i][0]));
          t[i][1] = _mm512_fnmadd_ps(m1, sum, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][1]), s1, t[i][1]));
        }
      }
    }
    const I8ActMeta* mt = am + sb * MR;
    for (int i = 0; i < MR && i < mrows; i++) {
      const __m512 d = _mm512_set1_ps(mt[i].d);
      float* c = C + i * ldc;
      if (first && sb == b0) {
        _mm512_mask_storeu_ps(c, k0, _mm512_mul_ps(t[i][0], d));
        _mm512_mask_storeu_ps(c + 16, k1, _mm512_mul_ps(t[i][1], d));
      } else {
        _mm512_mask_storeu_ps(c, k0, _mm512_fmadd_ps(t[i][0], d, _mm512_maskz_loadu_ps(k0, c)));
        _mm512_mask_storeu_ps(c + 16, k1, _mm512_fmadd_ps(t[i][1], d, _mm512_maskz_loadu_ps(k1, c + 16)));
      }
    }
  }
}

// Q2_K: as tile_qk's halves (a factor per 16), the sums starting at 0, each half's min
// against its activation sum S_h (meta corr[h], ops packs S_h there for Q2_K):
// T = sum_h float(I_h) * s_h - mn_h * S_h, then C += T * d.
static inline void tile_q2k(float* C, int64_t ldc, int64_t mrows, const int8_t* ap, const I8ActMeta* am,
                            const uint8_t* wp, const float* wf, const float* wm, int64_t b0, int64_t b1, __mmask16 k0,
                            __mmask16 k1, bool first) {
  for (int64_t sb = b0; sb < b1; sb += 8) {
    __m512 t[MR][2];
    for (int i = 0; i < MR; i++) t[i][0] = t[i][1] = _mm512_setzero_ps();
    for (int64_t b = sb; b < sb + 8; b++) {
      const I8ActMeta* mt = am + b * MR;
      const uint8_t* w = wp + b * 32 * NRP;
      const int8_t* a = ap + b * MR * 32;
      for (int h = 0; h < 2; h++) {
        __m512i acc[MR][2];
        for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
        if (h == 0) block_dots<0, 4>(acc, w, a);
        else block_dots<4, 8>(acc, w, a);
        const float* sf = wf + (2 * b + h) * NRP;
        const float* mf = wm + (2 * b + h) * NRP;
        const __m512 s0 = _mm512_load_ps(sf), s1 = _mm512_load_ps(sf + 16);
        const __m512 m0 = _mm512_load_ps(mf), m1 = _mm512_load_ps(mf + 16);
        for (int i = 0; i < MR; i++) {
          const __m512 S = _mm512_set1_ps((float)mt[i].corr[h]);
          t[i][0] = _mm512_fnmadd_ps(m0, S, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][0]), s0, t[i][0]));
          t[i][1] = _mm512_fnmadd_ps(m1, S, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][1]), s1, t[i][1]));
        }
      }
    }
    const I8ActMeta* mt = am + sb * MR;
    for (int i = 0; i < MR && i < mrows; i++) {
      const __m512 d = _mm512_set1_ps(mt[i].d);
      float* c = C + i * ldc;
      if (first && sb == b0) {
        _mm512_mask_storeu_ps(c, k0, _mm512_mul_ps(t[i][0], d));
        _mm512_mask_storeu_ps(c + 16, k1, _mm512_mul_ps(t[i][1], d));
      } else {
        _mm512_mask_storeu_ps(c, k0, _mm512_fmadd_ps(t[i][0], d, _mm512_maskz_loadu_ps(k0, c)));
        _mm512_mask_storeu_ps(c + 16, k1, _mm512_fmadd_ps(t[i][1], d, _mm512_maskz_loadu_ps(k1, c + 16)));
      }
    }
  }
}

template <int FMT>
static void gemm_panel(float* C, int64_t ldc, const int8_t* qa, const I8ActMeta* meta, int64_t M, int64_t K,
                       const void* W, int64_t nr, void* scratch) {
  const int64_t nb = K / 32, mp = (M + MR - 1) / MR;
  uint8_t* wp = (uint8_t*)scratch;
  i8_pack_panel<NRP, FMT, 128>(W, nr, nb, wp);
  const float* wf = (const float*)(wp + nb * 32 * NRP);
  const __mmask16 k0 = tail16(nr), k1 = tail16(nr - 16);
  for (int64_t kb = 0; kb < nb; kb += KCB) {
    const int64_t ke = kb + KCB < nb ? kb + KCB : nb;
    for (int64_t p = 0; p < mp; p++) {
      const int64_t mrows = M - p * MR < MR ? M - p * MR : MR;
      float* c = C + p * MR * ldc;
      const int8_t* a = qa + p * nb * MR * 32;
      const I8ActMeta* m = meta + p * nb * MR;
      constexpr bool lgmin = i8_is_legacy<FMT>() && ((FMT - I8_LG) % (I8_LG_X16 - I8_LG) == lg::Q4_1 ||
                                                     (FMT - I8_LG) % (I8_LG_X16 - I8_LG) == lg::Q5_1);
      if (i8_is_legacy<FMT>()) tile_q8_0<lgmin>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
      else if (i8_is_q2k<FMT>()) tile_q2k(c, ldc, mrows, a, m, wp, wf, wf + nb * 2 * NRP, kb, ke, k0, k1, kb == 0);
      else if (FMT == I8_Q4_0 || FMT == I8_Q8_0 || FMT == I8_Q4_0X16 || FMT == I8_Q8_0X16) tile_q8_0(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
      else tile_qk<(FMT == I8_Q6_K || FMT == I8_Q6_KX16 || i8_is_qk<FMT>()) ? 2 : 1>(c, ldc, mrows, a, m, wp, wf, kb, ke, k0, k1, kb == 0);
    }
  }
}

FL_QGEMM_I8_ENTRIES(avx512, 128)
FL_QGEMM_I8_LEGACY_ENTRIES(avx512)

}  // namespace avx512
}  // namespace fuselm
