// Family `moe`: argument invariants, the router split over the pool, the
// permutation, and the expert FFN schedule (see ops/moe.h for the semantics).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "fuselm/ops.h"

namespace fuselm {

static void report_moe(const void* p, void (*emit)(const char*, const char*, void*), void* u) {
  const MoeTable& t = *(const MoeTable*)p;
  emit("route", t.route_row.isa, u);
  emit("swiglu", t.swiglu.isa, u);
  emit("axpy", t.axpy.isa, u);
}
static const Dispatch<MoeTable> moe_dispatch("moe", ref::fill_moe, avx2::fill_moe, avx512::fill_moe, report_moe);

static std::string str(int64_t v) { return std::to_string(v); }

// ---- router ----------------------------------------------------------------

static Status check_route(int64_t T, int64_t E, const MoeRouteParams& p) {
  if (T < 0) return Status::range("T", "integer >= 0", str(T));
  if (E < 1 || E > kMoeMaxExperts) return Status::range("E", "integer in [1, 256]", str(E));
  if (p.scoring < MOE_SOFTMAX_TOPK || p.scoring > MOE_SIGMOID_GROUP)
    return Status::range("scoring", "0 (softmax_topk), 1 (topk_softmax) or 2 (sigmoid_group)", str(p.scoring));
  const int64_t kmax = E < kMoeMaxK ? E : kMoeMaxK;
  if (p.k < 1 || p.k > kmax) return Status::range("k", "integer in [1, " + str(kmax) + "]", str(p.k));
  if (!std::isfinite(p.scale)) return Status::range("scale", "a finite number", std::to_string(p.scale));
  if (p.scoring == MOE_SIGMOID_GROUP) {
    if (p.n_group < 1 || p.n_group > E || E % p.n_group != 0)
      return Status::range("n_group", "a divisor of E=" + str(E), str(p.n_group));
    if (p.topk_group < 1 || p.topk_group > p.n_group)
      return Status::range("topk_group", "integer in [1, " + str(p.n_group) + "]", str(p.topk_group));
    const int64_t avail = (int64_t)p.topk_group * (E / p.n_group);
    if (p.k > avail)
      return Status::range("k", "at most topk_group * E / n_group = " + str(avail), str(p.k));
    if (p.bias)
      for (int64_t e = 0; e < E; e++)
        if (!std::isfinite(p.bias[e])) return Status::range("bias[" + str(e) + "]", "a finite number", std::to_string(p.bias[e]));
  } else if (p.bias) {
    return Status::range("bias", "no bias outside sigmoid_group scoring", "a bias");
  }
  return Status::Ok();
}

Status moe_route(int32_t* ids, float* weights, const float* logits, int64_t T, int64_t E, const MoeRouteParams& p) {
  FL_TRY(check_route(T, E, p));
  auto fn = moe_dispatch().route_row.fn;
  const int64_t k = p.k;
  std::vector<int64_t> bad_row(n_threads() + 1, -1);
  parallel_for(T, 64, [&](int64_t b, int64_t e, int ith) {
    thread_local std::vector<float> scratch;
    const size_t need = (size_t)moe_route_scratch_floats(E) + 16;
    if (scratch.size() < need) scratch.resize(need);
    float* s = scratch.data();
    s += (16 - ((uintptr_t)s / 4) % 16) % 16;  // 64-byte aligned
    for (int64_t t = b; t < e; t++) {
      if (!fn(ids + t * k, weights + t * k, logits + t * E, E, p, s)) {
        bad_row[ith] = t;
        return;
      }
    }
  });
  for (int64_t t : bad_row)
    if (t >= 0) {
      for (int64_t e = 0; e < E; e++) {
        const float v = logits[t * E + e];
        if (v != v || v == INFINITY)
          return Status::range("logits[" + str(t) + ", " + str(e) + "]", "a finite number or -Infinity",
                               v != v ? "NaN" : "Infinity");
      }
    }
  return Status::Ok();
}

// ---- permutation ------------------------------------------------------------

int64_t moe_permute_capacity(int64_t T, int64_t k, int64_t E, int64_t pad) {
  return T * k + E * (pad > 1 ? pad - 1 : 0);
}

static Status check_ids(const int32_t* ids, int64_t T, int64_t k, int64_t E) {
  for (int64_t i = 0; i < T * k; i++)
    if (ids[i] < 0 || ids[i] >= E)
      return Status::range("ids[" + str(i / k) + ", " + str(i % k) + "]", "an expert id in [0, " + str(E - 1) + "]",
                           str(ids[i]));
  return Status::Ok();
}

Status moe_permute(int32_t* counts, int32_t* offsets, int32_t* pairs, int32_t* inverse, int64_t* total,
                   const int32_t* ids, int64_t T, int64_t k, int64_t E, int64_t pad) {
  if (T < 0) return Status::range("T", "integer >= 0", str(T));
  if (E < 1 || E > (1 << 20)) return Status::range("E", "integer in [1, 1048576]", str(E));
  if (k < 1 || k > E) return Status::range("k", "integer in [1, E=" + str(E) + "]", str(k));
  if (pad < 1 || pad > 4096) return Status::range("pad", "integer in [1, 4096]", str(pad));
  if (moe_permute_capacity(T, k, E, pad) > INT32_MAX)
    return Status::range("T * k", "a pair count that fits int32", str(T * k));
  FL_TRY(check_ids(ids, T, k, E));
  for (int64_t e = 0; e < E; e++) counts[e] = 0;
  for (int64_t i = 0; i < T * k; i++) counts[ids[i]]++;
  offsets[0] = 0;
  for (int64_t e = 0; e < E; e++) offsets[e + 1] = offsets[e] + (int32_t)((counts[e] + pad - 1) / pad * pad);
  *total = offsets[E];
  // fill: stable in (t, j) order; padding rows -1
  std::vector<int32_t> cur(offsets, offsets + E);
  for (int64_t i = 0; i < T * k; i++) {
    const int32_t row = cur[ids[i]]++;
    pairs[row] = (int32_t)i;
    inverse[i] = row;
  }
  for (int64_t e = 0; e < E; e++)
    for (int32_t r = cur[e]; r < offsets[e + 1]; r++) pairs[r] = -1;
  return Status::Ok();
}

}  // namespace fuselm
