// AVX2 (maddubs + madd) kernels of the legacy 32-block formats of family `qgemm` (Q5_0, Q4_1,
// Q5_1, IQ4_NL, MXFP4): the dequantizers and the plain and repacked GEMV
// (csrc/cpu/qgemv_legacy_x86.h). The int8 GEMM entries live in qgemm_i8.cpp.
#include <immintrin.h>
#include <cstdint>
#include <cstring>

#include "cpu/qformats_legacy.h"
#include "fuselm/ops/qgemm.h"

namespace fuselm {
namespace avx2 {

#define FL_DPBUSD(acc, u, s) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define FL_DPWSSD(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#include "cpu/qgemv_x86.h"
#include "cpu/qgemv_x16.h"
#include "cpu/qformats_legacy_x86.h"
#include "cpu/qgemv_legacy_x86.h"

FL_LG_GEMV_ENTRIES(q5_0, lg::Q5_0, lg_x16_group)
FL_LG_GEMV_ENTRIES(q4_1, lg::Q4_1, lg_x16_group)
FL_LG_GEMV_ENTRIES(q5_1, lg::Q5_1, lg_x16_group)
FL_LG_GEMV_ENTRIES(iq4_nl, lg::IQ4_NL, lg_x16_group)
FL_LG_GEMV_ENTRIES(mxfp4, lg::MXFP4, lg_x16_group)
#undef FL_X16_GEMV
#undef FL_DPBUSD
#undef FL_DPWSSD

void fill_qgemm_legacy(QgemmTable& t) {
  FL_LG_FILL_GEMV(t, lg::Q5_0, q5_0, avx2);
  FL_LG_FILL_GEMV(t, lg::Q4_1, q4_1, avx2);
  FL_LG_FILL_GEMV(t, lg::Q5_1, q5_1, avx2);
  FL_LG_FILL_GEMV(t, lg::IQ4_NL, iq4_nl, avx2);
  FL_LG_FILL_GEMV(t, lg::MXFP4, mxfp4, avx2);
}

}  // namespace avx2
}  // namespace fuselm
