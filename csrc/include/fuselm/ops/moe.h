// Family `moe`: Mixture-of-Experts routing, permutation and the expert FFN.
//
// Plan, then run: moe_route (logits -> top-k ids/weights) -> moe_permute
// (group the (token, slot) pairs by expert) -> moe_ffn (gate/up GEMMs, fused
// SwiGLU, down GEMM with the routing-weight scale and the combine fused into
// its epilogue). moe_ffn builds its own permutation internally, so callers
// only need moe_permute for inspection or for a device that runs the plan.
//
// ---- Semantics (the CUDA twins in csrc/cuda/moe.cu follow these exactly) ----
//
// moe_route, one token t at a time, l = logits[t, 0:E]:
//   Values: NaN or +inf in l is an error (Range, arg "logits"); -inf is allowed
//   (an expert that can never win unless fewer than k experts are finite).
//   Selection key: every mode selects by comparing float32 values, with -0
//   equal to +0 and ties broken by the lower expert id. The selected ids are
//   written in selection order (best first).
//   MOE_SOFTMAX_TOPK (Qwen-MoE, OLMoE, Qwen3-MoE):
//     select the k largest l; p_e = exp(l_e - max l) / sum_e' exp(l_e' - max l);
//     w_j = p_{id_j}; with norm: w_j = p_{id_j} / sum_j p_{id_j}.
//   MOE_TOPK_SOFTMAX (Mixtral):
//     select the k largest l; w_j = exp(l_{id_j} - l_{id_0}) / sum_i exp(l_{id_i} - l_{id_0})
//     (norm is a no-op: the k weights already sum to 1).
//   MOE_SIGMOID_GROUP (DeepSeek-V3):
//     s_e = sigmoid(l_e) (s = 0 for l = -inf); sel_e = s_e + bias_e (bias null: 0),
//     both rounded to float32. Experts are split into n_group contiguous groups of
//     E / n_group; a group's score is the sum of its two largest sel (its one sel
//     when a group has one expert), computed as float32 (a + b with a >= b);
//     the topk_group best groups are kept (ties: lower group id); the k largest sel
//     among the kept experts are selected. w_j = s_{id_j} (the UNBIASED sigmoid);
//     with norm: w_j = s_{id_j} / sum_i s_{id_i}.
//   Then every weight is multiplied by scale (routed_scaling_factor; 1 = none).
//   A denominator of 0 (every selected expert has l = -inf) gives weights 0.
//   exp in every path (ref, AVX2, AVX-512, and the CUDA twin should do the
//   same) is the fma-based polynomial in csrc/cpu/moe_scalar.h, so sigmoid
//   values, hence DeepSeek selections, are bit-identical across paths.
//
// moe_permute (stable counting sort by expert):
//   counts[e] = number of pairs (t, j) with ids[t*k + j] == e;
//   padded count c'_e = round_up(counts[e], pad) (pad = 1: no padding);
//   offsets[0] = 0, offsets[e+1] = offsets[e] + c'_e; total = offsets[E];
//   pairs[offsets[e] + i] = t*k + j for the i-th pair (in (t, j) order) routed
//   to e, and -1 in the padding rows; inverse[t*k + j] = that row index.
//   So pairs[inverse[p]] == p for every p (the round trip).
//
// moe_ffn, for x [T, D] f32 and routing ids/weights [T, k]:
//   y_t = sum_j w'_{t,j} * down_{e}( silu(gate_{e}(x_t)) * up_{e}(x_t) ),  e = ids[t, j]
//       + g_t * down_s( silu(gate_s(x_t)) * up_s(x_t) )                    (shared expert)
//   with gate_e(x) = W_gate[e] x (W_gate[e]: [FF, D]), down_e: [D, FF];
//   g_t = sigmoid(sh_gate_inp . x_t) when sh_gate_inp is given (Qwen-MoE), else 1
//   (DeepSeek's plain shared experts, concatenated into one FF_s-wide FFN).
//   Activations are quantized to the weight format's dot partner (as qgemm's
//   matmul does), per expert; h is quantized again for the down projection.
//   out = y (or out += y with accumulate).
//   Dynamic skipping (MC-MoE online pruning), skip_threshold > 0: per token,
//   S = sum_j w_{t,j}, the normalised weight of slot j is w_{t,j} / S; a slot whose
//   normalised weight is < skip_threshold is dropped, except the slot with the
//   largest weight (the first such slot on ties), which is never dropped. The kept
//   weights are rescaled so they sum to S again (so a routed scale survives):
//   w'_{t,j} = w_{t,j} * S / sum_kept w. S <= 0 disables skipping for that token.
//   The number of dropped (t, j) pairs is reported.
//   Validation happens before any output is written: ids in [0, E), weights finite.

#pragma once
#include <cstddef>
#include <cstdint>

#include "fuselm/blocks.h"
#include "fuselm/cpu.h"
#include "fuselm/status.h"

