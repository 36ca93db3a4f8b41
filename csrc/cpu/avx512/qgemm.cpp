// AVX-512 (F/BW/VL/VNNI/BF16) kernels of family `qgemm`: VNNI integer GEMV
// (vpdpbusd / vpdpwssd on 256-bit vectors, see csrc/cpu/qgemv_x86.h), float
// GEMV with masked tails, and the GEMM micro-kernels: 32 x 12 tiles with FMA
// (f32) or vdpbf16ps (bf16 pairs).
#include <immintrin.h>
#include <cstdint>
#include <cstring>

#include "cpu/qscalar.h"
#include "fuselm/ops/qgemm.h"
#include "cpu/avx512/vec.h"

namespace fuselm {
namespace avx512 {

#define FL_DPBUSD(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define FL_DPWSSD(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))
#include "cpu/qgemv_x86.h"
#undef FL_DPBUSD
#undef FL_DPWSSD

static inline __mmask16 tail16(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

// ---- activation quantizers --------------------------------------------------------
// ggml's q8_0 rounding (roundf: ties away from zero) done exactly in SIMD:
// t = trunc(v); t += sign(v) where |v - t| >= 0.5.
static inline __m512i round_away(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
  const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
  return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, one));
}

template <int OFF>
static void quantize_act(void* dst, const float* x, int64_t n) {
  qs::ActQ8_0* y = (qs::ActQ8_0*)dst;
  const __m512 sign = _mm512_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / 32; i++, x += 32) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1)));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i q0 = round_away(_mm512_mul_ps(v0, vid)), q1 = round_away(_mm512_mul_ps(v1, vid));
    _mm_storeu_si128((__m128i*)y[i].qs, _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128((__m128i*)(y[i].qs + 16), _mm512_cvtepi32_epi8(q1));
    // lane sums of 4 bytes times -OFF
    const __m256i qv = _mm256_loadu_si256((const __m256i*)y[i].qs);
    const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), qv);
    _mm256_storeu_si256((__m256i*)y[i].off, _mm256_mullo_epi32(s, _mm256_set1_epi32(-OFF)));
    y[i].d = d;
    y[i].sum = qs::qsum32(y[i].qs);
  }
}
static void quantize_act_q4_0(void* dst, const float* x, int64_t n) { quantize_act<8>(dst, x, n); }
static void quantize_act_q8_0(void* dst, const float* x, int64_t n) { quantize_act<128>(dst, x, n); }

static void quantize_row_q8_K(void* dst, const float* x, int64_t n) {
  block_q8_K* y = (block_q8_K*)dst;
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    // the value of largest magnitude (first one on ties, as the scalar loop)
    float amax = 0, mx = 0;
    {
      __m512 va = _mm512_setzero_ps();
      for (int j = 0; j < QK_K; j += 16) va = _mm512_max_ps(va, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
      amax = _mm512_reduce_max_ps(va);
      for (int j = 0; j < QK_K; j++)
        if (x[j] == amax || x[j] == -amax) { mx = x[j]; break; }
    }
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof(block_q8_K));
      continue;
    }
    const float iscale = -127.f / mx;
    const __m512 vs = _mm512_set1_ps(iscale);
    for (int j = 0; j < QK_K; j += 16) {
      __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j), vs));  // ties to even
      q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
      _mm_storeu_si128((__m128i*)(y[i].qs + j), _mm512_cvtepi32_epi8(q));
    }
    for (int j = 0; j < QK_K / 16; j++) {
      const __m128i q = _mm_loadu_si128((const __m128i*)(y[i].qs + 16 * j));
      const __m512i w = _mm512_cvtepi8_epi32(q);
      y[i].bsums[j] = (int16_t)_mm512_reduce_add_epi32(w);
    }
    y[i].d = 1.0f / iscale;
  }
}

