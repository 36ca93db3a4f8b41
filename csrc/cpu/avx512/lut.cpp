// AVX-512 kernels of family `lut`: the row's table (16 or 8 f32 centroids) lives
// in one zmm and vpermps (_mm512_permutexvar_ps) decodes 16 codes per op; the
// dot products are f32 FMAs; the row's CSR outliers are gathered in the same pass.
#include <immintrin.h>
#include "fuselm/ops/lut.h"
#include "cpu/lut_scalar.h"

namespace fuselm {
namespace avx512 {

namespace {

// LUT4: 16 bytes -> 32 f32 weights. vpermps reads the low 4 bits of each lane,
// so the low nibble needs no mask and the high nibble only a shift.
struct Dec4 {
  static constexpr int kBytes = sizeof(block_lut4);
  __m512 tab;
  explicit Dec4(const fl_half* t) : tab(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)t))) {}
  inline void operator()(const uint8_t* blk, __m512& w0, __m512& w1) const {
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)blk));
    w0 = _mm512_permutexvar_ps(v, tab);
    w1 = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), tab);
  }
};

// vpermb indices: lane j (codes 0-15) takes bytes 3j/8, 3j/8 + 1
static const uint8_t kLut3Bytes[64] = {0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 2, 2, 2, 1, 2, 2, 2, 1, 2, 2, 2, 2, 3, 3, 3, 2, 3, 3, 3, 3, 4, 4, 4, 3, 4, 4, 4, 3, 4, 4, 4, 4, 5, 5, 5, 4, 5, 5, 5, 4, 5, 5, 5, 5, 6, 6, 6, 5, 6, 6, 6};

// LUT3: 12 bytes -> 32 f32 weights. One vpermb per 16 codes moves the two bytes
// holding code j into lane j, vpsrlvd shifts by 3j % 8; vpermps then sees bits
// 0-3, so the 8-entry table is duplicated into both halves of the zmm.
struct Dec3 {
  static constexpr int kBytes = sizeof(block_lut3);
  __m512 tab;
  __m512i p0, p1, sh;
  explicit Dec3(const fl_half* t) {
    const __m256 t8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)t));
    tab = _mm512_insertf32x8(_mm512_castps256_ps512(t8), t8, 1);
    // lane j: bytes 3j/8, 3j/8 + 1 (byte 12 is the masked load's zero)
    p0 = _mm512_loadu_si512(kLut3Bytes);
    p1 = _mm512_add_epi8(p0, _mm512_set1_epi8(6));
    sh = _mm512_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5, 0, 3, 6, 1, 4, 7, 2, 5);
  }
  inline void operator()(const uint8_t* blk, __m512& w0, __m512& w1) const {
    const __m512i src = _mm512_zextsi128_si512(_mm_maskz_loadu_epi8((__mmask16)0x0fff, blk));
    w0 = _mm512_permutexvar_ps(_mm512_srlv_epi32(_mm512_permutexvar_epi8(p0, src), sh), tab);
    w1 = _mm512_permutexvar_ps(_mm512_srlv_epi32(_mm512_permutexvar_epi8(p1, src), sh), tab);
  }
};

// ---- the bf16 path (M <= 4): 32 codes -> 32 bf16 weights in word lanes with one
// vpermw on the row's table rounded to bf16, then vdpbf16ps with x rounded to bf16:
// 4 zmm ops per 32 weights instead of 6, for the GEMV's compute-bound cases.

// vpermb indices for LUT3 in word lanes: word j (codes 0-31) takes bytes 3j/8, 3j/8 + 1
static const uint8_t kLut3Words[64] = {0, 1, 0, 1, 0, 1, 1, 2, 1, 2, 1, 2, 2, 3, 2, 3, 3, 4, 3, 4, 3, 4, 4, 5, 4, 5, 4, 5, 5, 6, 5, 6, 6, 7, 6, 7, 6, 7, 7, 8, 7, 8, 7, 8, 8, 9, 8, 9, 9, 10, 9, 10, 9, 10, 10, 11, 10, 11, 10, 11, 11, 12, 11, 12};

