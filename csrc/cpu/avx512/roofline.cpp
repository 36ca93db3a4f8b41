// AVX-512 roofline loops: 64-byte loads, streaming stores, and 16 independent
// register chains of vfmadd231ps / vpdpbusd / vdpbf16ps (enough to cover the
// latency x throughput of every current core).
#include <immintrin.h>
#include <cstddef>
#include <cstdint>

#include "fuselm/roofline.h"

namespace fuselm {
namespace avx512 {

// horizontal sums through memory (GCC 12's _mm512_reduce_* warn under -Wall)
static inline double hsum_epi64(__m512i v) {
  alignas(64) int64_t l[8];
  _mm512_store_si512(l, v);
  return (double)(l[0] + l[1] + l[2] + l[3] + l[4] + l[5] + l[6] + l[7]);
}
static inline double hsum_epi32(__m512i v) {
  alignas(64) int32_t l[16];
  _mm512_store_si512(l, v);
  double s = 0;
  for (int i = 0; i < 16; i++) s += l[i];
  return s;
}
static inline double hsum_ps(__m512 v) {
  alignas(64) float l[16];
  _mm512_store_ps(l, v);
  double s = 0;
  for (int i = 0; i < 16; i++) s += l[i];
  return s;
}

static uint64_t read(const void* p, size_t bytes) {
  const __m512i* v = static_cast<const __m512i*>(p);
  const size_t n = bytes / 64;
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = _mm512_add_epi64(s0, _mm512_load_si512(v + i));
    s1 = _mm512_add_epi64(s1, _mm512_load_si512(v + i + 1));
    s2 = _mm512_add_epi64(s2, _mm512_load_si512(v + i + 2));
    s3 = _mm512_add_epi64(s3, _mm512_load_si512(v + i + 3));
    s0 = _mm512_add_epi64(s0, _mm512_load_si512(v + i + 4));
    s1 = _mm512_add_epi64(s1, _mm512_load_si512(v + i + 5));
    s2 = _mm512_add_epi64(s2, _mm512_load_si512(v + i + 6));
    s3 = _mm512_add_epi64(s3, _mm512_load_si512(v + i + 7));
  }
  for (; i < n; i++) s0 = _mm512_add_epi64(s0, _mm512_load_si512(v + i));
  s0 = _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3));
  return (uint64_t)hsum_epi64(s0);
}

static void write(void* p, size_t bytes, uint64_t value) {
  __m512i* v = static_cast<__m512i*>(p);
  const size_t n = bytes / 64;
  const __m512i x = _mm512_set1_epi64((long long)value);
  for (size_t i = 0; i < n; i++) _mm512_stream_si512(v + i, x);
  _mm_sfence();
}

static void copy(void* dst, const void* src, size_t bytes) {
  __m512i* d = static_cast<__m512i*>(dst);
  const __m512i* s = static_cast<const __m512i*>(src);
  const size_t n = bytes / 64;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m512i a = _mm512_load_si512(s + i), b = _mm512_load_si512(s + i + 1);
    __m512i c = _mm512_load_si512(s + i + 2), e = _mm512_load_si512(s + i + 3);
    _mm512_stream_si512(d + i, a);
    _mm512_stream_si512(d + i + 1, b);
    _mm512_stream_si512(d + i + 2, c);
    _mm512_stream_si512(d + i + 3, e);
  }
  for (; i < n; i++) _mm512_stream_si512(d + i, _mm512_load_si512(s + i));
  _mm_sfence();
}

// a = a * m + c converges to c / (1 - m): no overflow, no denormals
static double fma(int64_t iters) {
  const __m512 m = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
  __m512 a[16];
  for (int k = 0; k < 16; k++) a[k] = _mm512_set1_ps(0.5f + 0.01f * (float)k);
  for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 16
    for (int k = 0; k < 16; k++) a[k] = _mm512_fmadd_ps(a[k], m, c);
  }
  __m512 s = a[0];
  for (int k = 1; k < 16; k++) s = _mm512_add_ps(s, a[k]);
  return hsum_ps(s);
}

// int32 accumulators wrap; only the instruction count matters
static double int8(int64_t iters) {
  const __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
  __m512i a[16];
  for (int k = 0; k < 16; k++) a[k] = _mm512_set1_epi32(k);
  for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 16
    for (int k = 0; k < 16; k++) a[k] = _mm512_dpbusd_epi32(a[k], u, s);
  }
  __m512i r = a[0];
  for (int k = 1; k < 16; k++) r = _mm512_add_epi32(r, a[k]);
  return hsum_epi32(r);
}

// 0.001 * 0.001 * 2 per lane per step: stays far from overflow for any run length we time
static double bf16(int64_t iters) {
  const __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
  __m512 a[16];
  for (int k = 0; k < 16; k++) a[k] = _mm512_set1_ps((float)k);
  for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 16
    for (int k = 0; k < 16; k++) a[k] = _mm512_dpbf16_ps(a[k], x, x);
  }
  __m512 r = a[0];
  for (int k = 1; k < 16; k++) r = _mm512_add_ps(r, a[k]);
  return hsum_ps(r);
}

void fill_roofline(RooflineLoops& t) {
  t.isa = "avx512";
  t.read = read;
  t.write = write;
  t.copy = copy;
  t.fma = fma;
  t.int8 = int8;
  t.bf16 = bf16;
  t.fma_ops = 16 * 16 * 2;  // 16 chains x 16 lanes x (mul + add)
  t.int8_ops = 16 * 64 * 2;  // 16 chains x 64 u8*s8 products x (mul + add)
  t.bf16_ops = 16 * 32 * 2;  // 16 chains x 32 bf16 products x (mul + add)
  t.fma_instr = "vfmadd231ps zmm";
  t.int8_instr = "vpdpbusd zmm";
  t.bf16_instr = "vdpbf16ps zmm";
}

}  // namespace avx512
}  // namespace fuselm