// ---- dequantizers ----------------------------------------------------------------
static void dequantize_row_q4_0(float* y, const void* x, int64_t n) {
  const block_q4_0* b = (const block_q4_0*)x;
  for (int64_t i = 0; i < n / 32; i++) {
    const __m512 d = _mm512_set1_ps(half_to_float(b[i].d));
    const __m128i q = _mm_loadu_si128((const __m128i*)b[i].qs);
    const __m512i lo = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(q, _mm_set1_epi8(0x0F))), _mm512_set1_epi32(8));
    const __m512i hi = _mm512_sub_epi32(
        _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0F))), _mm512_set1_epi32(8));
    _mm512_storeu_ps(y + 32 * i, _mm512_mul_ps(_mm512_cvtepi32_ps(lo), d));
    _mm512_storeu_ps(y + 32 * i + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(hi), d));
  }
}
static void dequantize_row_q8_0(float* y, const void* x, int64_t n) {
  const block_q8_0* b = (const block_q8_0*)x;
  for (int64_t i = 0; i < n / 32; i++) {
    const __m512 d = _mm512_set1_ps(half_to_float(b[i].d));
    for (int h = 0; h < 2; h++) {
      const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(b[i].qs + 16 * h)));
      _mm512_storeu_ps(y + 32 * i + 16 * h, _mm512_mul_ps(_mm512_cvtepi32_ps(q), d));
    }
  }
}
// the K-quants: the scalar loops, auto-vectorised with this file's flags
static void dequantize_row_q4_K(float* y, const void* x, int64_t n) { qs::dequant_q4_K(y, (const block_q4_K*)x, n); }
static void dequantize_row_q5_K(float* y, const void* x, int64_t n) { qs::dequant_q5_K(y, (const block_q5_K*)x, n); }
static void dequantize_row_q6_K(float* y, const void* x, int64_t n) { qs::dequant_q6_K(y, (const block_q6_K*)x, n); }
static void dequantize_row_f16(float* y, const void* x, int64_t n) {
  const uint16_t* h = (const uint16_t*)x;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail16(n - i);
    _mm512_mask_storeu_ps(y + i, k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, h + i)));
  }
}
static void dequantize_row_bf16(float* y, const void* x, int64_t n) {
  const uint16_t* h = (const uint16_t*)x;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail16(n - i);
    const __m512i v = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, h + i)), 16);
    _mm512_mask_storeu_ps(y + i, k, _mm512_castsi512_ps(v));
  }
}
static void round_bf16_row(uint16_t* y, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512((void*)(y + i), (__m512i)v);
  }
  qs::round_bf16(y + i, x + i, n - i);
}

// ---- float GEMV: 4 rows of W per pass, masked tails ---------------------------------
static inline __m512 load_w(const float* w, __mmask16 k) { return _mm512_maskz_loadu_ps(k, w); }
static inline __m512 load_w(const uint16_t* w, __mmask16 k, bool bf) {
  const __m256i h = _mm256_maskz_loadu_epi16(k, w);
  return bf ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
}

template <int R, int KIND>  // KIND 0 f32, 1 f16, 2 bf16
static inline void float_rows(float* out, int64_t ldo, const float* x, int64_t M, int64_t K, const void* W, int64_t n) {
  for (int64_t m = 0; m < M; m++) {
    const float* xm = x + m * K;
    __m512 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += 16) {
      const __mmask16 mk = tail16(K - k);
      const __m512 xv = _mm512_maskz_loadu_ps(mk, xm + k);
      for (int r = 0; r < R; r++) {
        __m512 wv;
        if (KIND == 0) {
          const float* wr = (const float*)W + (n + r) * K + k;
          if (m == 0) _mm_prefetch((const char*)(wr + 256), _MM_HINT_T0);
          wv = load_w(wr, mk);
        } else {
          const uint16_t* wr = (const uint16_t*)W + (n + r) * K + k;
          if (m == 0) _mm_prefetch((const char*)(wr + 512), _MM_HINT_T0);
          wv = load_w(wr, mk, KIND == 2);
        }
        acc[r] = _mm512_fmadd_ps(xv, wv, acc[r]);
      }
    }
    for (int r = 0; r < R; r++) out[m * ldo + n + r] = _mm512_reduce_add_ps(acc[r]);
  }
}
template <int KIND>
static void gemv_float(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                       int64_t n1) {
  const float* x = (const float*)acts;
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) float_rows<4, KIND>(out, ldo, x, M, K, W, n);
  for (; n < n1; n++) float_rows<1, KIND>(out, ldo, x, M, K, W, n);
}
static void gemv_f32_f32(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                         int64_t n1) {
  gemv_float<0>(o, l, a, M, K, W, n0, n1);
}
static void gemv_f16_f32(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                         int64_t n1) {
  gemv_float<1>(o, l, a, M, K, W, n0, n1);
}
static void gemv_bf16_f32(float* o, int64_t l, const void* a, int64_t M, int64_t K, const void* W, int64_t n0,
                          int64_t n1) {
  gemv_float<2>(o, l, a, M, K, W, n0, n1);
}

#include "cpu/qgemv_x16.h"

