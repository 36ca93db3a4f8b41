// AVX-512 elementwise kernels: 32 lanes a step, masked tails (no scalar loop).
#include <immintrin.h>
#include "fuselm/ops/elementwise.h"
#include "cpu/avx512/vmath.h"

namespace fuselm {
namespace avx512 {

enum Op { ADD, MUL, SWIGLU, SILU, GELU, SIGMOID };

template <Op OP>
static inline __m512 apply(__m512 a, __m512 b) {
  if (OP == ADD) return _mm512_add_ps(a, b);
  if (OP == MUL) return _mm512_mul_ps(a, b);
  if (OP == SWIGLU) return _mm512_mul_ps(vsilu(a), b);
  if (OP == SILU) return vsilu(a);
  if (OP == GELU) return vgelu(a);
  return vsigmoid(a);
}

// unary ops pass b = a (the second operand is ignored)
template <Op OP, DType DA, DType DB>
static void run(float* out, const void* a, const void* b, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 y0 = apply<OP>(vload<DA>(a, i), vload<DB>(b, i));
    const __m512 y1 = apply<OP>(vload<DA>(a, i + 16), vload<DB>(b, i + 16));
    _mm512_storeu_ps(out + i, y0);
    _mm512_storeu_ps(out + i + 16, y1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask16(n - i);
    _mm512_mask_storeu_ps(out + i, m, apply<OP>(vload<DA>(a, i, m), vload<DB>(b, i, m)));
  }
}

template <Op OP, DType DA>
static void binary_b(float* out, const void* a, const void* b, DType bd, int64_t n) {
  if (bd == DType::F32) run<OP, DA, DType::F32>(out, a, b, n);
  else if (bd == DType::F16) run<OP, DA, DType::F16>(out, a, b, n);
  else run<OP, DA, DType::BF16>(out, a, b, n);
}

template <Op OP>
static void binary(float* out, const void* a, DType ad, const void* b, DType bd, int64_t n) {
  if (ad == DType::F32) binary_b<OP, DType::F32>(out, a, b, bd, n);
  else if (ad == DType::F16) binary_b<OP, DType::F16>(out, a, b, bd, n);
  else binary_b<OP, DType::BF16>(out, a, b, bd, n);
}

template <Op OP>
static void unary(float* out, const void* x, DType d, int64_t n) {
  if (d == DType::F32) run<OP, DType::F32, DType::F32>(out, x, x, n);
  else if (d == DType::F16) run<OP, DType::F16, DType::F16>(out, x, x, n);
  else run<OP, DType::BF16, DType::BF16>(out, x, x, n);
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
  FL_IMPL(t, add, avx512);
  FL_IMPL(t, mul, avx512);
  FL_IMPL(t, swiglu, avx512);
  FL_IMPL(t, silu, avx512);
  FL_IMPL(t, gelu, avx512);
  FL_IMPL(t, sigmoid, avx512);
}

}  // namespace avx512
}  // namespace fuselm