static inline __m512i bf16_table(const fl_half* t, int n) {
  // n = 16 (LUT4) or 8 (LUT3) fp16 centroids -> 32 bf16 words, the table repeated
  __m512 f;
  if (n == 16) {
    f = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)t));
  } else {
    const __m256 t8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)t));
    f = _mm512_insertf32x8(_mm512_castps256_ps512(t8), t8, 1);
  }
  const __m256i b = (__m256i)_mm512_cvtneps_pbh(f);
  return _mm512_inserti64x4(_mm512_castsi256_si512(b), b, 1);
}

// LUT4: the 16 bytes in both halves, zero-extended to words; words 16-31 shifted by 4.
// vpermw reads 5 index bits; bit 4 of a low-nibble word is garbage, hence the doubled table.
struct Dec4h {
  static constexpr int kBytes = sizeof(block_lut4);
  __m512i tab, sh;
  explicit Dec4h(const fl_half* t)
      : tab(bf16_table(t, 16)), sh(_mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1)) {}
  inline __m512i operator()(const uint8_t* blk) const {
    const __m512i v = _mm512_cvtepu8_epi16(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)blk)));
    return _mm512_permutexvar_epi16(_mm512_srlv_epi16(v, sh), tab);
  }
};

// LUT3: one vpermb puts code j's two bytes in word j, vpsrlvw shifts by 3j % 8; bits
// 3-4 are garbage, so the 8-entry table is repeated 4 times.
struct Dec3h {
  static constexpr int kBytes = sizeof(block_lut3);
  __m512i tab, idx, sh;
  explicit Dec3h(const fl_half* t) : tab(bf16_table(t, 8)), idx(_mm512_loadu_si512(kLut3Words)) {
    sh = _mm512_set_epi16(5, 2, 7, 4, 1, 6, 3, 0, 5, 2, 7, 4, 1, 6, 3, 0, 5, 2, 7, 4, 1, 6, 3, 0, 5, 2, 7, 4, 1, 6, 3, 0);
  }
  inline __m512i operator()(const uint8_t* blk) const {
    const __m512i src = _mm512_zextsi128_si512(_mm_maskz_loadu_epi8((__mmask16)0x0fff, blk));
    return _mm512_permutexvar_epi16(_mm512_srlv_epi16(_mm512_permutexvar_epi8(idx, src), sh), tab);
  }
};

inline float csr_dot(const int32_t* col, const fl_half* val, int64_t b, int64_t e, const float* x) {
  __m512 acc = _mm512_setzero_ps();
  for (; b < e; b += 16) {
    const __mmask16 mk = e - b >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (e - b)) - 1u);
    const __m512i idx = _mm512_maskz_loadu_epi32(mk, col + b);
    const __m512 v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, val + b));
    const __m512 xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, idx, x, 4);
    acc = _mm512_fmadd_ps(v, xv, acc);
  }
  return _mm512_reduce_add_ps(acc);
}

inline float finish(const LutGemmArgs& a, int64_t n, const float* x, float dense) {
  const LutMatrix& w = a.w;
  float s = dense + csr_dot(w.col, w.val, w.row_ptr[n], w.row_ptr[n + 1], x);
  return a.bias ? s + a.bias[n] : s;
}