// ---- repacked GEMV (Q4_0X16 / Q8_0X16, blocks.h) ------------------------------------
// One 64-byte load is 4 weights of 16 rows: vpdpbusd against the 4 matching
// activations broadcast gives the 16 rows' partial dots in the 16 lanes, so a
// block of 16 rows costs 8 vpdpbusd, one scale conversion and one FMA, and no
// horizontal sums. Activations: the q8_0 partner (ActQ8_0) with its sum.
// q4_0: the high nibbles are taken in place (x16) and the low ones shifted up
// to match: 16 * dot = 16 * lo + hi16 - 128 * sum(a).
template <int MM>
static inline void q4_0x16_group(float* out, int64_t ldo, const qs::ActQ8_0* acts, int64_t nb,
                                 const block_q4_0x16* w) {
  const __m512i lom = _mm512_set1_epi8(0x0F), him = _mm512_set1_epi8((char)0xF0);
  __m512 acc[MM];
  for (int m = 0; m < MM; m++) acc[m] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_q4_0x16* wb = w + b;
    __m512i lo[4], hi[4];
    for (int j = 0; j < 4; j++) {
      const __m512i v = _mm512_loadu_si512((const void*)wb->qs[j]);
      lo[j] = _mm512_and_si512(v, lom);
      hi[j] = _mm512_and_si512(v, him);
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)wb->d));
    for (int m = 0; m < MM; m++) {
      const qs::ActQ8_0* a = acts + m * nb + b;
      int32_t aq[8];
      std::memcpy(aq, a->qs, 32);
      __m512i sl = _mm512_setzero_si512(), sh = _mm512_set1_epi32(-128 * a->sum);
      for (int j = 0; j < 4; j++) {
        sl = _mm512_dpbusd_epi32(sl, lo[j], _mm512_set1_epi32(aq[j]));
        sh = _mm512_dpbusd_epi32(sh, hi[j], _mm512_set1_epi32(aq[4 + j]));
      }
      const __m512i t = _mm512_add_epi32(_mm512_slli_epi32(sl, 4), sh);
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(dw, _mm512_set1_ps(a->d * (1.0f / 16))), acc[m]);
    }
  }
  for (int m = 0; m < MM; m++) _mm512_storeu_ps(out + m * ldo, acc[m]);
}
// q8_0: the weights read as unsigned (w + 128): dot = sum((w + 128) a) - 128 * sum(a).
template <int MM>
static inline void q8_0x16_group(float* out, int64_t ldo, const qs::ActQ8_0* acts, int64_t nb,
                                 const block_q8_0x16* w) {
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  __m512 acc[MM];
  for (int m = 0; m < MM; m++) acc[m] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_q8_0x16* wb = w + b;
    __m512i u[8];
    for (int j = 0; j < 8; j++) u[j] = _mm512_xor_si512(_mm512_loadu_si512((const void*)wb->qs[j]), flip);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)wb->d));
    for (int m = 0; m < MM; m++) {
      const qs::ActQ8_0* a = acts + m * nb + b;
      int32_t aq[8];
      std::memcpy(aq, a->qs, 32);
      __m512i s0 = _mm512_set1_epi32(-128 * a->sum), s1 = _mm512_setzero_si512();
      for (int j = 0; j < 8; j += 2) {
        s0 = _mm512_dpbusd_epi32(s0, u[j], _mm512_set1_epi32(aq[j]));
        s1 = _mm512_dpbusd_epi32(s1, u[j + 1], _mm512_set1_epi32(aq[j + 1]));
      }
      const __m512i t = _mm512_add_epi32(s0, s1);
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(dw, _mm512_set1_ps(a->d)), acc[m]);
    }
  }
  for (int m = 0; m < MM; m++) _mm512_storeu_ps(out + m * ldo, acc[m]);
}

