// AVX-512 (VNNI) kernels of family `qgemm` for IQ4_XS, Q3_K and Q2_K: the GEMV over the
// GGUF layouts (csrc/cpu/qgemv_k_x86.h, vpdpwssd) and over the repacked x16 layouts
// (one 64-byte vector = 4 weights of 16 rows, vpdpbusd against 4 broadcast activations).
#include <immintrin.h>
#include <cstdint>
#include <cstring>

#include "cpu/qformats_k.h"
#include "fuselm/ops/qgemm.h"

namespace fuselm {
namespace avx512 {

#define FL_DPWSSD(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))
#include "cpu/qgemv_k_x86.h"
#undef FL_DPWSSD
#include "cpu/qgemv_x16.h"

static void dequantize_row_iq4_xs(float* y, const void* x, int64_t n) { qs::dequant_iq4_xs(y, (const block_iq4_xs*)x, n); }
static void dequantize_row_q3_K(float* y, const void* x, int64_t n) { qs::dequant_q3_K(y, (const block_q3_K*)x, n); }
static void dequantize_row_q2_K(float* y, const void* x, int64_t n) { qs::dequant_q2_K(y, (const block_q2_K*)x, n); }

// IQ4_XSX16: the levels + 128 (unsigned, 1..241) by one byte shuffle; per sub-block j the
// dot starts at -128 * sum(a_j) and is multiplied by the 16 rows' ls - 32.
template <int MM>
static inline void iq4_xsx16_group(float* out, int64_t ldo, const block_q8_K* acts, int64_t nb,
                                   const block_iq4_xsx16* w) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i lut = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i*)kIq4nlValues)),
                                       _mm512_set1_epi8((char)0x80));
  __m512 acc[MM];
  for (int m = 0; m < MM; m++) acc[m] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_iq4_xsx16* x = w + b;
    __m512i sumi[MM];
    for (int m = 0; m < MM; m++) sumi[m] = _mm512_setzero_si512();
    for (int j = 0; j < 8; j++) {
      __m512i lo[4], hi[4];
      for (int g = 0; g < 4; g++) {
        const __m512i v = _mm512_loadu_si512((const void*)x->qs[j][g]);
        lo[g] = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, m4));
        hi[g] = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
      }
      const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)x->sc[j]));
      for (int m = 0; m < MM; m++) {
        const block_q8_K& a = acts[m * nb + b];
        __m512i dot = _mm512_set1_epi32(-128 * (a.bsums[2 * j] + a.bsums[2 * j + 1]));
        for (int g = 0; g < 4; g++) {
          dot = _mm512_dpbusd_epi32(dot, lo[g], _mm512_set1_epi32(ld32(a.qs + 32 * j + 4 * g)));
          dot = _mm512_dpbusd_epi32(dot, hi[g], _mm512_set1_epi32(ld32(a.qs + 32 * j + 16 + 4 * g)));
        }
        sumi[m] = _mm512_add_epi32(sumi[m], _mm512_mullo_epi32(dot, sc));
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)x->d));
    for (int m = 0; m < MM; m++)
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[m]), _mm512_mul_ps(d, _mm512_set1_ps(acts[m * nb + b].d)), acc[m]);
  }
  for (int m = 0; m < MM; m++) _mm512_storeu_ps(out + m * ldo, acc[m]);
}

// Q3_KX16 / Q2_KX16: the codes of dword t rebuilt from ql[t % 16] (bits 2 (t / 16)) and,
// for Q3_K, qh[t % 8] (bit t / 8 as bit 2); sub-block j is dwords 4j..4j+3. Q3_K: the dot
// starts at -4 * bsums[j], times sc - 32; Q2_K: times sc, the mins through the bsums.
template <int MM, bool Q3>
static inline void qk2x16_group(float* out, int64_t ldo, const block_q8_K* acts, int64_t nb, const void* W) {
  const __m512i m2 = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
  __m512 acc[MM];
  for (int m = 0; m < MM; m++) acc[m] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_q3_Kx16* x3 = (const block_q3_Kx16*)W + b;
    const block_q2_Kx16* x2 = (const block_q2_Kx16*)W + b;
    const uint8_t(*ql)[64] = Q3 ? x3->ql : x2->ql;
    __m512i sumi[MM], summ[MM];
    for (int m = 0; m < MM; m++) sumi[m] = summ[m] = _mm512_setzero_si512();
    for (int j = 0; j < 16; j++) {
      __m512i c[4];
      for (int uu = 0; uu < 4; uu++) {
        const int t = 4 * j + uu;
        c[uu] = _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512((const void*)ql[t % 16]), 2 * (t / 16)), m2);
        if (Q3) {
          const __m512i h = _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512((const void*)x3->qh[t % 8]), t / 8), one);
          c[uu] = _mm512_or_si512(c[uu], _mm512_slli_epi16(h, 2));
        }
      }
      __m512i sc, mn = _mm512_setzero_si512();
      if (Q3) {
        sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)x3->sc[j]));
      } else {
        const __m512i s = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)x2->scales[j]));
        sc = _mm512_and_si512(s, _mm512_set1_epi32(15));
        mn = _mm512_srli_epi32(s, 4);
      }
      for (int m = 0; m < MM; m++) {
        const block_q8_K& a = acts[m * nb + b];
        __m512i dot = Q3 ? _mm512_set1_epi32(-4 * a.bsums[j]) : _mm512_setzero_si512();
        for (int uu = 0; uu < 4; uu++) dot = _mm512_dpbusd_epi32(dot, c[uu], _mm512_set1_epi32(ld32(a.qs + 16 * j + 4 * uu)));
        sumi[m] = _mm512_add_epi32(sumi[m], _mm512_mullo_epi32(dot, sc));
        if (!Q3) summ[m] = _mm512_add_epi32(summ[m], _mm512_mullo_epi32(mn, _mm512_set1_epi32(a.bsums[j])));
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(Q3 ? x3->d : x2->d)));
    const __m512 dmin = Q3 ? _mm512_setzero_ps() : _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)x2->dmin));
    for (int m = 0; m < MM; m++) {
      const __m512 da = _mm512_set1_ps(acts[m * nb + b].d);
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[m]), _mm512_mul_ps(d, da), acc[m]);
      if (!Q3) acc[m] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(summ[m]), _mm512_mul_ps(dmin, da), acc[m]);
    }
  }
  for (int m = 0; m < MM; m++) _mm512_storeu_ps(out + m * ldo, acc[m]);
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
  FL_IMPL(t, dequantize_row_iq4_xs, avx512);
  FL_IMPL(t, dequantize_row_q3_K, avx512);
  FL_IMPL(t, dequantize_row_q2_K, avx512);
  FL_IMPL(t, gemv_iq4_xs_q8_K, avx512);
  FL_IMPL(t, gemv_q3_K_q8_K, avx512);
  FL_IMPL(t, gemv_q2_K_q8_K, avx512);
  FL_IMPL(t, gemv_iq4_xsx16_q8_K, avx512);
  FL_IMPL(t, gemv_q3_Kx16_q8_K, avx512);
  FL_IMPL(t, gemv_q2_Kx16_q8_K, avx512);
}

}  // namespace avx512
}  // namespace fuselm
