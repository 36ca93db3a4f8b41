// The W panel packer of the int8 GEMM (family `qgemm`), shared by the AVX2 and
// AVX-512 translation units: each includes it inside its own ISA namespace (every
// function here is static inline, so each gets its own copy with its own flags).
//
// A panel of NRP W rows (rows past nr are zero) is laid out for a broadcast
// 4-byte activation group to feed NRP rows in one integer dot instruction:
//   codes  [nb][8 groups g][NRP rows][4 bytes]   u of weights 4g..4g+3 of each 32-block
//   floats [nb][2][NRP]                          s0, then s1 (q6_K) or mn (q4_K, q5_K)
// Codes and factors as in csrc/cpu/qgemm_i8.h; Q8OFF is q8_0's code offset (0: the
// signed value, 128: value + 128).
enum I8Fmt { I8_Q4_0 = 0, I8_Q8_0 = 1, I8_Q4_K = 2, I8_Q5_K = 3, I8_Q6_K = 4, I8_Q4_0X16 = 5, I8_Q8_0X16 = 6,
             I8_Q4_KX16 = 7, I8_Q6_KX16 = 8,
             // decoded by the scalar 32-block decoders of csrc/cpu/qformats_k.h (i8_pack_panel_qk)
             I8_IQ4_XS = 20, I8_Q3_K = 21, I8_IQ4_XSX16 = 22, I8_Q3_KX16 = 23, I8_Q2_K = 24, I8_Q2_KX16 = 25 };
template <int FMT>
constexpr bool i8_is_qk() { return FMT >= I8_IQ4_XS && FMT <= I8_Q2_KX16; }
// Q2_K's panel: the codes and s0, s1 as the others, then its mins [nb][2][NRP] after the factors
template <int FMT>
constexpr bool i8_is_q2k() { return FMT == I8_Q2_K || FMT == I8_Q2_KX16; }

// rows r0..r0+7 of 32-block b: v[i] holds row r0 + i's 32 codes (8 dwords, dword g =
// codes 4g..4g+3); an 8 x 8 dword transpose makes one 32-byte store per group g.
template <int NRP>
static inline void i8_put_rows8(uint8_t* wp, int64_t b, int64_t r0, const __m256i* v) {
  const __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
  const __m256i t4 = _mm256_unpacklo_epi32(v[4], v[5]), t5 = _mm256_unpackhi_epi32(v[4], v[5]);
  const __m256i t6 = _mm256_unpacklo_epi32(v[6], v[7]), t7 = _mm256_unpackhi_epi32(v[6], v[7]);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
  const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
  uint8_t* dst = wp + b * 32 * NRP + r0 * 4;
  _mm256_storeu_si256((__m256i*)(dst + 0 * 4 * NRP), _mm256_permute2x128_si256(u0, u4, 0x20));
  _mm256_storeu_si256((__m256i*)(dst + 1 * 4 * NRP), _mm256_permute2x128_si256(u1, u5, 0x20));
  _mm256_storeu_si256((__m256i*)(dst + 2 * 4 * NRP), _mm256_permute2x128_si256(u2, u6, 0x20));
  _mm256_storeu_si256((__m256i*)(dst + 3 * 4 * NRP), _mm256_permute2x128_si256(u3, u7, 0x20));
  _mm256_storeu_si256((__m256i*)(dst + 4 * 4 * NRP), _mm256_permute2x128_si256(u0, u4, 0x31));
  _mm256_storeu_si256((__m256i*)(dst + 5 * 4 * NRP), _mm256_permute2x128_si256(u1, u5, 0x31));
  _mm256_storeu_si256((__m256i*)(dst + 6 * 4 * NRP), _mm256_permute2x128_si256(u2, u6, 0x31));
  _mm256_storeu_si256((__m256i*)(dst + 7 * 4 * NRP), _mm256_permute2x128_si256(u3, u7, 0x31));
}