// M <= 4: decode each block once into registers and FMA it with every row of x.
template <class Dec, int MT>
void rows_fused(const LutGemmArgs& a, int64_t nb, int64_t ne) {
  const LutMatrix& w = a.w;
  const int64_t k = w.k, nblk = k / 32, rb = nblk * Dec::kBytes, tn = w.bits == 4 ? 16 : 8;
  for (int64_t n = nb; n < ne; n++) {
    const Dec d(w.table + n * tn);
    const uint8_t* q = w.codes + n * rb;
    __m512 acc[MT][4];
    for (int m = 0; m < MT; m++)
      for (int i = 0; i < 4; i++) acc[m][i] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nblk; b += 2) {
      __m512 w0, w1, w2, w3;
      d(q + b * Dec::kBytes, w0, w1);
      d(q + (b + 1) * Dec::kBytes, w2, w3);
      for (int m = 0; m < MT; m++) {
        const float* xm = a.x + m * k + b * 32;
        acc[m][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xm), acc[m][0]);
        acc[m][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xm + 16), acc[m][1]);
        acc[m][2] = _mm512_fmadd_ps(w2, _mm512_loadu_ps(xm + 32), acc[m][2]);
        acc[m][3] = _mm512_fmadd_ps(w3, _mm512_loadu_ps(xm + 48), acc[m][3]);
      }
    }
    if (b < nblk) {
      __m512 w0, w1;
      d(q + b * Dec::kBytes, w0, w1);
      for (int m = 0; m < MT; m++) {
        const float* xm = a.x + m * k + b * 32;
        acc[m][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xm), acc[m][0]);
        acc[m][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xm + 16), acc[m][1]);
      }
    }
    for (int m = 0; m < MT; m++) {
      const __m512 s = _mm512_add_ps(_mm512_add_ps(acc[m][0], acc[m][1]), _mm512_add_ps(acc[m][2], acc[m][3]));
      a.out[m * w.n + n] = finish(a, n, a.x + m * k, _mm512_reduce_add_ps(s));
    }
  }
}

// M <= 4 on the bf16 path: x rounded to bf16 once per call (xb: M*K words).
template <class Dec, int MT>
void rows_fused_bf16(const LutGemmArgs& a, int64_t nb, int64_t ne, uint16_t* xb) {
  const LutMatrix& w = a.w;
  const int64_t k = w.k, nblk = k / 32, rb = nblk * Dec::kBytes, tn = w.bits == 4 ? 16 : 8;
  for (int64_t i = 0; i < MT * k; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(a.x + i + 16), _mm512_loadu_ps(a.x + i));
    _mm512_storeu_si512(xb + i, (__m512i)v);
  }
  for (int64_t n = nb; n < ne; n++) {
    const Dec d(w.table + n * tn);
    const uint8_t* q = w.codes + n * rb;
    __m512 acc[MT][2];
    for (int m = 0; m < MT; m++) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nblk; b += 2) {
      const __m512i w0 = d(q + b * Dec::kBytes), w1 = d(q + (b + 1) * Dec::kBytes);
      for (int m = 0; m < MT; m++) {
        const uint16_t* xm = xb + m * k + b * 32;
        acc[m][0] = _mm512_dpbf16_ps(acc[m][0], (__m512bh)w0, (__m512bh)_mm512_loadu_si512(xm));
        acc[m][1] = _mm512_dpbf16_ps(acc[m][1], (__m512bh)w1, (__m512bh)_mm512_loadu_si512(xm + 32));
      }
    }
    if (b < nblk) {
      const __m512i w0 = d(q + b * Dec::kBytes);
      for (int m = 0; m < MT; m++)
        acc[m][0] = _mm512_dpbf16_ps(acc[m][0], (__m512bh)w0, (__m512bh)_mm512_loadu_si512(xb + m * k + b * 32));
    }
    for (int m = 0; m < MT; m++)
      a.out[m * w.n + n] = finish(a, n, a.x + m * k, _mm512_reduce_add_ps(_mm512_add_ps(acc[m][0], acc[m][1])));
  }
}

template <class Dec>
inline void dequant(float* dst, const uint8_t* q, const fl_half* t, int64_t k) {
  const Dec d(t);
  for (int64_t b = 0; b < k / 32; b++) {
    __m512 w0, w1;
    d(q + b * Dec::kBytes, w0, w1);
    _mm512_storeu_ps(dst + b * 32, w0);
    _mm512_storeu_ps(dst + b * 32 + 16, w1);
  }
}

