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
#include "fuselm/ops/lut.h"
#include "fuselm/ops/moe.h"
#include "fuselm/ops/rope.h"
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
// Row softmax exactly as the CPU softmax_f32 (fuselm/ops/norm.h): scale > 0, -inf entries give 0, a row of
// only -inf gives zeros, a row holding NaN or +inf gives NaN everywhere. out may be x.
Status softmax_f32(float* out, const float* x, int64_t rows, int64_t dim, float scale, Stream s = nullptr);
// RoPE exactly as the CPU rope_f32 (fuselm/ops/rope.h): x, out [tokens, heads, head_dim] (out may be x),
// pos [tokens] i32, theta = freq_scale * pos * base^(-2i/n_dims) in double, mode ROPE_NORM (pairs 2i, 2i+1)
// or ROPE_NEOX (i, i + n_dims/2), dims [n_dims, head_dim) copied through.
Status rope_f32(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads, int64_t head_dim,
                int64_t n_dims, int mode, float base, float freq_scale, Stream s = nullptr);
// ggml_rope_ext's scaling as the CPU rope_ext_f32 (linear, YaRN, freq_factors): sc.freq_factors is a device pointer
// ([n_dims/2] f32, or null), whose values are not checked here.
Status rope_ext_f32(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads, int64_t head_dim,
                    int64_t n_dims, int mode, float base, const RopeScaling& sc, Stream s = nullptr);
// out[i,:] = table[ids[i],:] as f32; table is f32, f16 or bf16 [n_rows, dim]; ids out of range give Range via
// *bad_id on the host only after synchronize: the kernel clamps nothing and writes zeros for bad ids.
Status embedding_f32(float* out, const void* table, DType dtype, int64_t n_rows, int64_t dim, const int32_t* ids,
                     int64_t n_ids, Stream s = nullptr);
// out[r] = index of the largest x[r,:] as the CPU argmax_f32 (fuselm/ops/embed.h): ties to the lowest index,
// a row holding NaN gives its first NaN, a row of only -inf gives 0
Status argmax_f32(int32_t* out, const float* x, int64_t rows, int64_t dim, Stream s = nullptr);

// ---- family qgemm (issue 3) ------------------------------------------------
// out[M,N] = x[M,K] (f32) . W[N,K]^T (+ bias[N]), W in F16, BF16, Q4_0, Q8_0, Q4_K, Q6_K, IQ4_XS, Q3_K or Q2_K blocks, row-major,
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
// Bytes of one W row for the format (0 when K is not a multiple of its block; 8 for f16/bf16 here).
int64_t row_bytes(DType wtype, int64_t K);
// The device dequantisers (csrc/cuda/formats.cuh) run on the host: out[K] = row decoded as the kernels
// decode it (w = scale * q + bias in f32). Needs no device, so CI checks the decoders without a GPU.
Status decode_row_host(float* out, const void* row, DType wtype, int64_t K);

// LUT3/LUT4 (SqueezeLLM-style dense + CSR outliers, fuselm/ops/lut.h), every pointer in w on the device:
// out[M, N] = x[M, K] . W^T (+ bias). f32 activations and accumulation (as the CPU lut_matmul_f32); a warp
// per row, 128-bit code loads (LUT4), the table in shared memory, CSR fused in the same pass. M > 8 runs
// in passes of 8 rows. CSR entries outside [0, K) or row_ptr outside [0, nnz] are skipped (the device
// data is not checked on the host; run lut_check on the host copy).
Status lut_matmul(float* out, const float* x, const LutMatrix& w, const float* bias, int64_t M, Stream s = nullptr);

