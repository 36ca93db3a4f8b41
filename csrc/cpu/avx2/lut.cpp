// AVX2+FMA kernels of family `lut`: vpermps (_mm256_permutevar8x32_ps) looks up 8
// codes per op in an 8-entry f32 table; LUT4's 16 entries are two tables and a
// blend on bit 3. f32 FMA dot products; the row's CSR outliers gathered in the same pass.
#include <immintrin.h>
#include "fuselm/ops/lut.h"
#include "cpu/lut_scalar.h"

namespace fuselm {
namespace avx2 {

namespace {

// LUT4: 16 bytes -> 4 x 8 f32 weights (0-7, 8-15 from low nibbles, 16-23, 24-31 from high).
struct Dec4 {
  static constexpr int kBytes = sizeof(block_lut4);
  __m256 lo, hi;
  explicit Dec4(const fl_half* t)
      : lo(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)t))),
        hi(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(t + 8)))) {}
  // idx's low 3 bits pick the entry; bit `sel` of the lane picks lo/hi (moved to the sign bit)
  inline __m256 look(__m256i idx, __m256i sel) const {
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, idx), _mm256_permutevar8x32_ps(hi, idx),
                            _mm256_castsi256_ps(sel));
  }
  inline void operator()(const uint8_t* blk, __m256 w[4]) const {
    const __m256i v0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)blk));
    const __m256i v1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(blk + 8)));
    w[0] = look(v0, _mm256_slli_epi32(v0, 28));
    w[1] = look(v1, _mm256_slli_epi32(v1, 28));
    w[2] = look(_mm256_srli_epi32(v0, 4), _mm256_slli_epi32(v0, 24));
    w[3] = look(_mm256_srli_epi32(v1, 4), _mm256_slli_epi32(v1, 24));
  }
};

// LUT3: 12 bytes -> 4 x 8 f32 weights. Group g of 8 codes lies in bytes 3g..3g+3;
// one vpshufb moves the two bytes of code j into lane j, vpsrlvd shifts by 3j % 8.
struct Dec3 {
  static constexpr int kBytes = sizeof(block_lut3);
  __m256 tab;
  __m256i p[4], sh;
  explicit Dec3(const fl_half* t) : tab(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)t))) {
    for (int g = 0; g < 4; g++) {
      const char o = (char)(3 * g);
      // lanes 0-3 in the low 128 bits, 4-7 in the high; both halves hold the whole block
      p[g] = _mm256_setr_epi8(o, o + 1, o + 1, o + 1, o, o + 1, o + 1, o + 1, o, o + 1, o + 1, o + 1, o + 1, o + 2,
                              o + 2, o + 2, o + 1, o + 2, o + 2, o + 2, o + 1, o + 2, o + 2, o + 2, o + 2, o + 3,
                              o + 3, o + 3, o + 2, o + 3, o + 3, o + 3);
    }
    sh = _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5);
  }
  inline void operator()(const uint8_t* blk, __m256 w[4]) const {
    // exactly 12 bytes (the last block of a buffer has nothing after it); bytes 12-15 zero
    const __m128i b = _mm_insert_epi32(_mm_loadl_epi64((const __m128i*)blk), (int)lut::load_u32(blk + 8), 2);
    const __m256i src = _mm256_broadcastsi128_si256(b);
    for (int g = 0; g < 4; g++)
      w[g] = _mm256_permutevar8x32_ps(tab, _mm256_srlv_epi32(_mm256_shuffle_epi8(src, p[g]), sh));
  }
};

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float csr_dot(const int32_t* col, const fl_half* val, int64_t b, int64_t e, const float* x) {
  __m256 acc = _mm256_setzero_ps();
  for (; b + 8 <= e; b += 8) {
    const __m256i idx = _mm256_loadu_si256((const __m256i*)(col + b));
    const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(val + b)));
    acc = _mm256_fmadd_ps(v, _mm256_i32gather_ps(x, idx, 4), acc);
  }
  return hsum(acc) + lut::csr_dot(col, val, b, e, x);
}

inline float finish(const LutGemmArgs& a, int64_t n, const float* x, float dense) {
  const LutMatrix& w = a.w;
  float s = dense + csr_dot(w.col, w.val, w.row_ptr[n], w.row_ptr[n + 1], x);
  return a.bias ? s + a.bias[n] : s;
}