// One unit (a 32-block for q4_0 / q8_0, a 256-super-block for the K-quants) of one row:
// codes of its BPU 32-blocks into v[j * 8] and the factors into fl for row r.
template <int NRP, int FMT, int Q8OFF>
static inline void i8_decode_unit(const uint8_t* src, int64_t u, int64_t r, __m256i* v, float* fl) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03), one = _mm256_set1_epi8(1);
  if (FMT == I8_Q4_0) {
    const block_q4_0* x = (const block_q4_0*)src;
    const __m128i q = _mm_loadu_si128((const __m128i*)x->qs);
    v[0] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), m4);
    fl[(2 * u) * NRP + r] = fp16_to_fp32(x->d);
  } else if (FMT == I8_Q8_0) {
    const block_q8_0* x = (const block_q8_0*)src;
    v[0] = _mm256_loadu_si256((const __m256i*)x->qs);
    if (Q8OFF == 128) v[0] = _mm256_xor_si256(v[0], _mm256_set1_epi8((char)0x80));
    fl[(2 * u) * NRP + r] = fp16_to_fp32(x->d);
  } else if (FMT == I8_Q4_K || FMT == I8_Q5_K) {
    const bool q5 = FMT == I8_Q5_K;
    const block_q4_K* h = (const block_q4_K*)src;  // both start with d, dmin, scales[12]
    const uint8_t* qs = q5 ? ((const block_q5_K*)src)->qs : h->qs;
    uint8_t sc[8], mn[8];
    qs::unpack_scales_k4(h->scales, sc, mn);
    const float d = fp16_to_fp32(h->d), dmin = fp16_to_fp32(h->dmin);
    __m256i qh = q5 ? _mm256_loadu_si256((const __m256i*)((const block_q5_K*)src)->qh) : _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
      const __m256i q = _mm256_loadu_si256((const __m256i*)(qs + 32 * c));
      __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if (q5) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(qh, one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4));
        qh = _mm256_srli_epi16(qh, 2);
      }
      v[(2 * c) * 8] = lo;
      v[(2 * c + 1) * 8] = hi;
      for (int e = 0; e < 2; e++) {
        const int64_t b = 8 * u + 2 * c + e;
        fl[(2 * b) * NRP + r] = d * (float)sc[2 * c + e];
        fl[(2 * b + 1) * NRP + r] = dmin * (float)mn[2 * c + e];
      }
    }
  } else {  // I8_Q6_K
    const block_q6_K* x = (const block_q6_K*)src;
    const float d = fp16_to_fp32(x->d);
    for (int hh = 0; hh < 2; hh++) {
      const __m256i ql0 = _mm256_loadu_si256((const __m256i*)(x->ql + 64 * hh));
      const __m256i ql1 = _mm256_loadu_si256((const __m256i*)(x->ql + 64 * hh + 32));
      const __m256i qh = _mm256_loadu_si256((const __m256i*)(x->qh + 32 * hh));
      v[(4 * hh + 0) * 8] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
      v[(4 * hh + 1) * 8] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
      v[(4 * hh + 2) * 8] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
      v[(4 * hh + 3) * 8] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
      for (int grp = 0; grp < 4; grp++) {
        const int64_t b = 8 * u + 4 * hh + grp;
        fl[(2 * b) * NRP + r] = d * (float)x->scales[8 * hh + 2 * grp];
        fl[(2 * b + 1) * NRP + r] = d * (float)x->scales[8 * hh + 2 * grp + 1];
      }
    }
  }
}