// ---- family moe (issue 4) --------------------------------------------------
// Routing exactly as the CPU moe_route (fuselm/ops/moe.h: modes, ties to the lower id, -inf, the same fma
// exp polynomial, weights * p.scale); p.bias is a device pointer here. E <= 256, k <= 8.
Status moe_route(int32_t* ids, float* weights, const float* logits, int64_t T, int64_t E, const MoeRouteParams& p,
                 Stream s = nullptr);

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
// The CUDA twin of fuselm/ops/attention.h on a contiguous f16 cache: K and V each f16
// [n_kv_heads, capacity, head_dim] (one head's keys contiguous), token j at position j (a cache that starts
// at position 0 with no gaps; the CPU cache's pages hold the same tokens in the same order).
// q f32 [n_heads, head_dim] per token; n_heads a multiple of n_kv_heads (q head h reads KV head h / G);
// head_dim in {64, 80, 128}. s = scale * <q, k>, softcap > 0: s = softcap * tanh(s / softcap). Visibility
// of key j to a query at position p, as the CPU defines it: causal j <= p, and
//   window/sinks:  j < sinks or p - j < window                      (window > 0 or sinks > 0, no list)
//   block mask:    mask[(p / bs) * mask_cols + j / bs] != 0         (prefill)
//   dynamic:       j < sinks or p - j < window or j / bs in the block list (decode; the list from
//                  attention_select_blocks: the union, each key counted once)
// A query with no visible key gets zeros.
struct AttnSparse {
  int64_t window = 0, sinks = 0;
  // decode: blocks[h * blocks_stride + i], i < n_blocks, block ids of kv head h (-1 = none); null = all
  const int32_t* blocks = nullptr;
  int64_t n_blocks = 0, blocks_stride = 0, block_size = 64;
  // prefill: [mask_rows, mask_cols] over (query block, key block); null = all. mask_cols 0 = ceil(len / bs)
  const uint8_t* block_mask = nullptr;
  int64_t mask_rows = 0, mask_cols = 0;
};
// Decode (one query at position len - 1). out f32 [n_heads, head_dim]. Splits the key blocks over n_splits
// blocks per head (0: choose, up to 256) and merges the partial softmax states; a window/sinks-only call
// reads only the window and sink blocks. Workspace from attention_decode_workspace_bytes (null when 0).
size_t attention_decode_workspace_bytes(int64_t n_heads, int64_t head_dim, int64_t n_splits);
Status attention_decode(float* out, const float* q, const fl_half* k_cache, const fl_half* v_cache,
                        int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t capacity, int64_t len,
                        float scale, float softcap, const AttnSparse& sp, int64_t n_splits, void* workspace,
                        size_t workspace_bytes, Stream s = nullptr);
// Prefill: q f32 [n_q, n_heads, head_dim] at positions q_pos0 .. q_pos0+n_q-1 over the cache's first len keys
// (len >= q_pos0 + n_q); out f32 [n_q, n_heads, head_dim]. window/sinks and block mask apply per query.
Status attention_prefill(float* out, const float* q, const fl_half* k_cache, const fl_half* v_cache, int64_t n_q,
                         int64_t q_pos0, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t capacity,
                         int64_t len, float scale, float softcap, const AttnSparse& sp, Stream s = nullptr);
// Append n_new tokens (k, v: f32 [n_new, n_kv_heads, head_dim]) at index pos into the f16 cache (round to
// nearest even) and recompute the key summaries kmin/kmax (f32 [n_kv_heads, capacity / block_size, head_dim],
// may both be null) of the blocks touched, over the stored f16 keys of tokens < pos + n_new.
Status kv_append_f16(fl_half* k_cache, fl_half* v_cache, float* kmin, float* kmax, const float* k, const float* v,
                     int64_t n_new, int64_t pos, int64_t n_kv_heads, int64_t head_dim, int64_t capacity,
                     int64_t block_size, Stream s = nullptr);
// The dynamic plan for the decode query (position len - 1), as the CPU's attention_select: per kv head, the
// candidates are the blocks holding a key not kept by the window/sinks rule; score(b) = sum over the group's q
// heads, sum over channels, of max(q kmin, q kmax) (unscaled q, f32); the k best (ties: lower block), written
// ascending to blocks[h * k + i] and padded with -1. At most 8192 blocks.
Status attention_select_blocks(int32_t* blocks, const float* q, const float* kmin, const float* kmax, int64_t n_heads,
                               int64_t n_kv_heads, int64_t head_dim, int64_t capacity, int64_t len, int64_t block_size,
                               int64_t sinks, int64_t window, int64_t k, Stream s = nullptr);

// ---- benchmark helpers (csrc/cuda/bench.cu) --------------------------------------
// dst = src over n bytes (n a multiple of 16), 128-bit loads/stores: the HBM copy ceiling.
Status copy_bytes(void* dst, const void* src, size_t n, Stream s = nullptr);
// mma.sync m16n8k16 bf16 -> f32 from registers only: iters per warp; *flops counted.
Status mma_peak_bf16(float* sink, int64_t iters, double* flops, Stream s = nullptr);

}  // namespace cuda
}  // namespace fuselm
