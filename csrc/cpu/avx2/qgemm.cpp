// AVX2+FMA kernels of family `qgemm`: integer GEMV with maddubs/madd (see
// csrc/cpu/qgemv_x86.h), float GEMV, and 16 x 6 GEMM tiles with FMA (bf16
// pairs are widened to f32 in registers).
#include <immintrin.h>
#include <cstdint>
#include <cstring>

#include "cpu/qscalar.h"
#include "fuselm/ops/qgemm.h"
#include "cpu/avx2/vec.h"

namespace fuselm {
namespace avx2 {

#define FL_DPBUSD(acc, u, s) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define FL_DPWSSD(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#include "cpu/qgemv_x86.h"
#undef FL_DPBUSD
#undef FL_DPWSSD

// ---- activation quantizers --------------------------------------------------------
// roundf (ties away from zero) exactly: t = trunc(v); t += sign(v) where |v - t| >= 0.5
static inline __m256i round_away(__m256 v) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
  const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign));
  return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(up, one)));
}

template <int OFF>
static void quantize_act(void* dst, const float* x, int64_t n) {
  qs::ActQ8_0* y = (qs::ActQ8_0*)dst;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / 32; i++, x += 32) {
    __m256 v[4];
    __m256 mx = _mm256_setzero_ps();
    for (int j = 0; j < 4; j++) {
      v[j] = _mm256_loadu_ps(x + 8 * j);
      mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[j]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int j = 0; j < 4; j++) q[j] = round_away(_mm256_mul_ps(v[j], vid));
    // int32 -> int8 in order: packs interleave 128-bit lanes, a final permute restores it
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
    __m256i p = _mm256_packs_epi16(p01, p23);
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i*)y[i].qs, p);
    const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), p), _mm256_set1_epi16(1));
    _mm256_storeu_si256((__m256i*)y[i].off, _mm256_mullo_epi32(s, _mm256_set1_epi32(-OFF)));
    y[i].d = d;
    y[i].sum = qs::qsum32(y[i].qs);
  }
}
static void quantize_act_q4_0(void* dst, const float* x, int64_t n) { quantize_act<8>(dst, x, n); }
static void quantize_act_q8_0(void* dst, const float* x, int64_t n) { quantize_act<128>(dst, x, n); }
// q8_K: the scalar loop, auto-vectorised with this file's flags
static void quantize_row_q8_K(void* dst, const float* x, int64_t n) { qs::quantize_q8_K_row((block_q8_K*)dst, x, n); }

static void dequantize_row_q4_0(float* y, const void* x, int64_t n) { qs::dequant_q4_0(y, (const block_q4_0*)x, n); }
static void dequantize_row_q8_0(float* y, const void* x, int64_t n) { qs::dequant_q8_0(y, (const block_q8_0*)x, n); }
static void dequantize_row_q4_K(float* y, const void* x, int64_t n) { qs::dequant_q4_K(y, (const block_q4_K*)x, n); }
static void dequantize_row_q5_K(float* y, const void* x, int64_t n) { qs::dequant_q5_K(y, (const block_q5_K*)x, n); }
static void dequantize_row_q6_K(float* y, const void* x, int64_t n) { qs::dequant_q6_K(y, (const block_q6_K*)x, n); }
static void dequantize_row_f16(float* y, const void* x, int64_t n) {
  const uint16_t* h = (const uint16_t*)x;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(h + i))));
  qs::dequant_f16(y + i, h + i, n - i);
}
static void dequantize_row_bf16(float* y, const void* x, int64_t n) { qs::dequant_bf16(y, (const uint16_t*)x, n); }
static void round_bf16_row(uint16_t* y, const float* x, int64_t n) { qs::round_bf16(y, x, n); }

