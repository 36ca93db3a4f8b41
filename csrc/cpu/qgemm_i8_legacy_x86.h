// The int8 GEMM's W panel packer for the legacy 32-block formats (family `qgemm`),
// shared by the AVX2 and AVX-512 qgemm_i8.cpp: included inside the ISA namespace
// after qgemm_i8_x86.h (i8_put_rows8, the panel layout) and qformats_legacy_x86.h.
// Codes and factors as csrc/cpu/qgemm_i8.h states them, w = s * (u - c) - mn:
//   Q5_0:           u = q in [0, 31], c = 16, s = d, mn = 0
//   Q4_1 / Q5_1:    u = q, c = 0, s = d, mn = -m
//   IQ4_NL / MXFP4: u = v(q) + Q8OFF (as q8_0: the signed value, or value + 128), c = Q8OFF, s = d
// The formats' ids in the panel kernels (beside I8Fmt's):
enum I8LegacyFmt { I8_LG = 32, I8_LG_X16 = 48 };  // + lg::Fmt
template <int FMT>
constexpr bool i8_is_legacy() { return FMT >= I8_LG && FMT < I8_LG_X16 + lg::COUNT; }

template <int NRP, int F, int Q8OFF, bool X16>
static void i8_pack_panel_legacy(const void* W, int64_t nr, int64_t nb, uint8_t* wp) {
  typedef typename lg::Traits<F>::Block B;
  typedef typename lg::Traits<F>::X16 X;
  float* fl = (float*)(wp + nb * 32 * NRP);
  if (nr < NRP) std::memset(wp, 0, (size_t)nb * NRP * 40);
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  if constexpr (X16) {
    for (int64_t grp = 0; grp < nr / 16; grp++)
      for (int64_t b = 0; b < nb; b++) {
        const X* x = (const X*)W + grp * nb + b;
        uint8_t* dst = wp + b * 32 * NRP + grp * 64;
        for (int h = 0; h < 2; h++) {
          for (int j = 0; j < 4; j++) {
            __m256i lo, hi;
            lg_load_x16<F>(x, j, h, &lo, &hi);
            if (lg::Traits<F>::kLut && Q8OFF == 128) { lo = _mm256_xor_si256(lo, flip); hi = _mm256_xor_si256(hi, flip); }
            _mm256_storeu_si256((__m256i*)(dst + j * 4 * NRP + 32 * h), lo);
            _mm256_storeu_si256((__m256i*)(dst + (4 + j) * 4 * NRP + 32 * h), hi);
          }
          _mm256_storeu_ps(fl + 2 * b * NRP + grp * 16 + 8 * h, lg_scales_x16<F>(x, h));
          _mm256_storeu_ps(fl + (2 * b + 1) * NRP + grp * 16 + 8 * h,
                           _mm256_sub_ps(_mm256_setzero_ps(), lg_mins_x16<F>(x, h)));
        }
      }
  } else {
    const B* w = (const B*)W;
    __m256i v[8];
    for (int64_t b = 0; b < nb; b++)
      for (int64_t r0 = 0; r0 < nr; r0 += 8) {
        for (int i = 0; i < 8; i++) {
          if (r0 + i < nr) {
            const B* x = w + (r0 + i) * nb + b;
            v[i] = lg_load<F>(x);
            if (lg::Traits<F>::kLut && Q8OFF == 128) v[i] = _mm256_xor_si256(v[i], flip);
            fl[2 * b * NRP + r0 + i] = lg_scale<F>(x);
            fl[(2 * b + 1) * NRP + r0 + i] = -lg_min<F>(x);
          } else {
            v[i] = _mm256_setzero_si256();
          }
        }
        i8_put_rows8<NRP>(wp, b, r0, v);
      }
  }
}
template <int NRP, int FMT, int Q8OFF>
static void i8_pack_legacy(const void* W, int64_t nr, int64_t nb, uint8_t* wp) {
  constexpr bool x16 = FMT >= I8_LG_X16;
  constexpr int F = x16 ? FMT - I8_LG_X16 : FMT - I8_LG;
  i8_pack_panel_legacy<NRP, F, Q8OFF, x16>(W, nr, nb, wp);
}

// gemm_<fmt>_q8_0 / gemm_<fmt>x16_q8_0 and the fill function, over the ISA's gemm_panel
#define FL_QGEMM_I8_LEGACY_ENTRIES(ISA)                                     \
  FL_I8_ENTRY(gemm_q5_0_q8_0, I8_LG + lg::Q5_0)                             \
  FL_I8_ENTRY(gemm_q4_1_q8_0, I8_LG + lg::Q4_1)                             \
  FL_I8_ENTRY(gemm_q5_1_q8_0, I8_LG + lg::Q5_1)                             \
  FL_I8_ENTRY(gemm_iq4_nl_q8_0, I8_LG + lg::IQ4_NL)                         \
  FL_I8_ENTRY(gemm_mxfp4_q8_0, I8_LG + lg::MXFP4)                           \
  FL_I8_ENTRY(gemm_q5_0x16_q8_0, I8_LG_X16 + lg::Q5_0)                      \
  FL_I8_ENTRY(gemm_q4_1x16_q8_0, I8_LG_X16 + lg::Q4_1)                      \
  FL_I8_ENTRY(gemm_q5_1x16_q8_0, I8_LG_X16 + lg::Q5_1)                      \
  FL_I8_ENTRY(gemm_iq4_nlx16_q8_0, I8_LG_X16 + lg::IQ4_NL)                  \
  FL_I8_ENTRY(gemm_mxfp4x16_q8_0, I8_LG_X16 + lg::MXFP4)                    \
  void fill_qgemm_i8_legacy(QgemmTable& t) {                                \
    FL_LEGACY_IMPL(t, lg::Q5_0, gemm, gemm_q5_0_q8_0, ISA);                 \
    FL_LEGACY_IMPL(t, lg::Q4_1, gemm, gemm_q4_1_q8_0, ISA);                 \
    FL_LEGACY_IMPL(t, lg::Q5_1, gemm, gemm_q5_1_q8_0, ISA);                 \
    FL_LEGACY_IMPL(t, lg::IQ4_NL, gemm, gemm_iq4_nl_q8_0, ISA);             \
    FL_LEGACY_IMPL(t, lg::MXFP4, gemm, gemm_mxfp4_q8_0, ISA);               \
    FL_LEGACY_IMPL(t, lg::Q5_0, gemm_x16, gemm_q5_0x16_q8_0, ISA);          \
    FL_LEGACY_IMPL(t, lg::Q4_1, gemm_x16, gemm_q4_1x16_q8_0, ISA);          \
    FL_LEGACY_IMPL(t, lg::Q5_1, gemm_x16, gemm_q5_1x16_q8_0, ISA);          \
    FL_LEGACY_IMPL(t, lg::IQ4_NL, gemm_x16, gemm_iq4_nlx16_q8_0, ISA);      \
    FL_LEGACY_IMPL(t, lg::MXFP4, gemm_x16, gemm_mxfp4x16_q8_0, ISA);        \
  }
