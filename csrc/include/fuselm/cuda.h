// The CUDA twins of the op families: plain C++ (no CUDA headers), device
// pointers in, Status out, a stream last (nullptr = the default stream).
// Semantics match the CPU ops of the same name (csrc/include/fuselm/ops/*.h)
// and llama.cpp where the CPU op is not settled. Every call is asynchronous on
// its stream unless it says otherwise; launch errors come back as Status
// (Code::Internal with cudaGetErrorString), bad sizes as Code::Range, shapes
// that are not instantiated (head dims, formats) as Code::Unsupported.
//
// Built from csrc/cuda/*.cu when CMake finds nvcc (FUSELM_WITH_CUDA); in a build
// without CUDA (the npm addon) every entry returns Unsupported "built without
// CUDA" and available() is false (csrc/core/cuda_stub.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "fuselm/blocks.h"
#include "fuselm/status.h"

struct CUstream_st;  // == cudaStream_t, without the CUDA headers

namespace fuselm {
namespace cuda {

using Stream = CUstream_st*;

// ---- runtime -------------------------------------------------------------
bool built();      // this binary has the CUDA kernels
bool available();  // built() and at least one device answers; never aborts without a driver
int device_count();

struct DeviceInfo {
  char name[256];
  int cc_major, cc_minor;
  int sm_count;
  size_t global_mem;       // bytes
  size_t l2_bytes;
  int smem_per_block_optin;  // bytes a block may use after cudaFuncSetAttribute
  int mem_bus_width;       // bits
  int mem_clock_khz;
  int driver_version, runtime_version;
};
Status device_info(int device, DeviceInfo* out);
Status set_device(int device);

Status malloc(void** p, size_t bytes);
Status free(void* p);  // nullptr is fine
Status memcpy_h2d(void* dst, const void* src, size_t bytes, Stream s = nullptr);
Status memcpy_d2h(void* dst, const void* src, size_t bytes, Stream s = nullptr);
Status memcpy_d2d(void* dst, const void* src, size_t bytes, Stream s = nullptr);
Status memset(void* p, int value, size_t bytes, Stream s = nullptr);
Status synchronize(Stream s = nullptr);  // waits, and reports any asynchronous kernel fault

// Times body(i) for i = 0.. with device events: `warmup` calls, then `reps`
// batches of `iters` calls; *ms is the median batch time / iters.
Status time_ms(float* ms, const std::function<Status(int)>& body, int warmup, int iters, int reps,
               Stream s = nullptr);

// ---- family norm / act / rope / softmax (issue 2) ---------------------------
Status add_f32(float* out, const float* a, const float* b, int64_t n, Stream s = nullptr);
Status mul_f32(float* out, const float* a, const float* b, int64_t n, Stream s = nullptr);
Status silu_f32(float* out, const float* x, int64_t n, Stream s = nullptr);
// ggml's tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
Status gelu_f32(float* out, const float* x, int64_t n, Stream s = nullptr);
// out = silu(gate) * up
Status swiglu_f32(float* out, const float* gate, const float* up, int64_t n, Stream s = nullptr);
// out[r,:] = x[r,:] / sqrt(mean(x[r,:]^2) + eps) * w   (w may be null)
Status rmsnorm_f32(float* out, const float* x, const float* w, int64_t rows, int64_t dim, float eps,
                   Stream s = nullptr);
// out[r,:] = softmax(x[r,:] * scale), max-subtracted; -inf entries give 0, a row of all -inf gives 0s
Status softmax_f32(float* out, const float* x, int64_t rows, int64_t dim, float scale, Stream s = nullptr);
// RoPE in place on x [n_tokens, n_heads, head_dim]; position of token t is pos[t] (pos may be null: then
// pos_offset + t). The first n_rot dims rotate, theta_i = p * base^(-2i/n_rot). normal (GPT-J / llama.cpp
// mode 0) rotates pairs (2i, 2i+1); neox rotates (i, i + n_rot/2).
Status rope_f32(float* x, const int32_t* pos, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t n_rot,
                float base, bool neox, int64_t pos_offset, Stream s = nullptr);
// out[i,:] = table[ids[i],:] as f32; table is f32, f16 or bf16 [n_rows, dim]; ids out of range give Range via
// *bad_id on the host only after synchronize: the kernel clamps nothing and writes zeros for bad ids.
Status embedding_f32(float* out, const void* table, DType dtype, int64_t n_rows, int64_t dim, const int32_t* ids,
                     int64_t n_ids, Stream s = nullptr);
// out[r] = index of the largest x[r,:] (lowest index on ties; NaN ignored)
Status argmax_f32(int32_t* out, const float* x, int64_t rows, int64_t dim, Stream s = nullptr);

// ---- family qgemm (issue 3) ------------------------------------------------
// out[M,N] = x[M,K] (f32) . W[N,K]^T (+ bias[N]), W in F16, BF16, Q4_0, Q8_0, Q4_K or Q6_K blocks, row-major,
// K a multiple of the format's block. M <= 8: GEMV, the activation kept in f32, W dequantised in registers
// from 128-bit staged loads. M > 8: tensor-core GEMM (mma.sync m16n8k16, W tile dequantised to f16 in shared
// memory, x rounded to f16), split over K when the tile grid is smaller than the device.
Status matmul(float* out, const float* x, const void* w, DType wtype, int64_t M, int64_t N, int64_t K,
              const float* bias = nullptr, Stream s = nullptr);
// The two regimes directly (tests and benchmarks force them).
Status gemv(float* out, const float* x, const void* w, DType wtype, int64_t M, int64_t N, int64_t K,
            const float* bias = nullptr, Stream s = nullptr);
Status gemm_mma(float* out, const float* x, const void* w, DType wtype, int64_t M, int64_t N, int64_t K,
                const float* bias = nullptr, int split_k = 0 /* 0: choose */, Stream s = nullptr);
// Dense f16/bf16 GEMM (same mma kernel, weights already 16-bit): the benchmark's dense baseline.
// Bytes of one W row for the format (0 when K is not a multiple of its block).
int64_t row_bytes(DType wtype, int64_t K);

// ---- family moe (issue 4) --------------------------------------------------
enum class MoeScoring : int {
  SoftmaxTopK = 0,  // softmax over E, then top-k (Qwen-MoE, OLMoE); renormalise the k when `renorm`
  TopKSoftmax = 1,  // top-k on logits, softmax over the k (Mixtral)
  SigmoidGroup = 2, // DeepSeek-V3: s = sigmoid(l); select on s + bias within the best topk_group of n_group
                    // groups (group score = sum of its top-2 s + bias); weights = s (renormalised when `renorm`)
                    // times routed_scale
};
struct MoeRouteParams {
  MoeScoring scoring = MoeScoring::SoftmaxTopK;
  bool renorm = false;
  const float* bias = nullptr;  // [E] device, SigmoidGroup only (selection only)
  int n_group = 1, topk_group = 1;
  float routed_scale = 1.0f;
};
// ids[T,k], weights[T,k] from logits[T,E]; E <= 256, k <= 8, ties to the lower expert id, -inf logits are
// never chosen before finite ones.
Status moe_route(int32_t* ids, float* weights, const float* logits, int64_t T, int64_t E, int64_t k,
                 const MoeRouteParams& p, Stream s = nullptr);

// Permutation of the T*k (token, slot) pairs by expert, stable (within an expert, in t*k+slot order), each
// expert's rows padded to a multiple of `pad` (1 = none). Outputs (device):
//   counts[E]       pairs routed to each expert
//   offsets[E+1]    padded exclusive prefix sum (offsets[E] = total rows P)
//   sorted[P_max]   the pair index t*k+slot at each row, -1 in padding
//   inverse[T*k]    the row of each pair
//   tile_expert[P_max/pad]  the expert of each pad-sized tile (when pad > 1; may be null)
// P_max = T*k + E*(pad-1) rows bound the outputs. Ids out of [0, E) are never routed (inverse = -1); with
// check_ids the call reads a device flag back (so it synchronises its stream) and fails with Range.
// E <= 256.
int64_t moe_rows_bound(int64_t T, int64_t k, int64_t E, int64_t pad);
Status moe_permute(int32_t* counts, int32_t* offsets, int32_t* sorted, int32_t* inverse, int32_t* tile_expert,
                   const int32_t* ids, int64_t T, int64_t k, int64_t E, int64_t pad, bool check_ids = true,
                   Stream s = nullptr);
// Grouped expert GEMM over permuted rows. w is [E, N, K] stacked blocks of wtype. Row r (< P_max, tile of 64
// rows = one expert, so pad must be 64) computes y = A[r] . W[e]^T where A[r] = x[sorted[r] / k] when
// gather_k > 0 (x: [T, K]), else x[r] (x: [P_max, K]). When combine_weights is null, out[r, :] = y (out:
// [P_max, N], padding rows untouched); else out[t, :] += combine_weights[sorted[r]] * y with t = sorted[r] / k
// (out: [T, N], accumulated atomically; the caller zeroes it).
constexpr int kMoeTile = 64;
Status moe_grouped_matmul(float* out, const float* x, const void* w, DType wtype, int64_t E, int64_t N, int64_t K,
                          const int32_t* sorted, const int32_t* tile_expert, int64_t n_tiles, int64_t gather_k,
                          const float* combine_weights, Stream s = nullptr);
// A whole routed-expert FFN layer: out[T, D] = sum_slots w * down(silu(gate(x)) * up(x)), gate/up [E, F, D],
// down [E, D, F]. Scratch from moe_ffn_scratch_bytes. Routing from moe_route. Launches: permute, gate and up
// grouped GEMMs (rows gathered from x), down grouped GEMM with SwiGLU fused into its operand load and the
// combine fused into its epilogue. Synchronises only when check_ids.
size_t moe_ffn_scratch_bytes(int64_t T, int64_t k, int64_t E, int64_t D, int64_t F);
Status moe_ffn(float* out, const float* x, const int32_t* ids, const float* weights, const void* w_gate,
               const void* w_up, const void* w_down, DType wtype, int64_t T, int64_t k, int64_t E, int64_t D,
               int64_t F, void* scratch, size_t scratch_bytes, bool check_ids = true, Stream s = nullptr);

// ---- family attention (issue 5) -----------------------------------------------
// KV cache: f16 [n_kv_heads, capacity, head_dim] for K and for V (head-major: one head's keys contiguous).
// Query q: f32 [n_heads, head_dim] (decode: one token at position len-1); n_heads a multiple of n_kv_heads,
// head_dim in {64, 80, 128}. Scores s = q.k * scale, with soft-capping s = cap * tanh(s / cap) when cap > 0.
struct AttnSparse {
  // Sliding window plus sinks: when window > 0 key j is seen iff j < sinks or j >= len - window (decode) /
  // j > qpos - window (prefill).
  int64_t window = 0, sinks = 0;
  // Block list (decode): blocks[h * blocks_stride + i], i < n_blocks, key blocks of block_size tokens for
  // kv head h, ascending, no repeats; null = every block.
  const int32_t* blocks = nullptr;
  int64_t n_blocks = 0, blocks_stride = 0, block_size = 64;
  // Block mask (prefill): mask[qb * n_kb + kb] != 0 lets query block qb see key block kb (block_size tokens
  // both ways; n_kb = ceil(len / block_size)); null = all.
  const uint8_t* block_mask = nullptr;
};
// out: f32 [n_heads, head_dim]. Splits the keys over n_splits blocks per head (0: choose) and merges the
// partial softmax states; workspace from attention_decode_workspace_bytes (may be null when it returns 0).
size_t attention_decode_workspace_bytes(int64_t n_heads, int64_t head_dim, int64_t n_splits);
Status attention_decode(float* out, const float* q, const fl_half* k_cache, const fl_half* v_cache,
                        int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t capacity, int64_t len,
                        float scale, float softcap, const AttnSparse& sp, int64_t n_splits, void* workspace,
                        size_t workspace_bytes, Stream s = nullptr);
// Prefill: q f32 [n_q, n_heads, head_dim] at positions q_pos0 .. q_pos0+n_q-1, causal over the cache's first
// len keys (len >= q_pos0 + n_q); out f32 [n_q, n_heads, head_dim].
Status attention_prefill(float* out, const float* q, const fl_half* k_cache, const fl_half* v_cache, int64_t n_q,
                         int64_t q_pos0, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t capacity,
                         int64_t len, float scale, float softcap, const AttnSparse& sp, Stream s = nullptr);
// Append n_new tokens (k, v: f32 [n_new, n_kv_heads, head_dim]) at position pos into the f16 cache, and
// update the per-block key summaries kmin/kmax (f32 [n_kv_heads, capacity / block_size, head_dim], may be
// null) of the blocks touched (recomputed from the cache, so truncation + append stays exact).
Status kv_append_f16(fl_half* k_cache, fl_half* v_cache, float* kmin, float* kmax, const float* k, const float* v,
                     int64_t n_new, int64_t pos, int64_t n_kv_heads, int64_t head_dim, int64_t capacity,
                     int64_t block_size, Stream s = nullptr);
// Quest-style dynamic selection: per kv head, score each full or partial block b < ceil(len/block_size) by
// sum over the group's q heads of sum_d max(q_d kmin_d, q_d kmax_d); always keep the first `sink_blocks`
// and the last `local_blocks`, then the best others up to `max_blocks` in all (ties to the lower block).
// Writes blocks[h * max_blocks + i] ascending and n_selected[h].
Status attention_select_blocks(int32_t* blocks, int32_t* n_selected, const float* q, const float* kmin,
                               const float* kmax, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                               int64_t capacity, int64_t len, int64_t block_size, int64_t sink_blocks,
                               int64_t local_blocks, int64_t max_blocks, Stream s = nullptr);

// ---- benchmark helpers (csrc/cuda/bench.cu) --------------------------------------
// dst = src over n bytes (n a multiple of 16), 128-bit loads/stores: the HBM copy ceiling.
Status copy_bytes(void* dst, const void* src, size_t n, Stream s = nullptr);
// mma.sync m16n8k16 bf16 -> f32 from registers only: iters per warp; *flops counted.
Status mma_peak_bf16(float* sink, int64_t iters, double* flops, Stream s = nullptr);

}  // namespace cuda
}  // namespace fuselm