// ---- float GEMV -------------------------------------------------------------------
template <int KIND>
static inline __m256 load8(const void* W, int64_t i) {
  if (KIND == 0) return _mm256_loadu_ps((const float*)W + i);
  const __m128i h = _mm_loadu_si128((const __m128i*)((const uint16_t*)W + i));
  if (KIND == 1) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
template <int KIND>
static inline float load1(const void* W, int64_t i) {
  if (KIND == 0) return ((const float*)W)[i];
  if (KIND == 1) return fp16_to_fp32(((const uint16_t*)W)[i]);
  return bf16_to_fp32(((const uint16_t*)W)[i]);
}

template <int R, int KIND>
static inline void float_rows(float* out, int64_t ldo, const float* x, int64_t M, int64_t K, const void* W, int64_t n) {
  for (int64_t m = 0; m < M; m++) {
    const float* xm = x + m * K;
    __m256 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
      const __m256 xv = _mm256_loadu_ps(xm + k);
      for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(xv, load8<KIND>(W, (n + r) * K + k), acc[r]);
    }
    for (int r = 0; r < R; r++) {
      float s = hsum256(acc[r]);
      for (int64_t kk = k; kk < K; kk++) s += xm[kk] * load1<KIND>(W, (n + r) * K + kk);
      out[m * ldo + n + r] = s;
    }
  }
}
template <int KIND>
static void gemv_float(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                       int64_t n1) {
  const float* x = (const float*)acts;
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) float_rows<4, KIND>(out, ldo, x, M, K, W, n);
  for (; n < n1; n++) float_rows<1, KIND>(out, ldo, x, M, K, W, n);
}
static void gemv_f32_f32(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                         int64_t n1) {
  gemv_float<0>(o, l, a, M, K, W, n0, n1);
}
static void gemv_f16_f32(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                         int64_t n1) {
  gemv_float<1>(o, l, a, M, K, W, n0, n1);
}
static void gemv_bf16_f32(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                          int64_t n1) {
  gemv_float<2>(o, l, a, M, K, W, n0, n1);
}

// ---- GEMM: 16 rows of x (2 vectors) x 6 rows of W per tile --------------------------
constexpr int MB = 2 * V8f::W, NR = V8f::kGemmNR;  // the tile shape gemm_f32.cpp uses too

static inline void store_tile(float* C, int64_t ldc, const __m256 (*acc)[2], int64_t mrows, int64_t nr) {
  alignas(32) float tile[NR][MB];
  for (int r = 0; r < NR; r++) {
    _mm256_store_ps(tile[r], acc[r][0]);
    _mm256_store_ps(tile[r] + 8, acc[r][1]);
  }
  for (int64_t i = 0; i < mrows; i++)
    for (int64_t r = 0; r < nr; r++) C[i * ldc + r] = tile[r][i];
}

// bf16 pairs: the even element is the pair << 16, the odd one the pair's high half
static void gemm_bf16(float* C, int64_t ldc, const void* xpack, int64_t M, const void* const* wrows, int64_t nr,
                      int64_t K) {
  const uint16_t* w[NR];
  for (int r = 0; r < NR; r++) w[r] = (const uint16_t*)wrows[r < nr ? r : 0];
  const int64_t P = K / 2;
  const __m256i hi_mask = _mm256_set1_epi32((int)0xFFFF0000u);
  for (int64_t mb = 0; mb * MB < M; mb++) {
    const uint32_t* xb = (const uint32_t*)xpack + mb * P * MB;
    __m256 acc[NR][2];
    for (int r = 0; r < NR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t p = 0; p < P; p++) {
      const __m256i v0 = _mm256_loadu_si256((const __m256i*)(xb + p * MB));
      const __m256i v1 = _mm256_loadu_si256((const __m256i*)(xb + p * MB + 8));
      const __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(v0, 16)), o0 = _mm256_castsi256_ps(_mm256_and_si256(v0, hi_mask));
      const __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(v1, 16)), o1 = _mm256_castsi256_ps(_mm256_and_si256(v1, hi_mask));
      for (int r = 0; r < NR; r++) {
        const __m256 we = _mm256_set1_ps(bf16_to_fp32(w[r][2 * p])), wo = _mm256_set1_ps(bf16_to_fp32(w[r][2 * p + 1]));
        acc[r][0] = _mm256_fmadd_ps(o0, wo, _mm256_fmadd_ps(e0, we, acc[r][0]));
        acc[r][1] = _mm256_fmadd_ps(o1, wo, _mm256_fmadd_ps(e1, we, acc[r][1]));
      }
    }
    const int64_t mrows = M - mb * MB < MB ? M - mb * MB : MB;
    store_tile(C + mb * MB * ldc, ldc, acc, mrows, nr);
  }
}

