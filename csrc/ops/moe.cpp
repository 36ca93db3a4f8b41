// Family `moe`: argument invariants, the router split over the pool, the
// permutation, and the expert FFN schedule (see ops/moe.h for the semantics).
#include <cmath>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "fuselm/ops.h"
#include "cpu/moe_scalar.h"

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
  thread_local std::vector<int64_t> bad_row;  // sized once: no allocation per call
  bad_row.assign((size_t)n_threads() + 1, -1);
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

// ---- expert FFN ---------------------------------------------------------------

namespace fuselm {
namespace {

// One expert's share of a call: rows [r0, r0 + M) of the row lists (tok, wt).
struct Job {
  const MoeMatrix* gate;
  const MoeMatrix* up;
  const MoeMatrix* down;
  int64_t FF;
  int64_t r0, M;
  int32_t expert;  // -1: the shared expert
  // GEMV-path buffers (M <= kGemvMaxM)
  const uint8_t* ag;                     // gate / up activation rows (M rows, the partner format)
  const uint8_t* au;
  size_t xg_off, xu_off;                 // gathered rows in xq when M > 1 (SIZE_MAX: none)
  size_t h_off;                          // floats into H and U (M rows of FF)
  size_t hq_off, hq_rb;                  // quantized h rows for down (bytes)
  bool medium;                           // GEMM path, whole experts in parallel
};

// rows [n0, n1) of one job's gate or up (a multiple of the down format's block): the
// gate and up units of one row block are taken separately (each thread streams one
// matrix at a time, faster than both in one unit with the repacked GEMV), and
// whichever finishes second fuses SwiGLU and quantizes that slice of h for down
struct Unit {
  int32_t job;
  int32_t half;  // 0: gate rows, 1: up rows
  int32_t block;  // index into the per-block completion counters
  int64_t n0, n1;
};

// activation partner kinds: the rows of x are quantized once per token and kind
enum ActKind { ACT_Q4_0 = 0, ACT_Q8_0 = 1, ACT_Q8_K = 2, ACT_F32 = 3, ACT_KINDS = 4 };
// from the format's traits, so a new repacked layout of a plain format gets its
// activations without an edit here: q4_0's family takes the q8_0 rows with q4_0's
// lane offsets, other q8_0 partners q8_0's, q8_K partners q8_K; float W takes f32
// (every format moe_ffn accepts passed check_weight: matmul's formats)
static int act_kind(DType t) {
  const DType base = repack_base(t);
  if (base == DType::Q4_0) return ACT_Q4_0;
  const DTypeTraits* tr = dtype_traits((int32_t)base);
  if (!tr || !tr->quantized) return ACT_F32;
  return tr->vec_dot_partner == DType::Q8_K ? ACT_Q8_K : ACT_Q8_0;
}
static DType act_rep(int kind) {
  static const DType rep[ACT_KINDS] = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::F32};
  return rep[kind];
}

struct FfnScratch {
  std::vector<float> weff, wt;
  std::vector<uint8_t> drop;
  std::vector<int32_t> tok, counts, cursor;
  std::vector<Job> jobs;
  std::vector<Unit> units;
  std::vector<int32_t> block_done;
  std::vector<uint8_t> xq, hq, xt[ACT_KINDS];
  std::vector<float> H, U, Y, Ybuf;
  std::vector<int32_t> inv, mjobs;
  std::vector<uint8_t> rmed;
  std::vector<std::pair<int32_t, int32_t>> rows;  // (job, row within job) of the GEMV-path jobs
};

static size_t align64(size_t v) { return (v + 63) & ~(size_t)63; }

template <class T>
static T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// name: `base` alone (e < 0) or `base[e]`, built only when the check fails
static Status check_matrix(const MoeMatrix& m, int64_t N, int64_t K, const char* base, int64_t e = -1) {
  auto name = [&] { return e < 0 ? std::string(base) : std::string(base) + "[" + str(e) + "]"; };
  if (!m.data && m.bytes > 0) return Status::range(name(), "a weight buffer", "a null pointer");
  Status st = check_weight(m.type, N, K, m.data ? m.bytes : 0);
  if (!st.ok()) {
    if (!st.arg.empty()) {
      st.arg = st.arg == "W" ? name() : name() + "." + st.arg;
    } else {
      st.message = name() + ": " + st.message;
    }
  }
  return st;
}

static double matrix_bytes(const MoeMatrix& m, int64_t N, int64_t K) { return (double)N * (double)row_bytes(m.type, K); }

// Y[M, D] = down(silu(gate(x_rows)) * up(x_rows)) for one job's gathered rows, with
// qgemm's matmul (split over the pool, or serial when called inside a pool task).
static Status expert_gemm(const Job& j, const float* x, const int32_t* tok, int64_t D, float* Y, const MoeTable& K) {
  thread_local std::vector<float> xp_, g_, u_;
  const int64_t M = j.M;
  float* Xp = grow(xp_, (size_t)(M * D));
  float* G = grow(g_, (size_t)(M * j.FF));
  float* U = grow(u_, (size_t)(M * j.FF));
  parallel_for(M, 16384 / D + 1, [&](int64_t b, int64_t e, int) {
    for (int64_t m = b; m < e; m++) std::memcpy(Xp + m * D, x + (int64_t)tok[j.r0 + m] * D, sizeof(float) * D);
  });
  FL_TRY(matmul(G, Xp, M, D, j.gate->data, j.gate->type, j.FF, nullptr));
  FL_TRY(matmul(U, Xp, M, D, j.up->data, j.up->type, j.FF, nullptr));
  parallel_for(M, 8192 / j.FF + 1, [&](int64_t b, int64_t e, int) {
    for (int64_t m = b; m < e; m++) K.swiglu.fn(G + m * j.FF, G + m * j.FF, U + m * j.FF, j.FF);
  });
  return matmul(Y, G, M, j.FF, j.down->data, j.down->type, D, nullptr);
}

// Runs run(i) for i in [0, n) on the pool, each thread taking items in order from its
// own contiguous lane, then from the others' (ChunkLanes: units laid out in weight order
// stream contiguously; a thread that starts late, on a busy machine, finds its lane
// taken over instead of holding the others back). One pool hand-off, no barrier
// between items.
template <class F>
static void run_dynamic(int64_t n, F& run) {
  if (n <= 0) return;
  struct Ctx {
    F* run;
    ChunkLanes lanes;
  } c;
  c.run = &run;
  const int nth = (int)std::min<int64_t>(n_threads(), n);
  c.lanes.init(n, nth);
  parallel_run(
      [](void* p, int ith, int) {
        Ctx* c = (Ctx*)p;
        for (int64_t i; (i = c->lanes.claim(ith)) >= 0;) (*c->run)(i);
      },
      &c, nth);
}

// ---- check: every invariant, before any output is written ----
static Status check_ffn(int64_t T, const int32_t* ids, const float* weights, int64_t k, const MoeFfnWeights& w,
                        const MoeFfnOptions& opt) {
  const int64_t E = w.E, D = w.D, FF = w.FF;
  if (T < 0) return Status::range("T", "integer >= 0", str(T));
  if (E < 1 || E > (1 << 16)) return Status::range("E", "integer in [1, 65536]", str(E));
  if (D < 1) return Status::range("D", "integer >= 1", str(D));
  if (FF < 1) return Status::range("FF", "integer >= 1", str(FF));
  const int64_t kmax = E < kMoeMaxK ? E : kMoeMaxK;
  if (k < 1 || k > kmax) return Status::range("k", "integer in [1, " + str(kmax) + "] (k <= E=" + str(E) + ")", str(k));
  if (!(opt.skip_threshold >= 0.0f && opt.skip_threshold < 1.0f))
    return Status::range("skip_threshold", "a number in [0, 1)", std::to_string(opt.skip_threshold));
  if (w.FFs < 0) return Status::range("FFs", "integer >= 0", str(w.FFs));
  if (!w.gate || !w.up || !w.down) return Status::range("experts", "gate, up and down weights", "a null table");
  for (int64_t e = 0; e < E; e++) {
    FL_TRY(check_matrix(w.gate[e], FF, D, "gate", e));
    FL_TRY(check_matrix(w.up[e], FF, D, "up", e));
    FL_TRY(check_matrix(w.down[e], D, FF, "down", e));
  }
  if (w.FFs > 0) {
    FL_TRY(check_matrix(w.sh_gate, w.FFs, D, "shared.gate"));
    FL_TRY(check_matrix(w.sh_up, w.FFs, D, "shared.up"));
    FL_TRY(check_matrix(w.sh_down, D, w.FFs, "shared.down"));
  }
  if (T * k > INT32_MAX) return Status::range("T * k", "a pair count that fits int32", str(T * k));
  FL_TRY(check_ids(ids, T, k, E));
  for (int64_t t = 0; t < T; t++)
    for (int64_t j = 0; j < k; j++) {
      const float v = weights[t * k + j];
      if (!std::isfinite(v))
        return Status::range("weights[" + str(t) + ", " + str(j) + "]", "a finite number",
                             v != v ? "NaN" : (v > 0 ? "Infinity" : "-Infinity"));
      for (int64_t i = 0; i < j; i++)
        if (ids[t * k + i] == ids[t * k + j])
          return Status::range("ids[" + str(t) + ", " + str(j) + "]",
                               "distinct expert ids per token (id " + str(ids[t * k + j]) + " is also slot " + str(i) + ")",
                               str(ids[t * k + j]));
    }
  return Status::Ok();
}

// ---- skip: dynamic skipping (MC-MoE online pruning) ----
// weff [T, k]: the weights renormalized over the kept slots; drop [T, k]: 1 where a slot is skipped.
// Returns the number of skipped pairs.
static int64_t skip_pairs(float* weff, uint8_t* drop, const float* weights, int64_t T, int64_t k, float threshold) {
  int64_t skipped = 0;
  for (int64_t t = 0; t < T; t++) {
    const float* wr = weights + t * k;
    float* we = weff + t * k;
    uint8_t* dr = drop + t * k;
    for (int64_t j = 0; j < k; j++) { we[j] = wr[j]; dr[j] = 0; }
    if (threshold <= 0.0f) continue;
    double S0 = 0;
    for (int64_t j = 0; j < k; j++) S0 += wr[j];
    if (!(S0 > 0)) continue;
    int64_t top = 0;
    for (int64_t j = 1; j < k; j++)
      if (wr[j] > wr[top]) top = j;
    double kept = 0;
    int64_t nd = 0;
    for (int64_t j = 0; j < k; j++) {
      if (j != top && (double)wr[j] / S0 < (double)threshold) { dr[j] = 1; nd++; }
      else kept += wr[j];
    }
    if (nd == 0) continue;
    skipped += nd;
    for (int64_t j = 0; j < k; j++) we[j] = dr[j] ? 0.0f : (float)((double)wr[j] * S0 / kept);
  }
  return skipped;
}

// ---- plan: pairs grouped by expert (stable), then the shared expert's T rows ----
// The row lists and the jobs over them, which decode and prefill run.
struct FfnPlan {
  int32_t* counts = nullptr;  // [E] kept pairs per expert
  int32_t* tok = nullptr;     // [R] the token of each row
  float* wt = nullptr;        // [R] its weight
  int32_t* inv = nullptr;     // [T, k] the row of each pair, -1 when skipped
  int64_t P = 0, R = 0;       // routed rows; all rows (P + T with a shared expert)
  bool shared = false;
  double bytes = 0;           // weight bytes of the experts run
  int64_t n_experts = 0;      // routed experts with at least one row
};

static void plan_ffn(FfnPlan& pl, FfnScratch& S, const float* x, int64_t T, const int32_t* ids, const float* weff,
                     const uint8_t* drop, int64_t k, const MoeFfnWeights& w) {
  const int64_t E = w.E, D = w.D, FF = w.FF;
  int32_t* counts = grow(S.counts, (size_t)E);
  int32_t* cursor = grow(S.cursor, (size_t)E);
  for (int64_t e = 0; e < E; e++) counts[e] = 0;
  for (int64_t i = 0; i < T * k; i++)
    if (!drop[i]) counts[ids[i]]++;
  int64_t P = 0;
  for (int64_t e = 0; e < E; e++) { cursor[e] = (int32_t)P; P += counts[e]; }
  const bool shared = w.FFs > 0;
  const int64_t R = P + (shared ? T : 0);
  int32_t* tok = grow(S.tok, (size_t)R + 1);
  float* wt = grow(S.wt, (size_t)R + 1);
  int32_t* inv = grow(S.inv, (size_t)(T * k));
  for (int64_t i = 0; i < T * k; i++) {
    inv[i] = -1;
    if (drop[i]) continue;
    const int32_t r = cursor[ids[i]]++;
    inv[i] = r;
    tok[r] = (int32_t)(i / k);
    wt[r] = weff[i];
  }
  std::vector<Job>& jobs = S.jobs;
  jobs.clear();
  double bytes = 0;
  int64_t n_experts = 0;
  for (int64_t e = 0, r0 = 0; e < E; e++) {
    if (counts[e] == 0) continue;
    Job j{};
    j.gate = &w.gate[e]; j.up = &w.up[e]; j.down = &w.down[e];
    j.FF = FF; j.r0 = r0; j.M = counts[e]; j.expert = (int32_t)e;
    jobs.push_back(j);
    r0 += counts[e];
    n_experts++;
  }
  if (shared && T > 0) {
    Job j{};
    j.gate = &w.sh_gate; j.up = &w.sh_up; j.down = &w.sh_down;
    j.FF = w.FFs; j.r0 = P; j.M = T; j.expert = -1;
    jobs.push_back(j);
    for (int64_t t = 0; t < T; t++) {
      tok[P + t] = (int32_t)t;
      float g = 1.0f;
      if (w.sh_gate_inp) {
        double s = 0;
        for (int64_t d = 0; d < D; d++) s += (double)w.sh_gate_inp[d] * x[t * D + d];
        g = moe_scalar::sigmoid((float)s);
      }
      wt[P + t] = g;
    }
  }
  for (const Job& j : jobs)
    bytes += matrix_bytes(*j.gate, j.FF, D) + matrix_bytes(*j.up, j.FF, D) + matrix_bytes(*j.down, D, j.FF);
  pl.counts = counts; pl.tok = tok; pl.wt = wt; pl.inv = inv;
  pl.P = P; pl.R = R; pl.shared = shared; pl.bytes = bytes; pl.n_experts = n_experts;
}

// ---- decode: the GEMV path, every job of at most kGemvMaxM rows (all of them at decode) ----
static void ffn_decode(const FfnPlan& pl, FfnScratch& S, float* out, const float* x, int64_t T, int64_t D,
                       const MoeTable& K) {
  std::vector<Job>& jobs = S.jobs;
  const int32_t* tok = pl.tok;
  const float* wt = pl.wt;
  // All of them together:
  // (a) x rows quantized once per token and partner format (decode: one row, no copy;
  //     a job with M > 1 gathers its rows); (b) ONE pass over the gate/up rows of all
  //     jobs in units taken dynamically, each unit fusing SwiGLU and quantizing its slice
  //     of h for down; (c) ONE pass over output-row chunks of down, each chunk walking
  //     every job and adding w * y into the token rows (the combine: split by output
  //     rows, so no reduction).
  int n_small = 0;
  bool need_kind[ACT_KINDS] = {false, false, false, false};
  for (const Job& j : jobs) {
    if (j.M > kGemvMaxM) continue;
    n_small++;
    need_kind[act_kind(j.gate->type)] = true;
    need_kind[act_kind(j.up->type)] = true;
  }
  if (n_small > 0) {
    // (a) activations of the tokens: only the tokens some small job reads
    const uint8_t* xt[ACT_KINDS] = {nullptr, nullptr, nullptr, nullptr};
    size_t xt_rb[ACT_KINDS] = {0, 0, 0, 0};
    for (int kd = 0; kd < ACT_KINDS; kd++) {
      if (!need_kind[kd]) continue;
      xt_rb[kd] = qacts_bytes(act_rep(kd), 1, D);
      if (kd == ACT_F32) { xt[kd] = (const uint8_t*)x; continue; }
      uint8_t* dst = grow(S.xt[kd], (size_t)T * xt_rb[kd] + 64);
      xt[kd] = dst;
      const DType rep = act_rep(kd);
      const size_t rb = xt_rb[kd];
      if (T == 1) {
        quantize_acts(dst, rep, x, 1, D);
      } else {
        parallel_for(T, 65536 / D + 1, [&](int64_t b, int64_t e, int) { quantize_acts(dst + b * rb, rep, x + b * D, e - b, D); });
      }
    }
    size_t xq_bytes = 0, hq_bytes = 0, h_floats = 0;
    for (Job& j : jobs) {
      if (j.M > kGemvMaxM) continue;
      j.xg_off = j.xu_off = SIZE_MAX;
      if (j.M > 1) {
        j.xg_off = xq_bytes;
        xq_bytes = align64(xq_bytes + j.M * xt_rb[act_kind(j.gate->type)]);
        if (act_kind(j.up->type) == act_kind(j.gate->type)) {
          j.xu_off = j.xg_off;
        } else {
          j.xu_off = xq_bytes;
          xq_bytes = align64(xq_bytes + j.M * xt_rb[act_kind(j.up->type)]);
        }
      }
      j.hq_rb = qacts_bytes(j.down->type, 1, j.FF);
      j.hq_off = hq_bytes;
      hq_bytes = align64(hq_bytes + j.M * j.hq_rb);
      j.h_off = h_floats;
      h_floats += (size_t)(j.M * j.FF + 16);
    }
    uint8_t* xq = grow(S.xq, xq_bytes + 64);
    uint8_t* hq = grow(S.hq, hq_bytes + 64);
    float* H = grow(S.H, h_floats);
    float* U = grow(S.U, h_floats);
    for (Job& j : jobs) {
      if (j.M > kGemvMaxM) continue;
      const int kg = act_kind(j.gate->type), ku = act_kind(j.up->type);
      if (j.M == 1) {
        j.ag = xt[kg] + (size_t)tok[j.r0] * xt_rb[kg];
        j.au = xt[ku] + (size_t)tok[j.r0] * xt_rb[ku];
        continue;
      }
      for (int64_t m = 0; m < j.M; m++) {
        const size_t t = (size_t)tok[j.r0 + m];
        std::memcpy(xq + j.xg_off + m * xt_rb[kg], xt[kg] + t * xt_rb[kg], xt_rb[kg]);
        if (j.xu_off != j.xg_off) std::memcpy(xq + j.xu_off + m * xt_rb[ku], xt[ku] + t * xt_rb[ku], xt_rb[ku]);
      }
      j.ag = xq + j.xg_off;
      j.au = xq + j.xu_off;
    }
    // (b) units of ~128 KiB of gate or up weights, whole blocks of the down format
    std::vector<Unit>& units = S.units;
    units.clear();
    int32_t nblocks = 0;
    for (int32_t ji = 0; ji < (int32_t)jobs.size(); ji++) {
      const Job& j = jobs[ji];
      if (j.M > kGemvMaxM) continue;
      const int64_t bs = dtype_traits((int32_t)j.down->type)->block_elems;
      const int64_t g = bs >= 16 ? bs : 16;  // block sizes are 1, 32 or 256
      const int64_t rb = (int64_t)(row_bytes(j.gate->type, D) + row_bytes(j.up->type, D)) * (1 + j.M / 4);
      int64_t step = (262144 / (rb + 1) + g - 1) / g * g;
      if (step < g) step = g;
      for (int64_t n0 = 0; n0 < j.FF; n0 += step, nblocks++) {
        const int64_t n1 = std::min(n0 + step, j.FF);
        units.push_back({ji, 0, nblocks, n0, n1});
        units.push_back({ji, 1, nblocks, n0, n1});
      }
    }
    int32_t* done = grow(S.block_done, (size_t)nblocks + 1);
    for (int32_t b = 0; b < nblocks; b++) done[b] = 0;
    auto run_unit = [&](int64_t ui) {
      const Unit& u = units[ui];
      const Job& j = jobs[u.job];
      const int64_t n0 = u.n0, n1 = u.n1;
      float* h = H + j.h_off;
      float* uu = U + j.h_off;
      if (u.half == 0) matmul_rows_st(h, j.FF, j.ag, j.M, D, j.gate->data, j.gate->type, n0, n1);
      else matmul_rows_st(uu, j.FF, j.au, j.M, D, j.up->data, j.up->type, n0, n1);
      // the second half of a block to finish fuses SwiGLU and quantizes h's slice
      // (acq_rel: the other half's rows are visible here)
      if (__atomic_fetch_add(&done[u.block], 1, __ATOMIC_ACQ_REL) == 0) return;
      const size_t qoff = qacts_bytes(j.down->type, 1, n0);
      for (int64_t m = 0; m < j.M; m++) {
        float* hr = h + m * j.FF + n0;
        K.swiglu.fn(hr, hr, uu + m * j.FF + n0, n1 - n0);
        quantize_acts(hq + j.hq_off + m * j.hq_rb + qoff, j.down->type, hr, 1, n1 - n0);
      }
    };
    run_dynamic((int64_t)units.size(), run_unit);
    // (c) down: chunks of output rows (~512 KiB of down weights over all jobs, 16-row multiples)
    double down_rb = 0;
    for (const Job& j : jobs)
      if (j.M <= kGemvMaxM) down_rb += (double)row_bytes(j.down->type, j.FF) * (1 + j.M / 4);
    int64_t rows = (int64_t)(524288.0 / (down_rb + 1)) / 16 * 16;
    if (rows < 16) rows = 16;
    const int64_t chunks = (D + rows - 1) / rows;
    auto run_chunk = [&](int64_t c) {
      const int64_t d0 = c * rows, d1 = std::min(d0 + rows, D);
      float y[kGemvMaxM * 256];
      for (int64_t s0 = d0; s0 < d1; s0 += 256) {  // y tile on the stack: 256 rows at a time
        const int64_t s1 = std::min(s0 + 256, d1);
        for (const Job& j : jobs) {
          if (j.M > kGemvMaxM) continue;
          const uint8_t* wd = (const uint8_t*)j.down->data + (size_t)s0 * row_bytes(j.down->type, j.FF);
          matmul_rows_st(y, 256, hq + j.hq_off, j.M, j.FF, wd, j.down->type, 0, s1 - s0);
          for (int64_t m = 0; m < j.M; m++)
            K.axpy.fn(out + (int64_t)tok[j.r0 + m] * D + s0, y + m * 256, wt[j.r0 + m], s1 - s0);
        }
      }
    };
    run_dynamic(chunks, run_chunk);
  }

}

// ---- prefill: the GEMM path, jobs with more than kGemvMaxM rows ----
static Status ffn_prefill(const FfnPlan& pl, FfnScratch& S, float* out, const float* x, int64_t T, int64_t k,
                          int64_t D, const MoeTable& K) {
  std::vector<Job>& jobs = S.jobs;
  const int32_t* tok = pl.tok;
  const float* wt = pl.wt;
  const int32_t* inv = pl.inv;
  const int64_t P = pl.P, R = pl.R;
  const bool shared = pl.shared;
  // Medium jobs: whole experts run in parallel, one thread per expert at a time
  // (qgemm's matmul runs serially inside a pool task), taken largest first from a
  // shared counter, each writing its rows of Ybuf; then one pass per token adds w * y
  // in slot order. No barrier between experts, so a busy machine (a thread that
  // starts late) costs little, where splitting each expert's GEMMs over the pool waits
  // at every GEMM for the slowest thread. Large jobs (one expert with more than a thread's share of
  // all the GEMM work, which expert parallelism could not balance): one after another,
  // each GEMM split over the pool, rows added straight into out.
  double gemm_cost = 0;
  for (const Job& j : jobs)
    if (j.M > kGemvMaxM) gemm_cost += (double)j.M * (double)j.FF;
  const double share = gemm_cost / (double)n_threads();
  size_t n_medium = 0;
  for (Job& j : jobs) {
    j.medium = false;
    if (j.M <= kGemvMaxM) continue;
    j.medium = n_threads() > 1 && (double)j.M * (double)j.FF <= share;
    n_medium += j.medium;
  }
  if (n_medium > 0 && (double)R * (double)D * 4.0 > 512e6) {  // Ybuf would be too big: run them as large jobs
    for (Job& j : jobs) j.medium = false;
    n_medium = 0;
  }
  if (n_medium > 0) {
    float* Ybuf = grow(S.Ybuf, (size_t)(R * D));
    std::vector<int32_t>& mj = S.mjobs;
    mj.clear();
    for (int32_t ji = 0; ji < (int32_t)jobs.size(); ji++)
      if (jobs[ji].medium) mj.push_back(ji);
    // largest first, taken dynamically (longest-processing-time order): a slow thread takes fewer
    std::stable_sort(mj.begin(), mj.end(), [&](int32_t a, int32_t b) {
      return (double)jobs[a].M * (double)jobs[a].FF > (double)jobs[b].M * (double)jobs[b].FF;
    });
    Status first_error;
    std::atomic<bool> failed{false};
    auto run = [&](int64_t i) {
      const Job& j = jobs[mj[i]];
      Status st = expert_gemm(j, x, tok, D, Ybuf + j.r0 * D, K);
      if (!st.ok() && !failed.exchange(true)) first_error = st;
    };
    run_dynamic((int64_t)mj.size(), run);
    if (failed) return first_error;
    uint8_t* rmed = grow(S.rmed, (size_t)R);
    for (const Job& j : jobs)
      for (int64_t m = 0; m < j.M; m++) rmed[j.r0 + m] = j.medium;
    parallel_for(T, 16384 / D + 1, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; t++) {
        float* o = out + t * D;
        for (int64_t j = 0; j < k; j++) {
          const int32_t r = inv[t * k + j];
          if (r >= 0 && rmed[r]) K.axpy.fn(o, Ybuf + (int64_t)r * D, wt[r], D);
        }
        if (shared && rmed[P + t]) K.axpy.fn(o, Ybuf + (P + t) * D, wt[P + t], D);
      }
    });
  }
  for (const Job& j : jobs) {
    if (j.M <= kGemvMaxM || j.medium) continue;
    float* Y = grow(S.Y, (size_t)(j.M * D));
    FL_TRY(expert_gemm(j, x, tok, D, Y, K));
    // tokens are distinct within one job, so rows can be added in parallel
    parallel_for(j.M, 16384 / D + 1, [&](int64_t b, int64_t e, int) {
      for (int64_t m = b; m < e; m++) K.axpy.fn(out + (int64_t)tok[j.r0 + m] * D, Y + m * D, wt[j.r0 + m], D);
    });
  }

  return Status::Ok();
}

}  // namespace