// q4_K: per chunk c of 64 weights, 8 dwords of nibbles: low nibbles are
// sub-block 2c, high ones 2c + 1; their dots times the byte scales (int32),
// the mins through the activation's bsums.
template <int MM>
static inline void q4_Kx16_group(float* out, int64_t ldo, const block_q8_K* acts, int64_t nb,
                                 const block_q4_Kx16* w) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[MM];
  for (int m = 0; m < MM; m++) acc[m] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_q4_Kx16* x = w + b;
    __m512i sumi[MM];
    for (int m = 0; m < MM; m++) sumi[m] = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
      __m512i lo[8], hi[8];
      for (int g = 0; g < 8; g++) {
        const __m512i v = _mm512_loadu_si512((const void*)x->qs[c][g]);
        lo[g] = _mm512_and_si512(v, m4);
        hi[g] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
      }
      const __m512i sl = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)x->sc[2 * c]));
      const __m512i sh = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)x->sc[2 * c + 1]));
      for (int m = 0; m < MM; m++) {
        int32_t a32[16];
        std::memcpy(a32, acts[m * nb + b].qs + 64 * c, 64);
        __m512i dl = _mm512_setzero_si512(), dh = _mm512_setzero_si512();
        for (int g = 0; g < 8; g++) {
          dl = _mm512_dpbusd_epi32(dl, lo[g], _mm512_set1_epi32(a32[g]));
          dh = _mm512_dpbusd_epi32(dh, hi[g], _mm512_set1_epi32(a32[8 + g]));
        }
        sumi[m] = _mm512_add_epi32(sumi[m], _mm512_add_epi32(_mm512_mullo_epi32(dl, sl), _mm512_mullo_epi32(dh, sh)));
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)x->d));
    const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)x->dmin));
    for (int m = 0; m < MM; m++) {
      const block_q8_K& a = acts[m * nb + b];
      __m512i summ = _mm512_setzero_si512();
      for (int j = 0; j < 8; j++) {
        const __m512i mj = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)x->m[j]));
        summ = _mm512_add_epi32(summ, _mm512_mullo_epi32(mj, _mm512_set1_epi32(a.bsums[2 * j] + a.bsums[2 * j + 1])));
      }
      const __m512 da = _mm512_set1_ps(a.d);
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[m]), _mm512_mul_ps(d, da), acc[m]);
      acc[m] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(summ), _mm512_mul_ps(dmin, da), acc[m]);
    }
  }
  for (int m = 0; m < MM; m++) _mm512_storeu_ps(out + m * ldo, acc[m]);
}
// q6_K: per quarter s4, the 16 dwords t = s4*4 + uu + 16i rebuilt from the three
// vectors q[u] (read in order); dword group i is sub-block s4 + 4i (codes 0..63,
// q - 32 through the bsums), times its int8 scale.
template <int MM>
static inline void q6_Kx16_group(float* out, int64_t ldo, const block_q8_K* acts, int64_t nb,
                                 const block_q6_Kx16* w) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  __m512 acc[MM];
  for (int m = 0; m < MM; m++) acc[m] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const block_q6_Kx16* x = w + b;
    __m512i sumi[MM];
    for (int m = 0; m < MM; m++) sumi[m] = _mm512_setzero_si512();
    for (int s4 = 0; s4 < 4; s4++) {
      __m512i D[4][4];
      for (int uu = 0; uu < 4; uu++) {
        const int u = 4 * s4 + uu;
        const __m512i p0 = _mm512_loadu_si512((const void*)x->q[u][0]);
        const __m512i p1 = _mm512_loadu_si512((const void*)x->q[u][1]);
        const __m512i q = _mm512_loadu_si512((const void*)x->q[u][2]);
        D[0][uu] = _mm512_or_si512(_mm512_and_si512(p0, m4), _mm512_and_si512(_mm512_slli_epi16(q, 4), m30));
        D[1][uu] = _mm512_or_si512(_mm512_and_si512(p1, m4), _mm512_and_si512(_mm512_slli_epi16(q, 2), m30));
        D[2][uu] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(p0, 4), m4), _mm512_and_si512(q, m30));
        D[3][uu] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(p1, 4), m4),
                                   _mm512_and_si512(_mm512_srli_epi16(q, 2), m30));
      }
      for (int m = 0; m < MM; m++) {
        const block_q8_K& a = acts[m * nb + b];
        for (int i = 0; i < 4; i++) {
          const int sb = s4 + 4 * i;
          __m512i dot = _mm512_set1_epi32(-32 * a.bsums[sb]);
          for (int uu = 0; uu < 4; uu++) dot = _mm512_dpbusd_epi32(dot, D[i][uu], _mm512_set1_epi32(ld32(a.qs + 16 * sb + 4 * uu)));
          const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)x->sc[sb]));
          sumi[m] = _mm512_add_epi32(sumi[m], _mm512_mullo_epi32(dot, sc));
        }
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)x->d));
    for (int m = 0; m < MM; m++)
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[m]), _mm512_mul_ps(d, _mm512_set1_ps(acts[m * nb + b].d)), acc[m]);
  }
  for (int m = 0; m < MM; m++) _mm512_storeu_ps(out + m * ldo, acc[m]);
}

