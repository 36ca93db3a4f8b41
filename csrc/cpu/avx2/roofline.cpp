// AVX2 roofline loops: 32-byte loads, streaming stores, 12 register chains of
// vfmadd231ps, and the AVX2 int8 dot (vpmaddubsw + vpmaddwd + vpaddd, what an
// AVX2 quantized kernel issues). No BF16 dot before AVX-512 BF16.
#include <immintrin.h>
#include <cstddef>
#include <cstdint>

#include "fuselm/roofline.h"

namespace fuselm {
namespace avx2 {

static uint64_t read(const void* p, size_t bytes) {
  const __m256i* v = static_cast<const __m256i*>(p);
  const size_t n = bytes / 32;
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = _mm256_add_epi64(s0, _mm256_load_si256(v + i));
    s1 = _mm256_add_epi64(s1, _mm256_load_si256(v + i + 1));
    s2 = _mm256_add_epi64(s2, _mm256_load_si256(v + i + 2));
    s3 = _mm256_add_epi64(s3, _mm256_load_si256(v + i + 3));
    s0 = _mm256_add_epi64(s0, _mm256_load_si256(v + i + 4));
    s1 = _mm256_add_epi64(s1, _mm256_load_si256(v + i + 5));
    s2 = _mm256_add_epi64(s2, _mm256_load_si256(v + i + 6));
    s3 = _mm256_add_epi64(s3, _mm256_load_si256(v + i + 7));
  }
  for (; i < n; i++) s0 = _mm256_add_epi64(s0, _mm256_load_si256(v + i));
  s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s0);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

static void write(void* p, size_t bytes, uint64_t value) {
  __m256i* v = static_cast<__m256i*>(p);
  const size_t n = bytes / 32;
  const __m256i x = _mm256_set1_epi64x((long long)value);
  for (size_t i = 0; i < n; i++) _mm256_stream_si256(v + i, x);
  _mm_sfence();
}

static void copy(void* dst, const void* src, size_t bytes) {
  __m256i* d = static_cast<__m256i*>(dst);
  const __m256i* s = static_cast<const __m256i*>(src);
  const size_t n = bytes / 32;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256i a = _mm256_load_si256(s + i), b = _mm256_load_si256(s + i + 1);
    __m256i c = _mm256_load_si256(s + i + 2), e = _mm256_load_si256(s + i + 3);
    _mm256_stream_si256(d + i, a);
    _mm256_stream_si256(d + i + 1, b);
    _mm256_stream_si256(d + i + 2, c);
    _mm256_stream_si256(d + i + 3, e);
  }
  for (; i < n; i++) _mm256_stream_si256(d + i, _mm256_load_si256(s + i));
  _mm_sfence();
}

static double hsum(__m256 v) {
  alignas(32) float f[8];
  _mm256_store_ps(f, v);
  double s = 0;
  for (int i = 0; i < 8; i++) s += f[i];
  return s;
}

static double fma(int64_t iters) {
  const __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
  __m256 a[12];
  for (int k = 0; k < 12; k++) a[k] = _mm256_set1_ps(0.5f + 0.01f * (float)k);
  for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; k++) a[k] = _mm256_fmadd_ps(a[k], m, c);
  }
  __m256 s = a[0];
  for (int k = 1; k < 12; k++) s = _mm256_add_ps(s, a[k]);
  return hsum(s);
}

// Four u8 vectors x two s8 vectors give eight distinct products per step; the
// empty asm makes the u8 inputs opaque each step so nothing is hoisted or shared.
static double int8(int64_t iters) {
  __m256i u0 = _mm256_set1_epi8(1), u1 = _mm256_set1_epi8(2), u2 = _mm256_set1_epi8(3), u3 = _mm256_set1_epi8(4);
  const __m256i s0 = _mm256_set1_epi8(-2), s1 = _mm256_set1_epi8(5), ones = _mm256_set1_epi16(1);
  __m256i a[8];
  for (int k = 0; k < 8; k++) a[k] = _mm256_set1_epi32(k);
  for (int64_t i = 0; i < iters; i++) {
    __asm__("" : "+x"(u0), "+x"(u1), "+x"(u2), "+x"(u3));
    a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(_mm256_maddubs_epi16(u0, s0), ones));
    a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(_mm256_maddubs_epi16(u1, s0), ones));
    a[2] = _mm256_add_epi32(a[2], _mm256_madd_epi16(_mm256_maddubs_epi16(u2, s0), ones));
    a[3] = _mm256_add_epi32(a[3], _mm256_madd_epi16(_mm256_maddubs_epi16(u3, s0), ones));
    a[4] = _mm256_add_epi32(a[4], _mm256_madd_epi16(_mm256_maddubs_epi16(u0, s1), ones));
    a[5] = _mm256_add_epi32(a[5], _mm256_madd_epi16(_mm256_maddubs_epi16(u1, s1), ones));
    a[6] = _mm256_add_epi32(a[6], _mm256_madd_epi16(_mm256_maddubs_epi16(u2, s1), ones));
    a[7] = _mm256_add_epi32(a[7], _mm256_madd_epi16(_mm256_maddubs_epi16(u3, s1), ones));
  }
  __m256i r = a[0];
  for (int k = 1; k < 8; k++) r = _mm256_add_epi32(r, a[k]);
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), r);
  double t = 0;
  for (int i = 0; i < 8; i++) t += lanes[i];
  return t;
}

void fill_roofline(RooflineLoops& t) {
  t.isa = "avx2";
  t.read = read;
  t.write = write;
  t.copy = copy;
  t.fma = fma;
  t.int8 = int8;
  t.bf16 = nullptr;
  t.fma_ops = 12 * 8 * 2;   // 12 chains x 8 lanes x (mul + add)
  t.int8_ops = 8 * 32 * 2;  // 8 chains x 32 u8*s8 products x (mul + add)
  t.bf16_ops = 0;
  t.fma_instr = "vfmadd231ps ymm";
  t.int8_instr = "vpmaddubsw+vpmaddwd+vpaddd ymm";
  t.bf16_instr = "";
}

}  // namespace avx2
}  // namespace fuselm