#include "cpu/qgemv_x16.h"

// ---- repacked GEMV (Q4_0X16 / Q8_0X16, blocks.h) ------------------------------------
// The 16 rows of a block as two halves of 8 (one int32 lane per row): maddubs
// against 4 broadcast activations, pair sums in int16, then one madd to int32.
// q4_0: the 8 int16 partial sums of a half (each |.| <= 2 * 15 * 127) are added
// in int16 (|total| <= 30480 < 32767) before the single madd; minus 8 * sum(a).
template <int MM>
static inline void q4_0x16_group(float* out, int64_t ldo, const qs::ActQ8_0* acts, int64_t nb,
                                 const block_q4_0x16* w) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  __m256 acc[MM][2];
  for (int m = 0; m < MM; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_q4_0x16* wb = w + b;
    for (int h = 0; h < 2; h++) {
      __m256i lo[4], hi[4];
      for (int j = 0; j < 4; j++) {
        const __m256i v = _mm256_loadu_si256((const __m256i*)(wb->qs[j] + 32 * h));
        lo[j] = _mm256_and_si256(v, m4);
        hi[j] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
      }
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(wb->d + 8 * h)));
      for (int m = 0; m < MM; m++) {
        const qs::ActQ8_0* a = acts + m * nb + b;
        int32_t aq[8];
        std::memcpy(aq, a->qs, 32);
        __m256i s16 = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
          s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(lo[j], _mm256_set1_epi32(aq[j])));
          s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi[j], _mm256_set1_epi32(aq[4 + j])));
        }
        const __m256i t = _mm256_add_epi32(_mm256_madd_epi16(s16, ones), _mm256_set1_epi32(-8 * a->sum));
        acc[m][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), _mm256_mul_ps(dw, _mm256_set1_ps(a->d)), acc[m][h]);
      }
    }
  }
  for (int m = 0; m < MM; m++) {
    _mm256_storeu_ps(out + m * ldo, acc[m][0]);
    _mm256_storeu_ps(out + m * ldo + 8, acc[m][1]);
  }
}
// q8_0: |w| x sign(a, w) (no saturation: each pair sum <= 2 * 127 * 127), madd per step.
template <int MM>
static inline void q8_0x16_group(float* out, int64_t ldo, const qs::ActQ8_0* acts, int64_t nb,
                                 const block_q8_0x16* w) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[MM][2];
  for (int m = 0; m < MM; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_q8_0x16* wb = w + b;
    for (int h = 0; h < 2; h++) {
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(wb->d + 8 * h)));
      for (int m = 0; m < MM; m++) {
        const qs::ActQ8_0* a = acts + m * nb + b;
        int32_t aq[8];
        std::memcpy(aq, a->qs, 32);
        __m256i s = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
          const __m256i v = _mm256_loadu_si256((const __m256i*)(wb->qs[j] + 32 * h));
          const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(_mm256_set1_epi32(aq[j]), v));
          s = _mm256_add_epi32(s, _mm256_madd_epi16(p, ones));
        }
        acc[m][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(a->d)), acc[m][h]);
      }
    }
  }
  for (int m = 0; m < MM; m++) {
    _mm256_storeu_ps(out + m * ldo, acc[m][0]);
    _mm256_storeu_ps(out + m * ldo + 8, acc[m][1]);
  }
}