// Unit-major: for each unit, 8 rows at a time decoded into registers / an L1 buffer
// and transposed into the panel, so the writes of one unit stay in L1 while the
// rows are read as NRP streams. NRP is a multiple of 8.
// Q4_0X16 / Q8_0X16 (nr a multiple of 16): a repacked block already holds 4 weights of
// 16 rows per 64 bytes, so each is a copy into the panel (nibbles split for Q4_0X16).
// Q4_KX16 / Q6_KX16 super-block sb of 16-row group grp: codes by 64-byte vectors (as
// two 32-byte halves), factors as 16 rows at once (the same f32 products as the
// plain formats' decode).
template <int NRP, int FMT>
static inline void i8_pack_kx16(const void* W, int64_t grp, int64_t sb, int64_t nb, uint8_t* wp, float* fl) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
  if (FMT == I8_Q4_KX16) {
    const block_q4_Kx16* x = (const block_q4_Kx16*)W + grp * (nb / 8) + sb;
    for (int c = 0; c < 4; c++)
      for (int g = 0; g < 8; g++)
        for (int h = 0; h < 2; h++) {
          const __m256i v = _mm256_loadu_si256((const __m256i*)(x->qs[c][g] + 32 * h));
          const int64_t b = 8 * sb + 2 * c;
          uint8_t* dst = wp + b * 32 * NRP + g * 4 * NRP + grp * 64 + 32 * h;
          _mm256_storeu_si256((__m256i*)dst, _mm256_and_si256(v, m4));
          _mm256_storeu_si256((__m256i*)(dst + 32 * NRP), _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
        }
    for (int h = 0; h < 2; h++) {
      const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(x->d + 8 * h)));
      const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(x->dmin + 8 * h)));
      for (int j = 0; j < 8; j++) {
        const __m256 sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(x->sc[j] + 8 * h))));
        const __m256 mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(x->m[j] + 8 * h))));
        const int64_t b = 8 * sb + j;
        _mm256_storeu_ps(fl + 2 * b * NRP + grp * 16 + 8 * h, _mm256_mul_ps(d, sc));
        _mm256_storeu_ps(fl + (2 * b + 1) * NRP + grp * 16 + 8 * h, _mm256_mul_ps(dmin, mn));
      }
    }
  } else {
    const block_q6_Kx16* x = (const block_q6_Kx16*)W + grp * (nb / 8) + sb;
    for (int t = 0; t < 64; t++)  // dword t of the 256 weights: 32-block t / 8, group t % 8
      for (int h = 0; h < 2; h++) {
        const __m256i l = _mm256_loadu_si256((const __m256i*)(x->q[t % 16][(t % 32) / 16] + 32 * h));
        const __m256i q = _mm256_loadu_si256((const __m256i*)(x->q[t % 16][2] + 32 * h));
        const __m256i lo = t < 32 ? _mm256_and_si256(l, m4) : _mm256_and_si256(_mm256_srli_epi16(l, 4), m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 2 * (t / 16)), m2);
        const int64_t b = 8 * sb + t / 8;
        _mm256_storeu_si256((__m256i*)(wp + b * 32 * NRP + (t % 8) * 4 * NRP + grp * 64 + 32 * h),
                            _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)));
      }
    for (int h = 0; h < 2; h++) {
      const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(x->d + 8 * h)));
      for (int s = 0; s < 16; s++) {
        const __m256 sc = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(x->sc[s] + 8 * h))));
        const int64_t b = 8 * sb + s / 2;
        _mm256_storeu_ps(fl + (2 * b + (s & 1)) * NRP + grp * 16 + 8 * h, _mm256_mul_ps(d, sc));
      }
    }
  }
}

template <int NRP, int FMT, int Q8OFF>
static void i8_pack_panel_x16(const void* W, int64_t nr, int64_t nb, uint8_t* wp) {
  float* fl = (float*)(wp + nb * 32 * NRP);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  if (FMT == I8_Q4_KX16 || FMT == I8_Q6_KX16) {
    for (int64_t grp = 0; grp < nr / 16; grp++)
      for (int64_t sb = 0; sb < nb / 8; sb++) i8_pack_kx16<NRP, FMT>(W, grp, sb, nb, wp, fl);
    return;
  }
  for (int64_t grp = 0; grp < nr / 16; grp++)
    for (int64_t b = 0; b < nb; b++) {
      uint8_t* dst = wp + b * 32 * NRP + grp * 64;
      const fl_half* d;
      if (FMT == I8_Q4_0X16) {
        const block_q4_0x16* x = (const block_q4_0x16*)W + grp * nb + b;
        d = x->d;
        for (int j = 0; j < 4; j++)
          for (int h = 0; h < 2; h++) {
            const __m256i v = _mm256_loadu_si256((const __m256i*)(x->qs[j] + 32 * h));
            _mm256_storeu_si256((__m256i*)(dst + j * 4 * NRP + 32 * h), _mm256_and_si256(v, m4));
            _mm256_storeu_si256((__m256i*)(dst + (4 + j) * 4 * NRP + 32 * h),
                                _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
          }
      } else {
        const block_q8_0x16* x = (const block_q8_0x16*)W + grp * nb + b;
        d = x->d;
        for (int j = 0; j < 8; j++)
          for (int h = 0; h < 2; h++) {
            __m256i v = _mm256_loadu_si256((const __m256i*)(x->qs[j] + 32 * h));
            if (Q8OFF == 128) v = _mm256_xor_si256(v, _mm256_set1_epi8((char)0x80));
            _mm256_storeu_si256((__m256i*)(dst + j * 4 * NRP + 32 * h), v);
          }
      }
      for (int h = 0; h < 2; h++)
        _mm256_storeu_ps(fl + 2 * b * NRP + grp * 16 + 8 * h, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(d + 8 * h))));
    }
}

