// Family `elementwise`, the x86 kernels written once over a vector-traits type V (csrc/cpu/avx2/vec.h
// V8f, csrc/cpu/avx512/vec.h V16f): 2W lanes a step, then W, then the tail: masked steps
// (V::kMaskedTail) or the scalar helper the ref path uses. f32/f16/bf16 inputs are widened as they
// load. Static, so each ISA's translation unit that instantiates them gets its own copy.
#pragma once
#include <cstdint>
#include "fuselm/ops/elementwise.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace x86 {

enum EltOp { ADD, MUL, SWIGLU, SILU, GELU, SIGMOID };

// unary ops ignore b
template <class V, EltOp OP>
static inline typename V::F elt_apply(typename V::F a, typename V::F b) {
  if (OP == ADD) return V::add(a, b);
  if (OP == MUL) return V::mul(a, b);
  if (OP == SWIGLU) return V::mul(V::silu(a), b);
  if (OP == SILU) return V::silu(a);
  if (OP == GELU) return V::gelu(a);
  return V::sigmoid(a);
}

// out[i] = OP(a[i], b[i]) for i < n; unary ops pass b = a
template <class V, EltOp OP, DType DA, DType DB>
static void elt_run(float* out, const void* a, const void* b, int64_t n) {
  constexpr int W = V::W;
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const auto y0 = elt_apply<V, OP>(V::template load_as<DA>(a, i), V::template load_as<DB>(b, i));
    const auto y1 = elt_apply<V, OP>(V::template load_as<DA>(a, i + W), V::template load_as<DB>(b, i + W));
    V::store(out + i, y0);
    V::store(out + i + W, y1);
  }
  for (; i + W <= n; i += W) V::store(out + i, elt_apply<V, OP>(V::template load_as<DA>(a, i), V::template load_as<DB>(b, i)));
  if constexpr (V::kMaskedTail) {
    if (i < n) {
      const auto m = V::tail(n - i);
      V::store(out + i, m, elt_apply<V, OP>(V::template load_as<DA>(a, i, m), V::template load_as<DB>(b, i, m)));
    }
  } else {
    if (OP == ADD) scalar::add(out, a, DA, b, DB, i, n);
    else if (OP == MUL) scalar::mul(out, a, DA, b, DB, i, n);
    else if (OP == SWIGLU) scalar::swiglu(out, a, DA, b, DB, i, n);
    else if (OP == SILU) scalar::silu(out, a, DA, i, n);
    else if (OP == GELU) scalar::gelu(out, a, DA, i, n);
    else scalar::sigmoid(out, a, DA, i, n);
  }
}

template <class V, EltOp OP, DType DA>
static void elt_binary_b(float* out, const void* a, const void* b, DType bd, int64_t n) {
  if (bd == DType::F32) elt_run<V, OP, DA, DType::F32>(out, a, b, n);
  else if (bd == DType::F16) elt_run<V, OP, DA, DType::F16>(out, a, b, n);
  else elt_run<V, OP, DA, DType::BF16>(out, a, b, n);
}

template <class V, EltOp OP>
static void elt_binary(float* out, const void* a, DType ad, const void* b, DType bd, int64_t n) {
  if (ad == DType::F32) elt_binary_b<V, OP, DType::F32>(out, a, b, bd, n);
  else if (ad == DType::F16) elt_binary_b<V, OP, DType::F16>(out, a, b, bd, n);
  else elt_binary_b<V, OP, DType::BF16>(out, a, b, bd, n);
}

template <class V, EltOp OP>
static void elt_unary(float* out, const void* x, DType d, int64_t n) {
  if (d == DType::F32) elt_run<V, OP, DType::F32, DType::F32>(out, x, x, n);
  else if (d == DType::F16) elt_run<V, OP, DType::F16, DType::F16>(out, x, x, n);
  else elt_run<V, OP, DType::BF16, DType::BF16>(out, x, x, n);
}

// fills an ISA's table with the kernels over its traits (isa: its name, for cpu().kernels)
template <class V>
static void fill_elementwise(ElementwiseTable& t, const char* isa) {
  t.add = {&elt_binary<V, ADD>, isa};
  t.mul = {&elt_binary<V, MUL>, isa};
  t.swiglu = {&elt_binary<V, SWIGLU>, isa};
  t.silu = {&elt_unary<V, SILU>, isa};
  t.gelu = {&elt_unary<V, GELU>, isa};
  t.sigmoid = {&elt_unary<V, SIGMOID>, isa};
}

}  // namespace x86
}  // namespace fuselm