// dot of one dequantized row (k % 32 == 0) with MT rows of x
template <int MT>
inline void dot_tile(const float* wr, const float* x, int64_t k, float* res) {
  __m512 acc[MT][2];
  for (int m = 0; m < MT; m++) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  for (int64_t i = 0; i < k; i += 32) {
    const __m512 w0 = _mm512_loadu_ps(wr + i), w1 = _mm512_loadu_ps(wr + i + 16);
    for (int m = 0; m < MT; m++) {
      acc[m][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + m * k + i), acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + m * k + i + 16), acc[m][1]);
    }
  }
  for (int m = 0; m < MT; m++) res[m] = _mm512_reduce_add_ps(_mm512_add_ps(acc[m][0], acc[m][1]));
}

// M > 4: decode each row once into scratch, then 4 rows of x at a time.
template <class Dec>
void rows_scratch(const LutGemmArgs& a, int64_t nb, int64_t ne, float* scratch) {
  const LutMatrix& w = a.w;
  const int64_t k = w.k, rb = (k / 32) * Dec::kBytes, tn = w.bits == 4 ? 16 : 8;
  for (int64_t n = nb; n < ne; n++) {
    dequant<Dec>(scratch, w.codes + n * rb, w.table + n * tn, k);
    for (int64_t m0 = 0; m0 < a.m; m0 += 4) {
      float res[4];
      const float* x = a.x + m0 * k;
      switch (a.m - m0 >= 4 ? 4 : (int)(a.m - m0)) {
        case 4: dot_tile<4>(scratch, x, k, res); break;
        case 3: dot_tile<3>(scratch, x, k, res); break;
        case 2: dot_tile<2>(scratch, x, k, res); break;
        default: dot_tile<1>(scratch, x, k, res); break;
      }
      for (int64_t m = m0; m < a.m && m < m0 + 4; m++) a.out[m * w.n + n] = finish(a, n, a.x + m * k, res[m - m0]);
    }
  }
}

template <class Dec, class DecH>
void gemm(const LutGemmArgs& a, int64_t nb, int64_t ne, float* scratch) {
  uint16_t* xb = (uint16_t*)scratch;  // M <= 4: 2*M*K bytes <= the 4*K-float scratch
  switch (a.m) {
    case 1: rows_fused_bf16<DecH, 1>(a, nb, ne, xb); break;
    case 2: rows_fused_bf16<DecH, 2>(a, nb, ne, xb); break;
    case 3: rows_fused_bf16<DecH, 3>(a, nb, ne, xb); break;
    case 4: rows_fused_bf16<DecH, 4>(a, nb, ne, xb); break;
    default: rows_scratch<Dec>(a, nb, ne, scratch); break;
  }
}

}  // namespace

static void dequant_row_lut4(float* d, const uint8_t* c, const fl_half* t, int64_t k) { dequant<Dec4>(d, c, t, k); }
static void dequant_row_lut3(float* d, const uint8_t* c, const fl_half* t, int64_t k) { dequant<Dec3>(d, c, t, k); }
static void gemm_lut4_f32(const LutGemmArgs& a, int64_t nb, int64_t ne, float* s) { gemm<Dec4, Dec4h>(a, nb, ne, s); }
static void gemm_lut3_f32(const LutGemmArgs& a, int64_t nb, int64_t ne, float* s) { gemm<Dec3, Dec3h>(a, nb, ne, s); }

void fill_lut(LutTable& t) {
  FL_IMPL(t, dequant_row_lut4, avx512);
  FL_IMPL(t, dequant_row_lut3, avx512);
  FL_IMPL(t, gemm_lut4_f32, avx512);
  FL_IMPL(t, gemm_lut3_f32, avx512);
}

}  // namespace avx512
}  // namespace fuselm
