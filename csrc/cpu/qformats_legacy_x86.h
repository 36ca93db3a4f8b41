// 256-bit decoders of the legacy 32-block formats (csrc/cpu/qformats_legacy.h),
// shared by the AVX2 and AVX-512 GEMV and int8 GEMM panels. Each ISA file includes
// this inside its own namespace, after <immintrin.h> and qformats_legacy.h;
// everything is static inline, so each gets its own copy with its own flags.
//
// A block decodes to 32 bytes: the codes q (Q5_0, Q4_1, Q5_1: unsigned, < 32) or,
// for the table formats, the signed values v(q) (IQ4_NL: [-127, 113], MXFP4:
// [-12, 12]), which the dots take as |v| x sign(a, v) (no maddubs saturation).
#pragma once

// byte j = 0xFF where bit j of x is set (ggml's bytes_from_bits_32 idea)
static inline __m256i lg_bits_to_bytes(uint32_t x) {
  const __m256i shuf = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202,
                                          0x0303030303030303);
  __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
  v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}
template <int F>
static inline __m256i lg_lut(__m256i q) {
  const __m128i t = _mm_load_si128((const __m128i*)lg::table<F>());
  return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(t), q);
}

// the 32 codes (or values) of a plain block, weight j in byte j
template <int F>
static inline __m256i lg_load(const typename lg::Traits<F>::Block* b) {
  const __m128i v = _mm_loadu_si128((const __m128i*)b->qs);
  __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
  if constexpr (lg::Traits<F>::kHigh) {
    uint32_t h;
    std::memcpy(&h, b->qh, 4);
    q = _mm256_or_si256(q, _mm256_and_si256(lg_bits_to_bytes(h), _mm256_set1_epi8(0x10)));
  }
  if constexpr (lg::Traits<F>::kLut) q = lg_lut<F>(q);
  return q;
}
template <int F>
static inline float lg_scale(const typename lg::Traits<F>::Block* b) {
  if constexpr (F == lg::MXFP4) return lg::e8m0_half(b->e);
  else return _cvtsh_ss(b->d);
}
template <int F>
static inline float lg_min(const typename lg::Traits<F>::Block* b) {
  if constexpr (lg::Traits<F>::kMin) return _cvtsh_ss(b->m);
  else return 0.0f;
}

// Repacked block x, 64-byte vector j (dword j of 16 rows: weights 4j..4j+3 in the
// low nibbles, 16+4j.. in the high ones), half h (rows 8h..8h+7): lo / hi get the
// codes (or values) of weights 4j + e and 16 + 4j + e, row r's dword in lane r - 8h.
template <int F>
static inline void lg_load_x16(const typename lg::Traits<F>::X16* x, int j, int h, __m256i* lo, __m256i* hi) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i v = _mm256_loadu_si256((const __m256i*)(x->qs[j] + 32 * h));
  __m256i l = _mm256_and_si256(v, m4), u = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
  if constexpr (lg::Traits<F>::kHigh) {
    // qh byte bit j -> bit 4 (shift left 4 - j), bit 4 + j -> bit 4 (shift right j):
    // within a 16-bit lane neither shift moves a selected bit across the byte boundary
    const __m256i q = _mm256_loadu_si256((const __m256i*)(x->qh + 32 * h));
    const __m256i b4 = _mm256_set1_epi8(0x10);
    l = _mm256_or_si256(l, _mm256_and_si256(_mm256_sll_epi16(q, _mm_cvtsi32_si128(4 - j)), b4));
    u = _mm256_or_si256(u, _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(j)), b4));
  }
  if constexpr (lg::Traits<F>::kLut) {
    l = lg_lut<F>(l);
    u = lg_lut<F>(u);
  }
  *lo = l;
  *hi = u;
}
// the 8 scales / mins of rows 8h..8h+7 of a repacked block
template <int F>
static inline __m256 lg_scales_x16(const typename lg::Traits<F>::X16* x, int h) {
  if constexpr (F == lg::MXFP4) {
    const __m256i e = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(x->e + 8 * h)));
    const __m256i big = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
    const __m256i small = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
    const __m256i isbig = _mm256_cmpgt_epi32(e, _mm256_set1_epi32(1));
    return _mm256_castsi256_ps(_mm256_blendv_epi8(small, big, isbig));
  } else {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(x->d + 8 * h)));
  }
}
template <int F>
static inline __m256 lg_mins_x16(const typename lg::Traits<F>::X16* x, int h) {
  if constexpr (lg::Traits<F>::kMin) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(x->m + 8 * h)));
  else return _mm256_setzero_ps();
}
