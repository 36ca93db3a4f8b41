// Family `lut`: fuselm's SqueezeLLM-style dense-and-sparse format (LUT4, LUT3).
// Layout: see block_lut4 / block_lut3 in fuselm/blocks.h.
//   matmul:     out[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]),  x f32 [M, K], W lut [N, K]
//   dequantize: out[n, k] = W[n, k] as f32
//   quantize:   weighted 1-D k-means per row + the largest-magnitude weights kept in CSR
// Precision of matmul: ref, AVX2, and AVX-512 with M > 4 keep x f32: the table decode
// gives the exact f32 weights and the dots are f32 FMAs, so the only error against
// float64 is f32 accumulation, <= (K/16 + 16) 2^-24 sum|x w|. AVX-512 with M <= 4 (the
// GEMV) rounds x and the row's table to bf16 and uses vdpbf16ps: add 2^-8 sum|x w| (two
// bf16 roundings of 2^-9 each) for the dense part. The CSR outliers are f32 on every path.
#pragma once
#include <cstdint>
#include "fuselm/blocks.h"
#include "fuselm/cpu.h"
#include "fuselm/status.h"

namespace fuselm {

// A LUT matrix as read by the kernels (all parts caller-owned).
struct LutMatrix {
  const uint8_t* codes;    // [N, K/32] blocks: block_lut4 (bits 4) or block_lut3 (bits 3)
  const fl_half* table;    // [N, 2^bits] fp16 centroids
  const int32_t* row_ptr;  // [N + 1], row_ptr[0] = 0, non-decreasing, row_ptr[N] = nnz
  const int32_t* col;      // [nnz], each in [0, K)
  const fl_half* val;      // [nnz]
  int64_t n, k, nnz;
  int bits;                // 3 or 4
};

// checks the sizes and the CSR structure (O(N + nnz)); every entry point calls it
Status lut_check(const LutMatrix& w);

// out f32 [M, N] = x f32 [M, K] * W^T (+ bias f32 [N] when not null)
Status lut_matmul_f32(float* out, const float* x, const LutMatrix& w, const float* bias, int64_t m);
// out f32 [N, K]
Status lut_dequantize_f32(float* out, const LutMatrix& w);

enum LutInit : int { LUT_INIT_KMEANSPP = 0, LUT_INIT_QUANTILE = 1 };
struct LutQuantizeOptions {
  int bits = 4;              // 3 or 4
  int64_t nnz = 0;           // outliers kept in CSR (the caller computes it from a fraction)
  const float* importance = nullptr;  // per-weight k-means weights, [K] (per input channel) or [N, K]
  int64_t importance_len = 0;         // 0, K or N*K
  int iters = 30;            // Lloyd iterations after the init
  uint64_t seed = 0;
  int init = LUT_INIT_KMEANSPP;
};
// Fills codes [N, K/32 blocks], table [N, 2^bits], row_ptr [N+1], col/val [opts.nnz].
Status lut_quantize_f32(uint8_t* codes, fl_half* table, int32_t* row_ptr, int32_t* col, fl_half* val,
                        const float* w, int64_t n, int64_t k, const LutQuantizeOptions& opts);

// What one kernel call computes: rows [n_begin, n_end) of out for all M rows of x.
struct LutGemmArgs {
  float* out;          // [M, N]
  const float* x;      // [M, K]
  const float* bias;   // [N] or null
  int64_t m;
  LutMatrix w;
};

struct LutTable {
  // dst [K] = row n of W's dense part (no CSR)
  Kernel<void (*)(float* dst, const uint8_t* codes, const fl_half* table, int64_t k)> dequant_row_lut4;
  Kernel<void (*)(float* dst, const uint8_t* codes, const fl_half* table, int64_t k)> dequant_row_lut3;
  // out rows [n_begin, n_end): dense table-lookup dot + the rows' CSR entries + bias.
  // scratch: at least 4*K floats (a dequantized row when M > 4; x in bf16 on the bf16 path).
  Kernel<void (*)(const LutGemmArgs& a, int64_t n_begin, int64_t n_end, float* scratch)> gemm_lut4_f32;
  Kernel<void (*)(const LutGemmArgs& a, int64_t n_begin, int64_t n_end, float* scratch)> gemm_lut3_f32;
};

namespace ref { void fill_lut(LutTable& t); }
namespace avx2 { void fill_lut(LutTable& t); }
namespace avx512 { void fill_lut(LutTable& t); }

}  // namespace fuselm
