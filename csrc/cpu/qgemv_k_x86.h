// The 256-bit GEMV kernels of family `qgemm` for IQ4_XS, Q3_K and Q2_K over the GGUF
// layouts (activations q8_K), shared by the AVX2 and AVX-512 translation units: each
// includes this header inside its own ISA namespace after defining
//   FL_DPWSSD(acc, a16, b16): acc + sum of 2 adjacent s16 x s16 products
// (AVX2: madd + add; AVX-512 VNNI: vpdpwssd). Everything here is static inline.
// R (4, or 1 for the tail) rows of W per pass, the M activation rows inside.
#ifndef FL_DPWSSD
#error "define FL_DPWSSD before including qgemv_k_x86.h"
#endif

static inline float k_hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// 16 bytes -> 32 nibbles, low nibbles first (a sub-block of IQ4_XS in weight order)
static inline __m256i k_nibbles16(const uint8_t* q) {
  const __m128i v = _mm_loadu_si128((const __m128i*)q);
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
}
// per-16 factors as int16 lanes: the low 8 lanes sub-block j, the high 8 sub-block j + 1
static inline __m256i k_pair16(int a, int b) { return _mm256_set_m128i(_mm_set1_epi16((int16_t)b), _mm_set1_epi16((int16_t)a)); }

// IQ4_XS: the levels by one byte shuffle, |q| x sign(a, q) (a pair <= 2 * 127 * 127),
// times the sub-block's ls - 32 as 16-bit factors.
template <int R>
static inline void iq4_xs_rows(float* out, int64_t ldo, const block_q8_K* acts, int64_t M, int64_t nb,
                               const block_iq4_xs* w, int64_t n) {
  const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)kIq4nlValues));
  for (int64_t m = 0; m < M; m++) {
    const block_q8_K* a = acts + m * nb;
    __m256 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
      for (int r = 0; r < R; r++) {
        const block_iq4_xs* wb = w + r * nb + b;
        if (m == 0) _mm_prefetch((const char*)(wb + 4), _MM_HINT_T0);
        int8_t sc[8];
        qs::unpack_scales_iq4_xs(*wb, sc);
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
          const __m256i q = _mm256_shuffle_epi8(lut, k_nibbles16(wb->qs + 16 * j));
          const __m256i av = _mm256_loadu_si256((const __m256i*)(a[b].qs + 32 * j));
          const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(q), _mm256_sign_epi8(av, q));
          sumi = FL_DPWSSD(sumi, p, _mm256_set1_epi16(sc[j]));
        }
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(fp16_to_fp32(wb->d) * a[b].d), acc[r]);
      }
    }
    for (int r = 0; r < R; r++) out[m * ldo + n + r] = k_hsum256(acc[r]);
  }
}

// Q3_K / Q2_K: 32 consecutive codes per (half h, group g) from qs[32h..] >> 2g (and Q3_K's
// hmask bit 4h + g as bit 2): weights 128h + 32g + l, sub-blocks 8h + 2g and 8h + 2g + 1.
// Q3_K: codes 0..7 standing for q - 4, the offset through the bsums; Q2_K: codes 0..3, the
// mins through the bsums.
template <int R, bool Q3>
static inline void qk2_rows(float* out, int64_t ldo, const block_q8_K* acts, int64_t M, int64_t nb, const void* W,
                            int64_t n) {
  const size_t wbytes = Q3 ? sizeof(block_q3_K) : sizeof(block_q2_K);
  const __m256i m2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  for (int64_t m = 0; m < M; m++) {
    const block_q8_K* a = acts + m * nb;
    __m256 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
      const __m256i bs = _mm256_loadu_si256((const __m256i*)a[b].bsums);
      for (int r = 0; r < R; r++) {
        const uint8_t* blk = (const uint8_t*)W + (size_t)(r * nb + b) * wbytes;
        if (m == 0) _mm_prefetch((const char*)(blk + 4 * wbytes), _MM_HINT_T0);
        const block_q3_K* x3 = (const block_q3_K*)blk;
        const block_q2_K* x2 = (const block_q2_K*)blk;
        const uint8_t* qsp = Q3 ? x3->qs : x2->qs;
        int8_t sc3[16];
        if (Q3) qs::unpack_scales_q3_K(x3->scales, sc3);
        const __m256i hm = Q3 ? _mm256_loadu_si256((const __m256i*)x3->hmask) : _mm256_setzero_si256();
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
          const __m256i q = _mm256_loadu_si256((const __m256i*)(qsp + 32 * h));
          for (int g = 0; g < 4; g++) {
            __m256i c = _mm256_and_si256(_mm256_srli_epi16(q, 2 * g), m2);
            if (Q3) c = _mm256_or_si256(c, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + g), one), 2));
            const int j = 8 * h + 2 * g;
            const __m256i s = Q3 ? k_pair16(sc3[j], sc3[j + 1]) : k_pair16(x2->scales[j] & 0xF, x2->scales[j + 1] & 0xF);
            const __m256i av = _mm256_loadu_si256((const __m256i*)(a[b].qs + 128 * h + 32 * g));
            sumi = FL_DPWSSD(sumi, _mm256_maddubs_epi16(c, av), s);
          }
        }
        const float da = a[b].d;
        if (Q3) {
          // -4 * sum_j sc_j * bsums_j
          const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)sc3));
          sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 2));
          acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(fp16_to_fp32(x3->d) * da), acc[r]);
        } else {
          const __m128i s8 = _mm_loadu_si128((const __m128i*)x2->scales);
          const __m256i m16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s8, 4), _mm_set1_epi8(0x0F)));
          const __m256i summ = _mm256_madd_epi16(bs, m16);
          acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(fp16_to_fp32(x2->d) * da), acc[r]);
          acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_set1_ps(fp16_to_fp32(x2->dmin) * da), acc[r]);
        }
      }
    }
    for (int r = 0; r < R; r++) out[m * ldo + n + r] = k_hsum256(acc[r]);
  }
}

static void gemv_iq4_xs_q8_K(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W,
                             int64_t n0, int64_t n1) {
  const int64_t nb = K / QK_K;
  const block_iq4_xs* w = (const block_iq4_xs*)W;
  const block_q8_K* a = (const block_q8_K*)acts;
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) iq4_xs_rows<4>(out, ldo, a, M, nb, w + n * nb, n);
  for (; n < n1; n++) iq4_xs_rows<1>(out, ldo, a, M, nb, w + n * nb, n);
}
static void gemv_q3_K_q8_K(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  const int64_t nb = K / QK_K;
  const block_q3_K* w = (const block_q3_K*)W;
  const block_q8_K* a = (const block_q8_K*)acts;
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) qk2_rows<4, true>(out, ldo, a, M, nb, w + n * nb, n);
  for (; n < n1; n++) qk2_rows<1, true>(out, ldo, a, M, nb, w + n * nb, n);
}
static void gemv_q2_K_q8_K(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  const int64_t nb = K / QK_K;
  const block_q2_K* w = (const block_q2_K*)W;
  const block_q8_K* a = (const block_q8_K*)acts;
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) qk2_rows<4, false>(out, ldo, a, M, nb, w + n * nb, n);
  for (; n < n1; n++) qk2_rows<1, false>(out, ldo, a, M, nb, w + n * nb, n);
}
