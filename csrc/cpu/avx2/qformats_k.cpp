// AVX2 kernels of family `qgemm` for IQ4_XS, Q3_K and Q2_K: the GEMV over the GGUF
// layouts (csrc/cpu/qgemv_k_x86.h, maddubs + madd) and over the repacked x16 layouts,
// as two halves of 8 rows (one int32 lane per row).
#include <immintrin.h>
#include <cstdint>
#include <cstring>

#include "cpu/qformats_k.h"
#include "fuselm/ops/qgemm.h"

namespace fuselm {
namespace avx2 {

#define FL_DPWSSD(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#include "cpu/qgemv_k_x86.h"
#undef FL_DPWSSD
#include "cpu/qgemv_x16.h"

static void dequantize_row_iq4_xs(float* y, const void* x, int64_t n) { qs::dequant_iq4_xs(y, (const block_iq4_xs*)x, n); }
static void dequantize_row_q3_K(float* y, const void* x, int64_t n) { qs::dequant_q3_K(y, (const block_q3_K*)x, n); }
static void dequantize_row_q2_K(float* y, const void* x, int64_t n) { qs::dequant_q2_K(y, (const block_q2_K*)x, n); }

// IQ4_XSX16: the signed levels by one byte shuffle, |q| x sign(a, q) (a pair <= 2 * 127 *
// 127, so each maddubs is widened by its own madd), times the 8 rows' ls - 32.
template <int MM>
static inline void iq4_xsx16_group(float* out, int64_t ldo, const block_q8_K* acts, int64_t nb,
                                   const block_iq4_xsx16* w) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kIq4nlValues));
  __m256 acc[MM][2];
  for (int m = 0; m < MM; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_iq4_xsx16* x = w + b;
    for (int h = 0; h < 2; h++) {
      __m256i sumi[MM];
      for (int m = 0; m < MM; m++) sumi[m] = _mm256_setzero_si256();
      for (int j = 0; j < 8; j++) {
        __m256i lo[4], hi[4];
        for (int g = 0; g < 4; g++) {
          const __m256i v = _mm256_loadu_si256((const __m256i*)(x->qs[j][g] + 32 * h));
          lo[g] = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, m4));
          hi[g] = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
        }
        const __m256i sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(x->sc[j] + 8 * h)));
        for (int m = 0; m < MM; m++) {
          const block_q8_K& a = acts[m * nb + b];
          __m256i dot = _mm256_setzero_si256();
          for (int g = 0; g < 4; g++) {
            const __m256i al = _mm256_set1_epi32(ld32(a.qs + 32 * j + 4 * g));
            const __m256i ah = _mm256_set1_epi32(ld32(a.qs + 32 * j + 16 + 4 * g));
            dot = _mm256_add_epi32(dot, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(lo[g]), _mm256_sign_epi8(al, lo[g])), ones));
            dot = _mm256_add_epi32(dot, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(hi[g]), _mm256_sign_epi8(ah, hi[g])), ones));
          }
          sumi[m] = _mm256_add_epi32(sumi[m], _mm256_mullo_epi32(dot, sc));
        }
      }
      const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(x->d + 8 * h)));
      for (int m = 0; m < MM; m++)
        acc[m][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[m]), _mm256_mul_ps(d, _mm256_set1_ps(acts[m * nb + b].d)), acc[m][h]);
    }
  }
  for (int m = 0; m < MM; m++) {
    _mm256_storeu_ps(out + m * ldo, acc[m][0]);
    _mm256_storeu_ps(out + m * ldo + 8, acc[m][1]);
  }
}