template <int NRP, int FMT, int Q8OFF>
static void i8_pack_panel_rows(const void* W, int64_t nr, int64_t nb, uint8_t* wp) {
  constexpr int BPU = (FMT == I8_Q4_0 || FMT == I8_Q8_0) ? 1 : 8;
  const size_t ub = FMT == I8_Q4_0   ? sizeof(block_q4_0)
                    : FMT == I8_Q8_0 ? sizeof(block_q8_0)
                    : FMT == I8_Q4_K ? sizeof(block_q4_K)
                    : FMT == I8_Q5_K ? sizeof(block_q5_K)
                                     : sizeof(block_q6_K);
  const int64_t nu = nb / BPU;
  const size_t rb = (size_t)nu * ub;
  float* fl = (float*)(wp + nb * 32 * NRP);
  if (nr < NRP) std::memset(wp, 0, (size_t)nb * NRP * 40);
  __m256i v[BPU * 8];
  for (int64_t u = 0; u < nu; u++) {
    for (int64_t r0 = 0; r0 < nr; r0 += 8) {
      for (int i = 0; i < 8; i++) {
        if (r0 + i < nr) {
          i8_decode_unit<NRP, FMT, Q8OFF>((const uint8_t*)W + (size_t)(r0 + i) * rb + (size_t)u * ub, u, r0 + i, v + i, fl);
        } else {
          for (int j = 0; j < BPU; j++) v[j * 8 + i] = _mm256_setzero_si256();
        }
      }
      for (int j = 0; j < BPU; j++) i8_put_rows8<NRP>(wp, u * BPU + j, r0, v + j * 8);
    }
  }
}
// the legacy 32-block formats' packer (Q5_0, Q4_1, Q5_1, IQ4_NL, MXFP4)
#include "cpu/qformats_legacy_x86.h"
#include "cpu/qgemm_i8_legacy_x86.h"
// IQ4_XS / Q3_K and their x16 forms: each row's 32-blocks through the scalar decoder
// (qi8::Block: codes u, factors s0, s1), stored in the panel's layout (rows past nr zero).
template <int NRP, int FMT, int Q8OFF>
static void i8_pack_panel_qk(const void* W, int64_t nr, int64_t nb, uint8_t* wp) {
  float* fl = (float*)(wp + nb * 32 * NRP);
  float* mins = fl + nb * 2 * NRP;
  if (nr < NRP) std::memset(wp, 0, (size_t)nb * NRP * 48);
  const size_t rb = (size_t)(nb / 8) * (FMT == I8_IQ4_XS ? sizeof(block_iq4_xs) : FMT == I8_Q3_K ? sizeof(block_q3_K) : sizeof(block_q2_K));
  qi8::Block o;
  float mn[2];
  for (int64_t r = 0; r < nr; r++)
    for (int64_t b = 0; b < nb; b++) {
      if (FMT == I8_IQ4_XS) qi8::decode_iq4_xs((const uint8_t*)W + r * rb, b, &o, Q8OFF);
      else if (FMT == I8_Q3_K) qi8::decode_q3_K((const uint8_t*)W + r * rb, b, &o);
      else if (FMT == I8_IQ4_XSX16) qi8::decode_iq4_xsx16(W, r, nb, b, &o, Q8OFF);
      else if (FMT == I8_Q3_KX16) qi8::decode_q3_Kx16(W, r, nb, b, &o);
      else if (FMT == I8_Q2_K) qi8::decode_q2_K((const uint8_t*)W + r * rb, b, &o, mn);
      else qi8::decode_q2_Kx16(W, r, nb, b, &o, mn);
      if (i8_is_q2k<FMT>()) {
        mins[2 * b * NRP + r] = mn[0];
        mins[(2 * b + 1) * NRP + r] = mn[1];
      }
      uint8_t* dst = wp + b * 32 * NRP + r * 4;
      for (int g = 0; g < 8; g++)
        for (int e = 0; e < 4; e++) dst[g * 4 * NRP + e] = (uint8_t)o.u[4 * g + e];
      fl[2 * b * NRP + r] = o.s[0];
      fl[(2 * b + 1) * NRP + r] = o.s[1];
    }
}