// M <= 4: decode each block once into registers, FMA with every row of x.
template <class Dec, int MT>
void rows_fused(const LutGemmArgs& a, int64_t nb, int64_t ne) {
  const LutMatrix& w = a.w;
  const int64_t k = w.k, nblk = k / 32, rb = nblk * Dec::kBytes, tn = w.bits == 4 ? 16 : 8;
  for (int64_t n = nb; n < ne; n++) {
    const Dec d(w.table + n * tn);
    const uint8_t* q = w.codes + n * rb;
    __m256 acc[MT][2];
    for (int m = 0; m < MT; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nblk; b++) {
      __m256 wv[4];
      d(q + b * Dec::kBytes, wv);
      for (int m = 0; m < MT; m++) {
        const float* xm = a.x + m * k + b * 32;
        acc[m][0] = _mm256_fmadd_ps(wv[0], _mm256_loadu_ps(xm), acc[m][0]);
        acc[m][1] = _mm256_fmadd_ps(wv[1], _mm256_loadu_ps(xm + 8), acc[m][1]);
        acc[m][0] = _mm256_fmadd_ps(wv[2], _mm256_loadu_ps(xm + 16), acc[m][0]);
        acc[m][1] = _mm256_fmadd_ps(wv[3], _mm256_loadu_ps(xm + 24), acc[m][1]);
      }
    }
    for (int m = 0; m < MT; m++) a.out[m * w.n + n] = finish(a, n, a.x + m * k, hsum(_mm256_add_ps(acc[m][0], acc[m][1])));
  }
}

template <class Dec>
inline void dequant(float* dst, const uint8_t* q, const fl_half* t, int64_t k) {
  const Dec d(t);
  for (int64_t b = 0; b < k / 32; b++) {
    __m256 wv[4];
    d(q + b * Dec::kBytes, wv);
    for (int i = 0; i < 4; i++) _mm256_storeu_ps(dst + b * 32 + 8 * i, wv[i]);
  }
}

template <int MT>
inline void dot_tile(const float* wr, const float* x, int64_t k, float* res) {
  __m256 acc[MT][2];
  for (int m = 0; m < MT; m++) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t i = 0; i < k; i += 16) {
    const __m256 w0 = _mm256_loadu_ps(wr + i), w1 = _mm256_loadu_ps(wr + i + 8);
    for (int m = 0; m < MT; m++) {
      acc[m][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + m * k + i), acc[m][0]);
      acc[m][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + m * k + i + 8), acc[m][1]);
    }
  }
  for (int m = 0; m < MT; m++) res[m] = hsum(_mm256_add_ps(acc[m][0], acc[m][1]));
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

template <class Dec>
void gemm(const LutGemmArgs& a, int64_t nb, int64_t ne, float* scratch) {
  switch (a.m) {
    case 1: rows_fused<Dec, 1>(a, nb, ne); break;
    case 2: rows_fused<Dec, 2>(a, nb, ne); break;
    case 3: rows_fused<Dec, 3>(a, nb, ne); break;
    case 4: rows_fused<Dec, 4>(a, nb, ne); break;
    default: rows_scratch<Dec>(a, nb, ne, scratch); break;
  }
}

}  // namespace

static void dequant_row_lut4(float* d, const uint8_t* c, const fl_half* t, int64_t k) { dequant<Dec4>(d, c, t, k); }
static void dequant_row_lut3(float* d, const uint8_t* c, const fl_half* t, int64_t k) { dequant<Dec3>(d, c, t, k); }
static void gemm_lut4_f32(const LutGemmArgs& a, int64_t nb, int64_t ne, float* s) { gemm<Dec4>(a, nb, ne, s); }
static void gemm_lut3_f32(const LutGemmArgs& a, int64_t nb, int64_t ne, float* s) { gemm<Dec3>(a, nb, ne, s); }

void fill_lut(LutTable& t) {
  FL_IMPL(t, dequant_row_lut4, avx2);
  FL_IMPL(t, dequant_row_lut3, avx2);
  FL_IMPL(t, gemm_lut4_f32, avx2);
  FL_IMPL(t, gemm_lut3_f32, avx2);
}

}  // namespace avx2
}  // namespace fuselm
