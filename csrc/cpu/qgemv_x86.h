// The 256-bit integer GEMV kernels of family `qgemm`, shared by the AVX2 and
// AVX-512 translation units. Each includes this header inside its own ISA
// namespace after defining the two products it has:
//   FL_DPBUSD(acc, u8, s8): acc + sum of 4 adjacent u8 x s8 products (int32 lanes)
//   FL_DPWSSD(acc, a16, b16): acc + sum of 2 adjacent s16 x s16 products
// (AVX2: maddubs + madd; AVX-512 VNNI: vpdpbusd / vpdpwssd). Everything here is
// static inline, so each translation unit gets its own copy.
//
// Each kernel handles R (4, or 1 for the tail) rows of W per pass so that the
// activation block loaded once feeds R rows, and loops over the M activation
// rows inside (W rows stay in L1 across them for M <= 8).
#ifndef FL_DPBUSD
#error "define FL_DPBUSD and FL_DPWSSD before including qgemv_x86.h"
#endif

static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

static inline __m256i unpack_nibbles16(const uint8_t* q) {  // 16 bytes -> 32 values, low nibbles first
  const __m128i v = _mm_loadu_si128((const __m128i*)q);
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
}

template <int R>
static inline void q4_0_rows(float* out, int64_t ldo, const qs::ActQ8_0* acts, int64_t M, int64_t nb,
                             const block_q4_0* w, int64_t n) {
  for (int64_t m = 0; m < M; m++) {
    const qs::ActQ8_0* a = acts + m * nb;
    __m256 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
      const __m256i av = _mm256_loadu_si256((const __m256i*)a[b].qs);
      const __m256i off = _mm256_loadu_si256((const __m256i*)a[b].off);
      const float da = a[b].d;
      for (int r = 0; r < R; r++) {
        const block_q4_0* wb = w + r * nb + b;
        if (m == 0) _mm_prefetch((const char*)(wb + 16), _MM_HINT_T0);
        const __m256i p = FL_DPBUSD(off, unpack_nibbles16(wb->qs), av);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half_to_float(wb->d) * da), acc[r]);
      }
    }
    for (int r = 0; r < R; r++) out[m * ldo + n + r] = hsum256(acc[r]);
  }
}

static void gemv_q4_0_q8_0(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  const int64_t nb = K / 32;
  const block_q4_0* w = (const block_q4_0*)W;
  const qs::ActQ8_0* a = (const qs::ActQ8_0*)acts;
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) q4_0_rows<4>(out, ldo, a, M, nb, w + n * nb, n);
  for (; n < n1; n++) q4_0_rows<1>(out, ldo, a, M, nb, w + n * nb, n);
}

template <int R>
static inline void q8_0_rows(float* out, int64_t ldo, const qs::ActQ8_0* acts, int64_t M, int64_t nb,
                             const block_q8_0* w, int64_t n) {
  for (int64_t m = 0; m < M; m++) {
    const qs::ActQ8_0* a = acts + m * nb;
    __m256 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
      const __m256i av = _mm256_loadu_si256((const __m256i*)a[b].qs);
      const float da = a[b].d;
      for (int r = 0; r < R; r++) {
        const block_q8_0* wb = w + r * nb + b;
        if (m == 0) _mm_prefetch((const char*)(wb + 8), _MM_HINT_T0);
        const __m256i wv = _mm256_loadu_si256((const __m256i*)wb->qs);
        // |w| x sign(a, w): the unsigned x signed product without saturation
        const __m256i p = FL_DPBUSD(_mm256_setzero_si256(), _mm256_abs_epi8(wv), _mm256_sign_epi8(av, wv));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half_to_float(wb->d) * da), acc[r]);
      }
    }
    for (int r = 0; r < R; r++) out[m * ldo + n + r] = hsum256(acc[r]);
  }
}

static void gemv_q8_0_q8_0(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  const int64_t nb = K / 32;
  const block_q8_0* w = (const block_q8_0*)W;
  const qs::ActQ8_0* a = (const qs::ActQ8_0*)acts;
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) q8_0_rows<4>(out, ldo, a, M, nb, w + n * nb, n);
  for (; n < n1; n++) q8_0_rows<1>(out, ldo, a, M, nb, w + n * nb, n);
}

