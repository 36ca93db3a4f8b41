// The GEMV kernels of the legacy 32-block formats (family `qgemm`), plain and
// repacked, shared by the AVX2 and AVX-512 translation units: each defines
// FL_DPBUSD (acc + the sum of 4 adjacent u8 x s8 products per int32 lane) and
// includes this inside its namespace after qgemv_x86.h's helpers (hsum256) and
// qgemv_x16.h (FL_X16_GEMV), and qformats_legacy_x86.h. Activations: ActQ8_0 (q8_0
// blocks with their sum S; the lane offsets are not used).
//   codes:  I = sum_j q_j a_j - c * S      (c * S enters as the sum's start)
//   tables: I = sum_j |v_j| (sign(v_j) a_j)
//   out += float(I) * (s * d_a) (+ m * d_a * S for Q4_1 / Q5_1)
#pragma once
#ifndef FL_DPBUSD
#error "define FL_DPBUSD before including qgemv_legacy_x86.h"
#endif

template <int F>
static inline __m256i lg_dot32(__m256i acc, __m256i w, __m256i a) {
  if constexpr (lg::Traits<F>::kLut) return FL_DPBUSD(acc, _mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
  else return FL_DPBUSD(acc, w, a);
}

// R rows of a plain matrix (R = 4, or 1 for the tail), every activation row
template <int F, int R>
static inline void lg_rows(float* out, int64_t ldo, const qs::ActQ8_0* acts, int64_t M, int64_t nb,
                           const typename lg::Traits<F>::Block* w, int64_t n) {
  typedef typename lg::Traits<F>::Block B;
  for (int64_t m = 0; m < M; m++) {
    const qs::ActQ8_0* a = acts + m * nb;
    __m256 acc[R];
    float accm[R];
    for (int r = 0; r < R; r++) { acc[r] = _mm256_setzero_ps(); accm[r] = 0; }
    for (int64_t b = 0; b < nb; b++) {
      const __m256i av = _mm256_loadu_si256((const __m256i*)a[b].qs);
      const __m256i start = _mm256_setr_epi32(-lg::Traits<F>::kC * a[b].sum, 0, 0, 0, 0, 0, 0, 0);
      const float da = a[b].d;
      for (int r = 0; r < R; r++) {
        const B* wb = w + r * nb + b;
        if (m == 0) _mm_prefetch((const char*)(wb + 16), _MM_HINT_T0);
        const __m256i p = lg_dot32<F>(start, lg_load<F>(wb), av);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(lg_scale<F>(wb) * da), acc[r]);
        if constexpr (lg::Traits<F>::kMin) accm[r] += lg_min<F>(wb) * (da * (float)a[b].sum);
      }
    }
    for (int r = 0; r < R; r++) out[m * ldo + n + r] = hsum256(acc[r]) + accm[r];
  }
}
template <int F>
static void lg_gemv(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                    int64_t n1) {
  const int64_t nb = K / 32;
  const typename lg::Traits<F>::Block* w = (const typename lg::Traits<F>::Block*)W;
  const qs::ActQ8_0* a = (const qs::ActQ8_0*)acts;
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) lg_rows<F, 4>(out, ldo, a, M, nb, w + n * nb, n);
  for (; n < n1; n++) lg_rows<F, 1>(out, ldo, a, M, nb, w + n * nb, n);
}

// 16 rows of a repacked matrix (two halves of 8, one int32 lane per row), MM
// activation rows per pass: each weight vector decoded once for all of them.
template <int F, int MM>
static inline void lg_x16_group(float* out, int64_t ldo, const qs::ActQ8_0* acts, int64_t nb,
                                const typename lg::Traits<F>::X16* w) {
  __m256 acc[MM][2];
  for (int m = 0; m < MM; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const typename lg::Traits<F>::X16* x = w + b;
    for (int h = 0; h < 2; h++) {
      __m256i lo[4], hi[4];
      for (int j = 0; j < 4; j++) lg_load_x16<F>(x, j, h, &lo[j], &hi[j]);
      const __m256 s = lg_scales_x16<F>(x, h);
      const __m256 mv = lg_mins_x16<F>(x, h);
      for (int m = 0; m < MM; m++) {
        const qs::ActQ8_0* a = acts + m * nb + b;
        int32_t aq[8];
        std::memcpy(aq, a->qs, 32);
        __m256i t = _mm256_set1_epi32(-lg::Traits<F>::kC * a->sum);
        for (int j = 0; j < 4; j++) {
          t = lg_dot32<F>(t, lo[j], _mm256_set1_epi32(aq[j]));
          t = lg_dot32<F>(t, hi[j], _mm256_set1_epi32(aq[4 + j]));
        }
        acc[m][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), _mm256_mul_ps(s, _mm256_set1_ps(a->d)), acc[m][h]);
        if constexpr (lg::Traits<F>::kMin)
          acc[m][h] = _mm256_fmadd_ps(mv, _mm256_set1_ps(a->d * (float)a->sum), acc[m][h]);
      }
    }
  }
  for (int m = 0; m < MM; m++) {
    _mm256_storeu_ps(out + m * ldo, acc[m][0]);
    _mm256_storeu_ps(out + m * ldo + 8, acc[m][1]);
  }
}

// the table entries: dequantize_row_<fmt>, gemv_<fmt>_q8_0, gemv_<fmt>x16_q8_0 (GROUP: the
// ISA's 16-row group kernel, lg_x16_group or a wider one)
#define FL_LG_GEMV_ENTRIES(fmt, F, GROUP)                                                                        \
  static void dequantize_row_##fmt(float* y, const void* x, int64_t n) { lg::dequant<F>(y, x, n); }               \
  static void gemv_##fmt##_q8_0(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W,       \
                                int64_t n0, int64_t n1) {                                                       \
    lg_gemv<F>(o, l, a, M, K, W, n0, n1);                                                                      \
  }                                                                                                             \
  template <int MM>                                                                                             \
  static inline void fmt##x16_group(float* out, int64_t ldo, const qs::ActQ8_0* acts, int64_t nb,              \
                                    const typename lg::Traits<F>::X16* w) {                                    \
    GROUP<F, MM>(out, ldo, acts, nb, w);                                                                       \
  }                                                                                                             \
  FL_X16_GEMV(gemv_##fmt##x16_q8_0, qs::ActQ8_0, typename lg::Traits<F>::X16, 32, fmt##x16_group)
#define FL_LG_FILL_GEMV(t, F, fmt, ns)                                 \
  FL_LEGACY_IMPL(t, F, dequantize_row, dequantize_row_##fmt, ns);      \
  FL_LEGACY_IMPL(t, F, gemv, gemv_##fmt##_q8_0, ns);                   \
  FL_LEGACY_IMPL(t, F, gemv_x16, gemv_##fmt##x16_q8_0, ns)
