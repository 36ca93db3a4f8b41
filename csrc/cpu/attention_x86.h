// Family `attention`, the parts of the x86 tile kernels written once for both widths over a
// vector-traits type V (csrc/cpu/avx2/vec.h V8f, csrc/cpu/avx512/vec.h V16f): soft-capping and the
// online-softmax step of one row. The score and P.V loops stay per ISA: they block registers
// differently (AVX2 2 rows x 32 keys, AVX-512 4 rows x 64 keys), walk the keys differently (weights
// vs mask bits) and prefetch differently. Static, so each ISA's unit gets its own copy.
#pragma once
#include <cmath>
#include <cstdint>
#include "fuselm/ops/attention_kernels.h"

namespace fuselm {
namespace x86 {

// cap * tanh(x / cap), tanh(y) = 1 - 2 / (exp(2y) + 1) with 2y clamped to [-18, 18]
template <class V>
static inline typename V::F attn_softcap(typename V::F x, float cap) {
  using F = typename V::F;
  F y = V::mul(x, V::set1(2.0f / cap));
  y = V::min(V::max(y, V::set1(-18.0f)), V::set1(18.0f));
  const F e = V::exp(y);
  const F th = V::sub(V::set1(1.0f), V::div(V::set1(2.0f), V::add(e, V::set1(1.0f))));
  return V::mul(th, V::set1(cap));
}

// Step 2 of a tile for one row: its KV_BLOCK scores s (bit t of mk: key t visible) become
// p_t = exp(s_t - m') where visible, 0 elsewhere (times vscale for int8), with m' = max(m, max_t s_t);
// l = l e^{m - m'} + sum p; m = m'. Returns alpha = e^{m - m'} (1 for a row that sees no key).
template <class V>
static inline float attn_softmax_row(float* s, uint64_t mk, float* m, float* l, float softcap, const float* vscale) {
  using F = typename V::F;
  constexpr int W = V::W, NJ = KV_BLOCK / V::W;
  if (!mk) {
    for (int j = 0; j < NJ; j++) V::store(s + W * j, V::zero());
    return 1.0f;
  }
  F sv[NJ];
  typename V::Keep keep[NJ];
  F mxv = V::set1(-INFINITY);
#pragma GCC unroll 8
  for (int j = 0; j < NJ; j++) {
    keep[j] = V::keep_bits((uint32_t)(mk >> (W * j)));
    F x = V::load(s + W * j);
    if (softcap > 0) x = attn_softcap<V>(x, softcap);
    sv[j] = x;
    mxv = V::max_kept(mxv, keep[j], x);
  }
  const float mx = V::reduce_max(mxv);
  const float m_new = *m > mx ? *m : mx;
  const float al = std::exp(*m - m_new);
  const F mn = V::set1(m_new);
  F sum = V::zero();
#pragma GCC unroll 8
  for (int j = 0; j < NJ; j++) {
    F p = V::zero_unkept(keep[j], V::exp(V::sub(sv[j], mn)));
    sum = V::add(sum, p);
    if (vscale) p = V::mul(p, V::load(vscale + W * j));
    V::store(s + W * j, p);
  }
  *l = *l * al + V::reduce_add(sum);
  *m = m_new;
  return al;
}

}  // namespace x86
}  // namespace fuselm
