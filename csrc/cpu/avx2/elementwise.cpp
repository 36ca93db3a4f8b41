// AVX2+FMA elementwise kernels: 8 lanes a step (16 when unrolled), the scalar helper for the tail.
#include <immintrin.h>
#include "fuselm/ops/elementwise.h"
#include "cpu/avx2/vmath.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace avx2 {

enum Op { ADD, MUL, SWIGLU, SILU, GELU, SIGMOID };

template <Op OP>
static inline __m256 apply(__m256 a, __m256 b) {
  if (OP == ADD) return _mm256_add_ps(a, b);
  if (OP == MUL) return _mm256_mul_ps(a, b);
  return _mm256_mul_ps(vsilu(a), b);
}

template <Op OP>
static inline __m256 uapply(__m256 x) {
  if (OP == SILU) return vsilu(x);
  if (OP == GELU) return vgelu(x);
  return vsigmoid(x);
}

template <Op OP, DType DA, DType DB>
static void binary_impl(float* out, const void* a, const void* b, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 y0 = apply<OP>(vload<DA>(a, i), vload<DB>(b, i));
    const __m256 y1 = apply<OP>(vload<DA>(a, i + 8), vload<DB>(b, i + 8));
    _mm256_storeu_ps(out + i, y0);
    _mm256_storeu_ps(out + i + 8, y1);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, apply<OP>(vload<DA>(a, i), vload<DB>(b, i)));
  if (OP == ADD) scalar::add(out, a, DA, b, DB, i, n);
  if (OP == MUL) scalar::mul(out, a, DA, b, DB, i, n);
  if (OP == SWIGLU) scalar::swiglu(out, a, DA, b, DB, i, n);
}

template <Op OP, DType DA>
static void binary_b(float* out, const void* a, const void* b, DType bd, int64_t n) {
  if (bd == DType::F32) binary_impl<OP, DA, DType::F32>(out, a, b, n);
  else if (bd == DType::F16) binary_impl<OP, DA, DType::F16>(out, a, b, n);
  else binary_impl<OP, DA, DType::BF16>(out, a, b, n);
}

template <Op OP>
static void binary(float* out, const void* a, DType ad, const void* b, DType bd, int64_t n) {
  if (ad == DType::F32) binary_b<OP, DType::F32>(out, a, b, bd, n);
  else if (ad == DType::F16) binary_b<OP, DType::F16>(out, a, b, bd, n);
  else binary_b<OP, DType::BF16>(out, a, b, bd, n);
}

template <Op OP, DType D>
static void unary_impl(float* out, const void* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 x0 = vload<D>(x, i), x1 = vload<D>(x, i + 8);
    _mm256_storeu_ps(out + i, uapply<OP>(x0));
    _mm256_storeu_ps(out + i + 8, uapply<OP>(x1));
  }
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, uapply<OP>(vload<D>(x, i)));
  }
  if (OP == SILU) scalar::silu(out, x, D, i, n);
  else if (OP == GELU) scalar::gelu(out, x, D, i, n);
  else scalar::sigmoid(out, x, D, i, n);
}

template <Op OP>
static void unary(float* out, const void* x, DType d, int64_t n) {
  if (d == DType::F32) unary_impl<OP, DType::F32>(out, x, n);
  else if (d == DType::F16) unary_impl<OP, DType::F16>(out, x, n);
  else unary_impl<OP, DType::BF16>(out, x, n);
}

static void add(float* out, const void* a, DType ad, const void* b, DType bd, int64_t n) { binary<ADD>(out, a, ad, b, bd, n); }
static void mul(float* out, const void* a, DType ad, const void* b, DType bd, int64_t n) { binary<MUL>(out, a, ad, b, bd, n); }
static void swiglu(float* out, const void* a, DType ad, const void* b, DType bd, int64_t n) {
  binary<SWIGLU>(out, a, ad, b, bd, n);
}
static void silu(float* out, const void* x, DType d, int64_t n) { unary<SILU>(out, x, d, n); }
static void gelu(float* out, const void* x, DType d, int64_t n) { unary<GELU>(out, x, d, n); }
static void sigmoid(float* out, const void* x, DType d, int64_t n) { unary<SIGMOID>(out, x, d, n); }

void fill_elementwise(ElementwiseTable& t) {
  FL_IMPL(t, add, avx2);
  FL_IMPL(t, mul, avx2);
  FL_IMPL(t, swiglu, avx2);
  FL_IMPL(t, silu, avx2);
  FL_IMPL(t, gelu, avx2);
  FL_IMPL(t, sigmoid, avx2);
}

}  // namespace avx2
}  // namespace fuselm