// check, skip, plan, then the two paths over the plan's jobs (a call may have jobs on both)
Status moe_ffn(float* out, const float* x, int64_t T, const int32_t* ids, const float* weights, int64_t k,
               const MoeFfnWeights& w, const MoeFfnOptions& opt, double* stats, MoeFfnReport* report) {
  FL_TRY(check_ffn(T, ids, weights, k, w, opt));
  const int64_t E = w.E, D = w.D;
  thread_local FfnScratch S;
  const MoeTable& K = moe_dispatch();
  float* weff = grow(S.weff, (size_t)(T * k));
  uint8_t* drop = grow(S.drop, (size_t)(T * k));
  const int64_t skipped = skip_pairs(weff, drop, weights, T, k, opt.skip_threshold);
  FfnPlan pl;
  plan_ffn(pl, S, x, T, ids, weff, drop, k, w);
  if (!opt.accumulate && T > 0) std::memset(out, 0, sizeof(float) * (size_t)(T * D));
  ffn_decode(pl, S, out, x, T, D, K);
  FL_TRY(ffn_prefill(pl, S, out, x, T, k, D, K));
  if (stats) {
    for (int64_t e = 0; e < E; e++) stats[e] += pl.counts[e];
    stats[E] += 1;
    stats[E + 1] += (double)T;
    stats[E + 2] += (double)skipped;
  }
  if (report) {
    report->pairs = pl.P;
    report->skipped = skipped;
    report->experts = pl.n_experts;
    report->bytes = pl.bytes;
  }
  return Status::Ok();
}

}  // namespace fuselm