// The panel of nr rows of W (whole 16-row groups for the repacked formats).
template <int NRP, int FMT, int Q8OFF>
static void i8_pack_panel(const void* W, int64_t nr, int64_t nb, uint8_t* wp) {
  if constexpr (i8_is_legacy<FMT>()) {
    i8_pack_legacy<NRP, FMT, Q8OFF>(W, nr, nb, wp);
  } else if constexpr (i8_is_qk<FMT>()) {
    i8_pack_panel_qk<NRP, FMT, Q8OFF>(W, nr, nb, wp);
  } else if constexpr (FMT == I8_Q4_0X16 || FMT == I8_Q8_0X16 || FMT == I8_Q4_KX16 || FMT == I8_Q6_KX16) {
    if (nr < NRP) std::memset(wp, 0, (size_t)nb * NRP * 40);
    i8_pack_panel_x16<NRP, FMT, Q8OFF>(W, nr, nb, wp);
  } else {
    i8_pack_panel_rows<NRP, FMT, Q8OFF>(W, nr, nb, wp);
  }
}

// The int8 GEMM's table entries, one per W format, and the fill function: each ISA file
// defines gemm_panel<FMT> (its tiles), MR and NRP, then expands this once inside its
// namespace with that namespace's name and its q8_0 code offset.
#define FL_I8_ENTRY(name, FMT)                                                                              \
  static void name(float* C, int64_t ldc, const int8_t* qa, const I8ActMeta* meta, int64_t M, int64_t K, \
                   const void* W, int64_t nr, void* scratch) {                                              \
    gemm_panel<FMT>(C, ldc, qa, meta, M, K, W, nr, scratch);                                                \
  }
#define FL_QGEMM_I8_ENTRIES(ISA, Q8OFF)               \
  FL_I8_ENTRY(gemm_q4_0_q8_0, I8_Q4_0)                \
  FL_I8_ENTRY(gemm_q8_0_q8_0, I8_Q8_0)                \
  FL_I8_ENTRY(gemm_q4_K_q8_K, I8_Q4_K)                \
  FL_I8_ENTRY(gemm_q5_K_q8_K, I8_Q5_K)                \
  FL_I8_ENTRY(gemm_q6_K_q8_K, I8_Q6_K)                \
  FL_I8_ENTRY(gemm_q4_0x16_q8_0, I8_Q4_0X16)          \
  FL_I8_ENTRY(gemm_q8_0x16_q8_0, I8_Q8_0X16)          \
  FL_I8_ENTRY(gemm_q4_Kx16_q8_K, I8_Q4_KX16)          \
  FL_I8_ENTRY(gemm_q6_Kx16_q8_K, I8_Q6_KX16)          \
  FL_I8_ENTRY(gemm_iq4_xs_q8_K, I8_IQ4_XS)           \
  FL_I8_ENTRY(gemm_q3_K_q8_K, I8_Q3_K)               \
  FL_I8_ENTRY(gemm_iq4_xsx16_q8_K, I8_IQ4_XSX16)     \
  FL_I8_ENTRY(gemm_q3_Kx16_q8_K, I8_Q3_KX16)         \
  FL_I8_ENTRY(gemm_q2_K_q8_K, I8_Q2_K)               \
  FL_I8_ENTRY(gemm_q2_Kx16_q8_K, I8_Q2_KX16)         \
  void fill_qgemm_i8(QgemmTable& t) {                 \
    FL_IMPL(t, gemm_q4_0_q8_0, ISA);                  \
    FL_IMPL(t, gemm_q8_0_q8_0, ISA);                  \
    FL_IMPL(t, gemm_q4_K_q8_K, ISA);                  \
    FL_IMPL(t, gemm_q5_K_q8_K, ISA);                  \
    FL_IMPL(t, gemm_q6_K_q8_K, ISA);                  \
    FL_IMPL(t, gemm_q4_0x16_q8_0, ISA);               \
    FL_IMPL(t, gemm_q8_0x16_q8_0, ISA);               \
    FL_IMPL(t, gemm_q4_Kx16_q8_K, ISA);               \
    FL_IMPL(t, gemm_q6_Kx16_q8_K, ISA);               \
    FL_IMPL(t, gemm_iq4_xs_q8_K, ISA);                \
    FL_IMPL(t, gemm_q3_K_q8_K, ISA);                  \
    FL_IMPL(t, gemm_iq4_xsx16_q8_K, ISA);             \
    FL_IMPL(t, gemm_q3_Kx16_q8_K, ISA);               \
    FL_IMPL(t, gemm_q2_K_q8_K, ISA);                  \
    FL_IMPL(t, gemm_q2_Kx16_q8_K, ISA);               \
    t.gemm_i8_mr = MR;                                \
    t.gemm_i8_nr = NRP;                               \
    t.gemm_i8_q8_0_off = Q8OFF;                       \
  }