namespace fuselm {

enum MoeScoring : int32_t { MOE_SOFTMAX_TOPK = 0, MOE_TOPK_SOFTMAX = 1, MOE_SIGMOID_GROUP = 2 };

constexpr int64_t kMoeMaxExperts = 256;
constexpr int64_t kMoeMaxK = 8;

struct MoeRouteParams {
  int32_t scoring = MOE_SOFTMAX_TOPK;
  int32_t k = 2;
  bool norm = false;         // renormalise the k weights to sum 1 (before scale)
  int32_t n_group = 1;       // MOE_SIGMOID_GROUP: groups (E % n_group == 0)
  int32_t topk_group = 1;    // MOE_SIGMOID_GROUP: groups kept, in [1, n_group]
  float scale = 1.0f;        // routed scaling factor applied to the final weights
  const float* bias = nullptr;  // [E] selection bias (MOE_SIGMOID_GROUP only), finite, or null
};

// ids [T, k] i32, weights [T, k] f32 from logits [T, E] f32. E in [1, 256], k in [1, min(8, E)].
Status moe_route(int32_t* ids, float* weights, const float* logits, int64_t T, int64_t E, const MoeRouteParams& p);

// Upper bound of `total` for moe_permute's padded rows: T*k + E*(pad-1).
int64_t moe_permute_capacity(int64_t T, int64_t k, int64_t E, int64_t pad);
// counts [E], offsets [E+1], pairs [capacity], inverse [T*k] (all i32); *total = offsets[E].
// pairs beyond *total are left as they were. ids out of [0, E) is a Range error, nothing written.
Status moe_permute(int32_t* counts, int32_t* offsets, int32_t* pairs, int32_t* inverse, int64_t* total,
                   const int32_t* ids, int64_t T, int64_t k, int64_t E, int64_t pad);

// One expert's weight matrix [N, K] in a qgemm format (GGUF rows of blocks).
struct MoeMatrix {
  const void* data = nullptr;
  DType type = DType::F32;
  size_t bytes = 0;  // bytes available at data (checked against the format's size)
};

struct MoeFfnWeights {
  int64_t E = 0, D = 0, FF = 0;
  const MoeMatrix* gate = nullptr;  // [E] of [FF, D]
  const MoeMatrix* up = nullptr;    // [E] of [FF, D]
  const MoeMatrix* down = nullptr;  // [E] of [D, FF]
  int64_t FFs = 0;                  // shared expert width; 0: none
  MoeMatrix sh_gate, sh_up, sh_down;  // [FFs, D], [FFs, D], [D, FFs]
  const float* sh_gate_inp = nullptr;  // [D] f32: Qwen's ffn_gate_inp_shexp, or null (weight 1)
};

struct MoeFfnOptions {
  float skip_threshold = 0.0f;  // 0: no skipping; in [0, 1)
  bool accumulate = false;      // out += y instead of out = y
};

// What one moe_ffn call read and did.
struct MoeFfnReport {
  int64_t pairs = 0;    // routed (token, expert) pairs computed (after skipping)
  int64_t skipped = 0;  // pairs dropped by skip_threshold
  int64_t experts = 0;  // distinct routed experts with tokens (the shared expert not counted)
  double bytes = 0;     // weight bytes of the experts computed (routed + shared)
};

// Per-expert load statistics, accumulated by moe_ffn when given: a double array
// of moe_stats_len(E): [0, E) pairs per expert (after skipping), then calls,
// tokens, skipped pairs.
constexpr int64_t moe_stats_len(int64_t E) { return E + 3; }

// out [T, D] f32; x [T, D] f32; ids/weights [T, k].
Status moe_ffn(float* out, const float* x, int64_t T, const int32_t* ids, const float* weights, int64_t k,
               const MoeFfnWeights& w, const MoeFfnOptions& opt, double* stats, MoeFfnReport* report);

// ---- per-ISA kernels; csrc/ops/moe.cpp splits the work over the pool ----
struct MoeTable {
  // One token's routing. scratch: moe_route_scratch_floats(E) floats, 64-byte aligned.
  // Returns false when logits holds NaN or +inf (outputs then unspecified).
  Kernel<bool (*)(int32_t* ids, float* w, const float* logits, int64_t E, const MoeRouteParams& p,
                  float* scratch)> route_row;
  // h[i] = silu(g[i]) * u[i] = g / (1 + exp(-g)) * u
  Kernel<void (*)(float* h, const float* g, const float* u, int64_t n)> swiglu;
  // out[i] += a * y[i]
  Kernel<void (*)(float* out, const float* y, float a, int64_t n)> axpy;
};

// scratch floats route_row needs: the scores and the keys, each padded to 16, and
// 64-bit (key, id) composites (the AVX-512 top-k), 64-byte aligned
static inline int64_t moe_route_scratch_floats(int64_t E) { return 4 * ((E + 15) / 16 * 16) + 16; }

namespace ref { void fill_moe(MoeTable& t); }
namespace avx2 { void fill_moe(MoeTable& t); }
namespace avx512 { void fill_moe(MoeTable& t); }

}  // namespace fuselm