// q4_K: per half of 8 rows and chunk c, the 8 dwords' maddubs in int16 (each
// pair <= 2 * 15 * 127, a sub-block of 8 dwords <= 30480), one madd to int32,
// times the byte scales; mins through the bsums.
template <int MM>
static inline void q4_Kx16_group(float* out, int64_t ldo, const block_q8_K* acts, int64_t nb,
                                 const block_q4_Kx16* w) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  __m256 acc[MM][2];
  for (int m = 0; m < MM; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_q4_Kx16* x = w + b;
    for (int h = 0; h < 2; h++) {
      __m256i sumi[MM];
      for (int m = 0; m < MM; m++) sumi[m] = _mm256_setzero_si256();
      for (int c = 0; c < 4; c++) {
        const __m256i sl = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(x->sc[2 * c] + 8 * h)));
        const __m256i sh = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(x->sc[2 * c + 1] + 8 * h)));
        for (int m = 0; m < MM; m++) {
          int32_t a32[16];
          std::memcpy(a32, acts[m * nb + b].qs + 64 * c, 64);
          __m256i dl = _mm256_setzero_si256(), dh = _mm256_setzero_si256();
          for (int g = 0; g < 8; g++) {
            const __m256i v = _mm256_loadu_si256((const __m256i*)(x->qs[c][g] + 32 * h));
            dl = _mm256_add_epi16(dl, _mm256_maddubs_epi16(_mm256_and_si256(v, m4), _mm256_set1_epi32(a32[g])));
            dh = _mm256_add_epi16(dh, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4),
                                                           _mm256_set1_epi32(a32[8 + g])));
          }
          sumi[m] = _mm256_add_epi32(sumi[m], _mm256_add_epi32(_mm256_mullo_epi32(_mm256_madd_epi16(dl, ones), sl),
                                                               _mm256_mullo_epi32(_mm256_madd_epi16(dh, ones), sh)));
        }
      }
      const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(x->d + 8 * h)));
      const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(x->dmin + 8 * h)));
      for (int m = 0; m < MM; m++) {
        const block_q8_K& a = acts[m * nb + b];
        __m256i summ = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
          const __m256i mj = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(x->m[j] + 8 * h)));
          summ = _mm256_add_epi32(summ, _mm256_mullo_epi32(mj, _mm256_set1_epi32(a.bsums[2 * j] + a.bsums[2 * j + 1])));
        }
        const __m256 da = _mm256_set1_ps(a.d);
        acc[m][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[m]), _mm256_mul_ps(d, da), acc[m][h]);
        acc[m][h] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_mul_ps(dmin, da), acc[m][h]);
      }
    }
  }
  for (int m = 0; m < MM; m++) {
    _mm256_storeu_ps(out + m * ldo, acc[m][0]);
    _mm256_storeu_ps(out + m * ldo + 8, acc[m][1]);
  }
}
// q6_K: the codes (0..63) of a sub-block's 4 dwords in int16 (<= 4 * 2 * 63 * 127
// = 64008 would not fit: pairs <= 16002, two dwords per int16 sum <= 32004), so
// two maddubs per int16 sum, two madds per sub-block; q - 32 via the bsums.
template <int MM>
static inline void q6_Kx16_group(float* out, int64_t ldo, const block_q8_K* acts, int64_t nb,
                                 const block_q6_Kx16* w) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), ones = _mm256_set1_epi16(1);
  __m256 acc[MM][2];
  for (int m = 0; m < MM; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_q6_Kx16* x = w + b;
    for (int h = 0; h < 2; h++) {
      __m256i sumi[MM];
      for (int m = 0; m < MM; m++) sumi[m] = _mm256_setzero_si256();
      for (int s4 = 0; s4 < 4; s4++) {
        __m256i D[4][4];
        for (int uu = 0; uu < 4; uu++) {
          const int u = 4 * s4 + uu;
          const __m256i p0 = _mm256_loadu_si256((const __m256i*)(x->q[u][0] + 32 * h));
          const __m256i p1 = _mm256_loadu_si256((const __m256i*)(x->q[u][1] + 32 * h));
          const __m256i q = _mm256_loadu_si256((const __m256i*)(x->q[u][2] + 32 * h));
          D[0][uu] = _mm256_or_si256(_mm256_and_si256(p0, m4), _mm256_and_si256(_mm256_slli_epi16(q, 4), m30));
          D[1][uu] = _mm256_or_si256(_mm256_and_si256(p1, m4), _mm256_and_si256(_mm256_slli_epi16(q, 2), m30));
          D[2][uu] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(p0, 4), m4), _mm256_and_si256(q, m30));
          D[3][uu] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(p1, 4), m4),
                                     _mm256_and_si256(_mm256_srli_epi16(q, 2), m30));
        }
        for (int m = 0; m < MM; m++) {
          const block_q8_K& a = acts[m * nb + b];
          for (int i = 0; i < 4; i++) {
            const int sb = s4 + 4 * i;
            const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(D[i][0], _mm256_set1_epi32(ld32(a.qs + 16 * sb + 0))),
                                                 _mm256_maddubs_epi16(D[i][1], _mm256_set1_epi32(ld32(a.qs + 16 * sb + 4))));
            const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(D[i][2], _mm256_set1_epi32(ld32(a.qs + 16 * sb + 8))),
                                                 _mm256_maddubs_epi16(D[i][3], _mm256_set1_epi32(ld32(a.qs + 16 * sb + 12))));
            __m256i dot = _mm256_add_epi32(_mm256_madd_epi16(p01, ones), _mm256_madd_epi16(p23, ones));
            dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(32 * a.bsums[sb]));
            const __m256i sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(x->sc[sb] + 8 * h)));
            sumi[m] = _mm256_add_epi32(sumi[m], _mm256_mullo_epi32(dot, sc));
          }
        }
      }
      const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(x->d + 8 * h)));
      for (int m = 0; m < MM; m++)
        acc[m][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[m]), _mm256_mul_ps(d, _mm256_set1_ps(acts[m * nb + b].d)),
                                    acc[m][h]);
    }
  }
  for (int m = 0; m < MM; m++) {
    _mm256_storeu_ps(out + m * ldo, acc[m][0]);
    _mm256_storeu_ps(out + m * ldo + 8, acc[m][1]);
  }
}