// Q3_KX16 / Q2_KX16: codes as on AVX-512; a sub-block's 4 maddubs (pairs <= 2 * 7 * 127)
// summed in int16 (<= 7112), one madd to int32.
template <int MM, bool Q3>
static inline void qk2x16_group(float* out, int64_t ldo, const block_q8_K* acts, int64_t nb, const void* W) {
  const __m256i m2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), ones = _mm256_set1_epi16(1);
  __m256 acc[MM][2];
  for (int m = 0; m < MM; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_q3_Kx16* x3 = (const block_q3_Kx16*)W + b;
    const block_q2_Kx16* x2 = (const block_q2_Kx16*)W + b;
    const uint8_t(*ql)[64] = Q3 ? x3->ql : x2->ql;
    for (int h = 0; h < 2; h++) {
      __m256i sumi[MM], summ[MM];
      for (int m = 0; m < MM; m++) sumi[m] = summ[m] = _mm256_setzero_si256();
      for (int j = 0; j < 16; j++) {
        __m256i c[4];
        for (int uu = 0; uu < 4; uu++) {
          const int t = 4 * j + uu;
          c[uu] = _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256((const __m256i*)(ql[t % 16] + 32 * h)), 2 * (t / 16)), m2);
          if (Q3) {
            const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256((const __m256i*)(x3->qh[t % 8] + 32 * h)), t / 8), one);
            c[uu] = _mm256_or_si256(c[uu], _mm256_slli_epi16(hb, 2));
          }
        }
        __m256i sc, mn = _mm256_setzero_si256();
        if (Q3) {
          sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(x3->sc[j] + 8 * h)));
        } else {
          const __m256i s = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(x2->scales[j] + 8 * h)));
          sc = _mm256_and_si256(s, _mm256_set1_epi32(15));
          mn = _mm256_srli_epi32(s, 4);
        }
        for (int m = 0; m < MM; m++) {
          const block_q8_K& a = acts[m * nb + b];
          __m256i s16 = _mm256_setzero_si256();
          for (int uu = 0; uu < 4; uu++)
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(c[uu], _mm256_set1_epi32(ld32(a.qs + 16 * j + 4 * uu))));
          __m256i dot = _mm256_madd_epi16(s16, ones);
          if (Q3) dot = _mm256_add_epi32(dot, _mm256_set1_epi32(-4 * a.bsums[j]));
          sumi[m] = _mm256_add_epi32(sumi[m], _mm256_mullo_epi32(dot, sc));
          if (!Q3) summ[m] = _mm256_add_epi32(summ[m], _mm256_mullo_epi32(mn, _mm256_set1_epi32(a.bsums[j])));
        }
      }
      const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)((Q3 ? x3->d : x2->d) + 8 * h)));
      const __m256 dmin = Q3 ? _mm256_setzero_ps() : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(x2->dmin + 8 * h)));
      for (int m = 0; m < MM; m++) {
        const __m256 da = _mm256_set1_ps(acts[m * nb + b].d);
        acc[m][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[m]), _mm256_mul_ps(d, da), acc[m][h]);
        if (!Q3) acc[m][h] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summ[m]), _mm256_mul_ps(dmin, da), acc[m][h]);
      }
    }
  }
  for (int m = 0; m < MM; m++) {
    _mm256_storeu_ps(out + m * ldo, acc[m][0]);
    _mm256_storeu_ps(out + m * ldo + 8, acc[m][1]);
  }
}
template <int MM>
static inline void q3_Kx16_group(float* out, int64_t ldo, const block_q8_K* acts, int64_t nb, const block_q3_Kx16* w) {
  qk2x16_group<MM, true>(out, ldo, acts, nb, w);
}
template <int MM>
static inline void q2_Kx16_group(float* out, int64_t ldo, const block_q8_K* acts, int64_t nb, const block_q2_Kx16* w) {
  qk2x16_group<MM, false>(out, ldo, acts, nb, w);
}

FL_X16_GEMV(gemv_iq4_xsx16_q8_K, block_q8_K, block_iq4_xsx16, QK_K, iq4_xsx16_group)
FL_X16_GEMV(gemv_q3_Kx16_q8_K, block_q8_K, block_q3_Kx16, QK_K, q3_Kx16_group)
FL_X16_GEMV(gemv_q2_Kx16_q8_K, block_q8_K, block_q2_Kx16, QK_K, q2_Kx16_group)
#undef FL_X16_GEMV

void fill_qformats_k(QgemmTable& t) {
  FL_IMPL(t, dequantize_row_iq4_xs, avx2);
  FL_IMPL(t, dequantize_row_q3_K, avx2);
  FL_IMPL(t, dequantize_row_q2_K, avx2);
  FL_IMPL(t, gemv_iq4_xs_q8_K, avx2);
  FL_IMPL(t, gemv_q3_K_q8_K, avx2);
  FL_IMPL(t, gemv_q2_K_q8_K, avx2);
  FL_IMPL(t, gemv_iq4_xsx16_q8_K, avx2);
  FL_IMPL(t, gemv_q3_Kx16_q8_K, avx2);
  FL_IMPL(t, gemv_q2_Kx16_q8_K, avx2);
}

}  // namespace avx2
}  // namespace fuselm
