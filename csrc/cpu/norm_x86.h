// Family `norm`, the x86 kernels written once over a vector-traits type V (csrc/cpu/avx2/vec.h V8f,
// csrc/cpu/avx512/vec.h V16f): two accumulators of W lanes a step, then the tail: masked steps
// (V::kMaskedTail) or the scalar helpers the ref path uses. Static, so each ISA's translation unit
// that instantiates them gets its own copy compiled with its flags.
#pragma once
#include <cmath>
#include <cstdint>
#include "fuselm/ops/norm.h"
#include "cpu/scalar.h"
#include "cpu/scalar_ops.h"

namespace fuselm {
namespace x86 {

template <class V>
static void rmsnorm_row(float* out, const float* x, const float* w, int64_t dim, float eps) {
  using F = typename V::F;
  constexpr int W = V::W;
  F a0 = V::zero(), a1 = V::zero();
  int64_t i = 0;
  for (; i + 2 * W <= dim; i += 2 * W) {
    const F v0 = V::load(x + i), v1 = V::load(x + i + W);
    a0 = V::fmadd(v0, v0, a0);
    a1 = V::fmadd(v1, v1, a1);
  }
  double ss;
  if constexpr (V::kMaskedTail) {
    for (; i < dim; i += W) {
      const F v = V::load(V::tail(dim - i), x + i);
      a0 = V::fmadd(v, v, a0);
    }
    ss = (double)V::reduce_add(V::add(a0, a1));
  } else {
    ss = (double)V::reduce_add(V::add(a0, a1)) + scalar::sum_sq(x, i, dim);
  }
  const F vs = V::set1((float)(1.0 / std::sqrt(ss / (double)dim + (double)eps)));
  int64_t j = 0;
  for (; j + W <= dim; j += W) {
    F v = V::mul(V::load(x + j), vs);
    if (w) v = V::mul(v, V::load(w + j));
    V::store(out + j, v);
  }
  if constexpr (V::kMaskedTail) {
    if (j < dim) {
      const auto m = V::tail(dim - j);
      F v = V::mul(V::load(m, x + j), vs);
      if (w) v = V::mul(v, V::load(m, w + j));
      V::store(out + j, m, v);
    }
  } else {
    scalar::rmsnorm_row(out, x, w, j, dim, ss, dim, eps);
  }
}

// three passes over a row that stays in cache: max, exp (stored) with their sum, scale by 1/sum
template <class V>
static void softmax_row(float* out, const float* x, int64_t dim, float scale) {
  using F = typename V::F;
  constexpr int W = V::W;
  const F ninf = V::set1(-INFINITY);
  F m0 = ninf, m1 = ninf;
  int64_t i = 0;
  for (; i + 2 * W <= dim; i += 2 * W) {
    m0 = V::max(m0, V::load(x + i));
    m1 = V::max(m1, V::load(x + i + W));
  }
  float m;
  if constexpr (V::kMaskedTail) {
    for (; i < dim; i += W) m0 = V::max(m0, V::load(ninf, V::tail(dim - i), x + i));
    m = V::reduce_max(V::max(m0, m1));
  } else {
    m = scalar::max_of(x, i, dim, V::reduce_max(V::max(m0, m1)));
  }
  if (m == -INFINITY) { scalar::softmax_masked_row(out, x, dim); return; }
  const float ms = scale * m;
  const F vs = V::set1(scale), vm = V::set1(ms);
  double sum = 0;  // f32 partial sums over blocks of 128 steps, added in double: long rows stay accurate
  i = 0;
  while (i + 2 * W <= dim) {
    F s0 = V::zero(), s1 = s0;
    const int64_t stop = i + 128 * W < dim ? i + 128 * W : dim;
    for (; i + 2 * W <= stop; i += 2 * W) {
      const F e0 = V::exp(V::fmsub(vs, V::load(x + i), vm));
      const F e1 = V::exp(V::fmsub(vs, V::load(x + i + W), vm));
      V::store(out + i, e0);
      V::store(out + i + W, e1);
      s0 = V::add(s0, e0);
      s1 = V::add(s1, e1);
    }
    sum += (double)V::reduce_add(V::add(s0, s1));
  }
  if constexpr (V::kMaskedTail) {
    F st = V::zero();
    for (; i < dim; i += W) {
      const auto k = V::tail(dim - i);
      const F e = V::exp(V::fmsub(vs, V::load(k, x + i), vm));
      V::store(out + i, k, e);
      st = V::add(st, k, st, e);
    }
    sum += (double)V::reduce_add(st);
  } else {
    sum += scalar::softmax_exp(out, x, i, dim, scale, ms);
  }
  const float inv = (float)(1.0 / sum);
  const F vi = V::set1(inv);
  int64_t j = 0;
  for (; j + W <= dim; j += W) V::store(out + j, V::mul(V::load(out + j), vi));
  if constexpr (V::kMaskedTail) {
    if (j < dim) {
      const auto k = V::tail(dim - j);
      V::store(out + j, k, V::mul(V::load(k, out + j), vi));
    }
  } else {
    for (; j < dim; j++) out[j] *= inv;
  }
}

}  // namespace x86
}  // namespace fuselm