FL_X16_GEMV(gemv_q4_0x16_q8_0, qs::ActQ8_0, block_q4_0x16, 32, q4_0x16_group)
FL_X16_GEMV(gemv_q8_0x16_q8_0, qs::ActQ8_0, block_q8_0x16, 32, q8_0x16_group)
FL_X16_GEMV(gemv_q4_Kx16_q8_K, block_q8_K, block_q4_Kx16, QK_K, q4_Kx16_group)
FL_X16_GEMV(gemv_q6_Kx16_q8_K, block_q8_K, block_q6_Kx16, QK_K, q6_Kx16_group)
#undef FL_X16_GEMV

void fill_qgemm(QgemmTable& t) {
  FL_IMPL(t, quantize_act_q4_0, avx2);
  FL_IMPL(t, quantize_act_q8_0, avx2);
  FL_IMPL(t, quantize_row_q8_K, avx2);
  FL_IMPL(t, dequantize_row_q4_0, avx2);
  FL_IMPL(t, dequantize_row_q8_0, avx2);
  FL_IMPL(t, dequantize_row_q4_K, avx2);
  FL_IMPL(t, dequantize_row_q5_K, avx2);
  FL_IMPL(t, dequantize_row_q6_K, avx2);
  FL_IMPL(t, dequantize_row_f16, avx2);
  FL_IMPL(t, dequantize_row_bf16, avx2);
  FL_IMPL(t, gemv_q4_0_q8_0, avx2);
  FL_IMPL(t, gemv_q8_0_q8_0, avx2);
  FL_IMPL(t, gemv_q4_K_q8_K, avx2);
  FL_IMPL(t, gemv_q5_K_q8_K, avx2);
  FL_IMPL(t, gemv_q6_K_q8_K, avx2);
  FL_IMPL(t, gemv_f32_f32, avx2);
  FL_IMPL(t, gemv_f16_f32, avx2);
  FL_IMPL(t, gemv_bf16_f32, avx2);
  FL_IMPL(t, gemv_q4_0x16_q8_0, avx2);
  FL_IMPL(t, gemv_q8_0x16_q8_0, avx2);
  FL_IMPL(t, gemv_q4_Kx16_q8_K, avx2);
  FL_IMPL(t, gemv_q6_Kx16_q8_K, avx2);
  FL_IMPL(t, round_bf16_row, avx2);
  fill_gemm_f32(t);  // gemm_f32.cpp
  FL_IMPL(t, gemm_bf16, avx2);
  t.gemm_mb = MB;
  t.gemm_nr = NR;
}

}  // namespace avx2
}  // namespace fuselm
