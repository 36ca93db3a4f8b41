// AVX-512 VNNI kernels (vpdpbusd: 256-bit vectors for the plain GEMV, 512-bit for the repacked) of the legacy 32-block formats of family `qgemm` (Q5_0, Q4_1,
// Q5_1, IQ4_NL, MXFP4): the dequantizers and the plain and repacked GEMV
// (csrc/cpu/qgemv_legacy_x86.h). The int8 GEMM entries live in qgemm_i8.cpp.
#include <immintrin.h>
#include <cstdint>
#include <cstring>

#include "cpu/qformats_legacy.h"
#include "fuselm/ops/qgemm.h"

namespace fuselm {
namespace avx512 {

#define FL_DPBUSD(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define FL_DPWSSD(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))
#include "cpu/qgemv_x86.h"
#include "cpu/qgemv_x16.h"
#include "cpu/qformats_legacy_x86.h"
#include "cpu/qgemv_legacy_x86.h"

// The repacked GEMV on 512-bit vectors: one 64-byte vector is dword j of all 16 rows,
// so a block is 4 loads, the nibble split (and Q5's fifth bits from the 64 qh bytes),
// and 8 vpdpbusd per activation row, the 16 rows' sums in the 16 lanes. The table
// formats look their values up offset by 128 (u = v + 128 in [1, 241], unsigned, the
// sum started at -128 * S) instead of |v| x sign(a, v): one vpshufb per vector.
template <int F>
static inline __m512i lut512_u8() {  // the table + 128, in each 128-bit lane
  const __m128i t = _mm_xor_si128(_mm_load_si128((const __m128i*)lg::table<F>()), _mm_set1_epi8((char)0x80));
  return _mm512_broadcast_i32x4(t);
}
template <int F, int MM>
static inline void x16_group512(float* out, int64_t ldo, const qs::ActQ8_0* acts, int64_t nb,
                                const typename lg::Traits<F>::X16* w) {
  typedef lg::Traits<F> T;
  constexpr int C = T::kLut ? 128 : T::kC;
  const __m512i m4 = _mm512_set1_epi8(0x0F), b4 = _mm512_set1_epi8(0x10);
  __m512i lut = _mm512_setzero_si512();
  if constexpr (T::kLut) lut = lut512_u8<F>();
  __m512 acc[MM];
  for (int m = 0; m < MM; m++) acc[m] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const typename T::X16* x = w + b;
    __m512i lo[4], hi[4];
    __m512i qh = _mm512_setzero_si512();
    if constexpr (T::kHigh) qh = _mm512_loadu_si512((const void*)x->qh);
    for (int j = 0; j < 4; j++) {
      const __m512i v = _mm512_loadu_si512((const void*)x->qs[j]);
      lo[j] = _mm512_and_si512(v, m4);
      hi[j] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
      if constexpr (T::kHigh) {  // qh bit j -> bit 4 of the low code, bit 4 + j -> of the high one
        lo[j] = _mm512_or_si512(lo[j], _mm512_and_si512(_mm512_sll_epi16(qh, _mm_cvtsi32_si128(4 - j)), b4));
        hi[j] = _mm512_or_si512(hi[j], _mm512_and_si512(_mm512_srl_epi16(qh, _mm_cvtsi32_si128(j)), b4));
      }
      if constexpr (T::kLut) {
        lo[j] = _mm512_shuffle_epi8(lut, lo[j]);
        hi[j] = _mm512_shuffle_epi8(lut, hi[j]);
      }
    }
    __m512 s;
    if constexpr (F == lg::MXFP4) {
      const __m512i e = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)x->e));
      const __m512i big = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
      const __m512i small = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
      s = _mm512_castsi512_ps(_mm512_mask_blend_epi32(_mm512_cmpgt_epi32_mask(e, _mm512_set1_epi32(1)), small, big));
    } else {
      s = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)x->d));
    }
    __m512 mv = _mm512_setzero_ps();
    if constexpr (T::kMin) mv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)x->m));
    for (int m = 0; m < MM; m++) {
      const qs::ActQ8_0* a = acts + m * nb + b;
      int32_t aq[8];
      std::memcpy(aq, a->qs, 32);
      __m512i t0 = _mm512_set1_epi32(-C * a->sum), t1 = _mm512_setzero_si512();
      for (int j = 0; j < 4; j++) {
        t0 = _mm512_dpbusd_epi32(t0, lo[j], _mm512_set1_epi32(aq[j]));
        t1 = _mm512_dpbusd_epi32(t1, hi[j], _mm512_set1_epi32(aq[4 + j]));
      }
      const __m512 da = _mm512_set1_ps(a->d);
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(t0, t1)), _mm512_mul_ps(s, da), acc[m]);
      if constexpr (T::kMin) acc[m] = _mm512_fmadd_ps(mv, _mm512_set1_ps(a->d * (float)a->sum), acc[m]);
    }
  }
  for (int m = 0; m < MM; m++) _mm512_storeu_ps(out + m * ldo, acc[m]);
}

FL_LG_GEMV_ENTRIES(q5_0, lg::Q5_0, x16_group512)
FL_LG_GEMV_ENTRIES(q4_1, lg::Q4_1, x16_group512)
FL_LG_GEMV_ENTRIES(q5_1, lg::Q5_1, x16_group512)
FL_LG_GEMV_ENTRIES(iq4_nl, lg::IQ4_NL, x16_group512)
FL_LG_GEMV_ENTRIES(mxfp4, lg::MXFP4, x16_group512)
#undef FL_X16_GEMV
#undef FL_DPBUSD
#undef FL_DPWSSD

void fill_qgemm_legacy(QgemmTable& t) {
  FL_LG_FILL_GEMV(t, lg::Q5_0, q5_0, avx512);
  FL_LG_FILL_GEMV(t, lg::Q4_1, q4_1, avx512);
  FL_LG_FILL_GEMV(t, lg::Q5_1, q5_1, avx512);
  FL_LG_FILL_GEMV(t, lg::IQ4_NL, iq4_nl, avx512);
  FL_LG_FILL_GEMV(t, lg::MXFP4, mxfp4, avx512);
}

}  // namespace avx512
}  // namespace fuselm
