// Scalar reference for family `lut`: decode one code at a time, accumulate in double.
#include "fuselm/ops/lut.h"
#include "cpu/lut_scalar.h"

namespace fuselm {
namespace ref {

template <int BITS>
static void dequant_row(float* dst, const uint8_t* codes, const fl_half* table, int64_t k) {
  float t[16];
  for (int i = 0; i < (1 << BITS); i++) t[i] = fp16_to_fp32(table[i]);
  const int bb = BITS == 4 ? (int)sizeof(block_lut4) : (int)sizeof(block_lut3);
  for (int64_t b = 0; b < k / 32; b++) {
    const uint8_t* blk = codes + b * bb;
    for (int j = 0; j < 32; j++) dst[b * 32 + j] = t[BITS == 4 ? lut::code4(blk, j) : lut::code3(blk, j)];
  }
}

template <int BITS>
static void gemm(const LutGemmArgs& a, int64_t nb, int64_t ne, float* scratch) {
  const LutMatrix& w = a.w;
  const int64_t k = w.k, row_bytes = (k / 32) * (BITS == 4 ? sizeof(block_lut4) : sizeof(block_lut3));
  for (int64_t n = nb; n < ne; n++) {
    dequant_row<BITS>(scratch, w.codes + n * row_bytes, w.table + n * (1 << BITS), k);
    for (int64_t m = 0; m < a.m; m++) {
      const float* x = a.x + m * k;
      double s = 0;
      for (int64_t i = 0; i < k; i++) s += (double)scratch[i] * x[i];
      for (int64_t i = w.row_ptr[n]; i < w.row_ptr[n + 1]; i++) s += (double)fp16_to_fp32(w.val[i]) * x[w.col[i]];
      if (a.bias) s += a.bias[n];
      a.out[m * w.n + n] = (float)s;
    }
  }
}

static void dequant_row_lut4(float* d, const uint8_t* c, const fl_half* t, int64_t k) { dequant_row<4>(d, c, t, k); }
static void dequant_row_lut3(float* d, const uint8_t* c, const fl_half* t, int64_t k) { dequant_row<3>(d, c, t, k); }
static void gemm_lut4_f32(const LutGemmArgs& a, int64_t nb, int64_t ne, float* s) { gemm<4>(a, nb, ne, s); }
static void gemm_lut3_f32(const LutGemmArgs& a, int64_t nb, int64_t ne, float* s) { gemm<3>(a, nb, ne, s); }

void fill_lut(LutTable& t) {
  FL_IMPL(t, dequant_row_lut4, ref);
  FL_IMPL(t, dequant_row_lut3, ref);
  FL_IMPL(t, gemm_lut4_f32, ref);
  FL_IMPL(t, gemm_lut3_f32, ref);
}

}  // namespace ref
}  // namespace fuselm