// q4_K / q5_K: sum_j sc[j] * (q_j . a_j) with the scales as 16-bit factors of
// the maddubs pairs, and the mins through the activation's bsums.
template <int R, bool Q5>
static inline void qk4_rows(float* out, int64_t ldo, const block_q8_K* acts, int64_t M, int64_t nb, const void* W,
                            int64_t n) {
  const size_t wbytes = Q5 ? sizeof(block_q5_K) : sizeof(block_q4_K);
  const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  for (int64_t m = 0; m < M; m++) {
    const block_q8_K* a = acts + m * nb;
    __m256 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
      const __m256i bs = _mm256_loadu_si256((const __m256i*)a[b].bsums);
      for (int r = 0; r < R; r++) {
        const uint8_t* blk = (const uint8_t*)W + ((size_t)(r * nb + b)) * wbytes;
        if (m == 0) _mm_prefetch((const char*)(blk + 4 * wbytes), _MM_HINT_T0);
        // both formats start with d, dmin, scales[12]
        const block_q4_K* h = (const block_q4_K*)blk;
        const uint8_t* qs4 = Q5 ? ((const block_q5_K*)blk)->qs : h->qs;
        uint64_t sc8, m8;
        qs::unpack_scales_k4_u64(h->scales, &sc8, &m8);
        __m256i sumi = _mm256_setzero_si256();
        __m256i qh = Q5 ? _mm256_loadu_si256((const __m256i*)((const block_q5_K*)blk)->qh) : _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
          const __m256i q = _mm256_loadu_si256((const __m256i*)(qs4 + 32 * c));
          __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
          if (Q5) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(qh, one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4));
            qh = _mm256_srli_epi16(qh, 2);
          }
          const __m256i a0 = _mm256_loadu_si256((const __m256i*)(a[b].qs + 64 * c));
          const __m256i a1 = _mm256_loadu_si256((const __m256i*)(a[b].qs + 64 * c + 32));
          const __m256i s0 = _mm256_set1_epi16((int16_t)((sc8 >> (16 * c)) & 0xFF));
          const __m256i s1 = _mm256_set1_epi16((int16_t)((sc8 >> (16 * c + 8)) & 0xFF));
          sumi = FL_DPWSSD(sumi, _mm256_maddubs_epi16(lo, a0), s0);
          sumi = FL_DPWSSD(sumi, _mm256_maddubs_epi16(hi, a1), s1);
        }
        // mins: m[j] against bsums[2j] + bsums[2j + 1]
        const __m128i mb = _mm_cvtsi64_si128((long long)m8);
        const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mb, mb));
        const __m256i summ = _mm256_madd_epi16(bs, m16);
        const float d = half_to_float(h->d) * a[b].d, dmin = half_to_float(h->dmin) * a[b].d;
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d), acc[r]);
        acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_set1_ps(dmin), acc[r]);
      }
    }
    for (int r = 0; r < R; r++) out[m * ldo + n + r] = hsum256(acc[r]);
  }
}

static void gemv_q4_K_q8_K(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  const int64_t nb = K / QK_K;
  const block_q4_K* w = (const block_q4_K*)W;
  const block_q8_K* a = (const block_q8_K*)acts;
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) qk4_rows<4, false>(out, ldo, a, M, nb, w + n * nb, n);
  for (; n < n1; n++) qk4_rows<1, false>(out, ldo, a, M, nb, w + n * nb, n);
}
static void gemv_q5_K_q8_K(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  const int64_t nb = K / QK_K;
  const block_q5_K* w = (const block_q5_K*)W;
  const block_q8_K* a = (const block_q8_K*)acts;
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) qk4_rows<4, true>(out, ldo, a, M, nb, w + n * nb, n);
  for (; n < n1; n++) qk4_rows<1, true>(out, ldo, a, M, nb, w + n * nb, n);
}

// q6_K: 6-bit q in [0, 63] (standing for q - 32) with int8 scales per 16 weights.
template <int R>
static inline void q6_K_rows(float* out, int64_t ldo, const block_q8_K* acts, int64_t M, int64_t nb,
                             const block_q6_K* w, int64_t n) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
  // pair t of 16-weight sub-blocks (2t, 2t + 1) -> byte indices for pshufb per 128-bit lane
  for (int64_t m = 0; m < M; m++) {
    const block_q8_K* a = acts + m * nb;
    __m256 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
      const __m256i bs = _mm256_loadu_si256((const __m256i*)a[b].bsums);
      for (int r = 0; r < R; r++) {
        const block_q6_K* wb = w + r * nb + b;
        if (m == 0) _mm_prefetch((const char*)(wb + 4), _MM_HINT_T0);
        const __m128i sc8 = _mm_loadu_si128((const __m128i*)wb->scales);
        const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        __m256i sumi = _mm256_setzero_si256();
        for (int hh = 0; hh < 2; hh++) {
          const __m256i ql0 = _mm256_loadu_si256((const __m256i*)(wb->ql + 64 * hh));
          const __m256i ql1 = _mm256_loadu_si256((const __m256i*)(wb->ql + 64 * hh + 32));
          const __m256i qh = _mm256_loadu_si256((const __m256i*)(wb->qh + 32 * hh));
          __m256i q[4];
          q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
          q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                 _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
          q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                 _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
          q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                 _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
          for (int k = 0; k < 4; k++) {
            const int j = 8 * hh + 2 * k;  // sub-blocks j (low 16 bytes) and j + 1 (high 16 bytes)
            const __m256i s = _mm256_set_m128i(_mm_set1_epi16(wb->scales[j + 1]), _mm_set1_epi16(wb->scales[j]));
            const __m256i av = _mm256_loadu_si256((const __m256i*)(a[b].qs + 128 * hh + 32 * k));
            sumi = FL_DPWSSD(sumi, _mm256_maddubs_epi16(q[k], av), s);
          }
        }
        // the -32 offset: -32 * sum_j sc[j] * bsums[j]
        const __m256i corr = _mm256_madd_epi16(bs, sc16);
        sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(corr, 5));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(half_to_float(wb->d) * a[b].d), acc[r]);
      }
    }
    for (int r = 0; r < R; r++) out[m * ldo + n + r] = hsum256(acc[r]);
  }
}

static void gemv_q6_K_q8_K(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                           int64_t n1) {
  const int64_t nb = K / QK_K;
  const block_q6_K* w = (const block_q6_K*)W;
  const block_q8_K* a = (const block_q8_K*)acts;
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) q6_K_rows<4>(out, ldo, a, M, nb, w + n * nb, n);
  for (; n < n1; n++) q6_K_rows<1>(out, ldo, a, M, nb, w + n * nb, n);
}