FL_X16_GEMV(gemv_q4_0x16_q8_0, qs::ActQ8_0, block_q4_0x16, 32, q4_0x16_group)
FL_X16_GEMV(gemv_q8_0x16_q8_0, qs::ActQ8_0, block_q8_0x16, 32, q8_0x16_group)
FL_X16_GEMV(gemv_q4_Kx16_q8_K, block_q8_K, block_q4_Kx16, QK_K, q4_Kx16_group)
FL_X16_GEMV(gemv_q6_Kx16_q8_K, block_q8_K, block_q6_Kx16, QK_K, q6_Kx16_group)
#undef FL_X16_GEMV

// ---- GEMM: 32 rows of x (2 vectors) x 12 rows of W per tile -------------------------
constexpr int MB = 2 * V16f::W, NR = V16f::kGemmNR;  // the tile shape gemm_f32.cpp uses too

static inline void store_tile(float* C, int64_t ldc, const __m512 (*acc)[2], int64_t mrows, int64_t nr) {
  alignas(64) float tile[NR][MB];
  for (int r = 0; r < NR; r++) {
    _mm512_store_ps(tile[r], acc[r][0]);
    _mm512_store_ps(tile[r] + 16, acc[r][1]);
  }
  for (int64_t i = 0; i < mrows; i++)
    for (int64_t r = 0; r < nr; r++) C[i * ldc + r] = tile[r][i];
}

static void gemm_bf16(float* C, int64_t ldc, const void* xpack, int64_t M, const void* const* wrows, int64_t nr,
                      int64_t K) {
  const uint32_t* w[NR];
  for (int r = 0; r < NR; r++) w[r] = (const uint32_t*)wrows[r < nr ? r : 0];
  const int64_t P = K / 2;
  for (int64_t mb = 0; mb * MB < M; mb++) {
    const uint32_t* xb = (const uint32_t*)xpack + mb * P * MB;
    __m512 acc[NR][2];
    for (int r = 0; r < NR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < P; p++) {
      const __m512bh x0 = (__m512bh)_mm512_loadu_si512((const void*)(xb + p * MB));
      const __m512bh x1 = (__m512bh)_mm512_loadu_si512((const void*)(xb + p * MB + 16));
      for (int r = 0; r < NR; r++) {
        uint32_t wp;
        std::memcpy(&wp, w[r] + p, 4);
        const __m512bh wv = (__m512bh)_mm512_set1_epi32((int)wp);
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x0, wv);
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x1, wv);
      }
    }
    const int64_t mrows = M - mb * MB < MB ? M - mb * MB : MB;
    store_tile(C + mb * MB * ldc, ldc, acc, mrows, nr);
  }
}

void fill_qgemm(QgemmTable& t) {
  FL_IMPL(t, quantize_act_q4_0, avx512);
  FL_IMPL(t, quantize_act_q8_0, avx512);
  FL_IMPL(t, quantize_row_q8_K, avx512);
  FL_IMPL(t, dequantize_row_q4_0, avx512);
  FL_IMPL(t, dequantize_row_q8_0, avx512);
  FL_IMPL(t, dequantize_row_q4_K, avx512);
  FL_IMPL(t, dequantize_row_q5_K, avx512);
  FL_IMPL(t, dequantize_row_q6_K, avx512);
  FL_IMPL(t, dequantize_row_f16, avx512);
  FL_IMPL(t, dequantize_row_bf16, avx512);
  FL_IMPL(t, gemv_q4_0_q8_0, avx512);
  FL_IMPL(t, gemv_q8_0_q8_0, avx512);
  FL_IMPL(t, gemv_q4_K_q8_K, avx512);
  FL_IMPL(t, gemv_q5_K_q8_K, avx512);
  FL_IMPL(t, gemv_q6_K_q8_K, avx512);
  FL_IMPL(t, gemv_f32_f32, avx512);
  FL_IMPL(t, gemv_f16_f32, avx512);
  FL_IMPL(t, gemv_bf16_f32, avx512);
  FL_IMPL(t, gemv_q4_0x16_q8_0, avx512);
  FL_IMPL(t, gemv_q8_0x16_q8_0, avx512);
  FL_IMPL(t, gemv_q4_Kx16_q8_K, avx512);
  FL_IMPL(t, gemv_q6_Kx16_q8_K, avx512);
  FL_IMPL(t, round_bf16_row, avx512);
  fill_gemm_f32(t);  // gemm_f32.cpp
  FL_IMPL(t, gemm_bf16, avx512);
  t.gemm_mb = MB;
  t.gemm_nr = NR;
}

}  // namespace avx512
}  // namespace fuselm
