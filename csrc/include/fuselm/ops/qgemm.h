// Family `qgemm`: quantize / dequantize for the GGUF block formats, and
// out[M, N] = x[M, K] · W[N, K]ᵀ (+ bias) with W in any of them.
//
// Two regimes:
//  - GEMV / small M (M <= kGemvMaxM): x is quantized once to W's dot partner
//    (q8_0 for q4_0/q8_0, q8_K for the K-quants; f32 stays f32 for float W),
//    then integer dot products, rows of W split over the pool.
//  - GEMM (M > kGemvMaxM): quantized W runs as int8 x int8 block dots (x quantized
//    to q8_0 blocks of 32, W repacked per panel: see I8ActMeta below; vpdpbusd /
//    maddubs); float W is dequantized panel by panel (bf16 for bf16, f32 for
//    f32/f16) with register-tiled vdpbf16ps / FMA micro-kernels.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fuselm/blocks.h"
#include "fuselm/cpu.h"
#include "fuselm/status.h"

namespace fuselm {

constexpr int64_t kGemvMaxM = 8;

// ---- formats ---------------------------------------------------------------
// Bytes of one row of n elements of dtype t (n must be a whole number of blocks).
size_t row_bytes(DType t, int64_t n);
// Whether quantize()/dequantize() handle this dtype: f32, f16, bf16, q8_0, q4_0,
// q4_k, q5_k, q6_k, q8_k, and the legacy 32-block q5_0, q4_1, q5_1, iq4_nl, mxfp4.
bool quant_supported(DType t);
// dst: rows x row_bytes(t, cols). Q8_0/Q4_0 and the legacy formats' bytes equal
// ggml's (llama-quantize's without an imatrix); the K-quants follow ggml's
// reference search. Threads by rows.
Status quantize(void* dst, DType t, const float* src, int64_t rows, int64_t cols);
Status dequantize(float* dst, DType t, const void* src, int64_t rows, int64_t cols);
// Repacking for the GEMV (blocks.h *X16): rows x cols (rows a multiple of 16;
// a stack of matrices whose N are multiples of 16 repacks as one), Q4_0 <->
// Q4_0X16, Q8_0 <-> Q8_0X16, Q4_K <-> Q4_KX16, Q6_K <-> Q6_KX16, and each legacy
// 32-block format <-> its X16 (Q5_0 <-> Q5_0X16, ...). Q4_KX16 takes
// 148 bytes per 256 weights (Q4_K 144), the others the plain size. dst and src
// must not overlap. Threads by groups of rows. dequantize() reads the repacked
// formats too (rows a multiple of 16).
Status repack(void* dst, DType to, const void* src, DType from, int64_t rows, int64_t cols);
// The plain format a repacked one holds (Q4_0 for Q4_0X16, ...), else t.
DType repack_base(DType t);
// One row, single-threaded, no checks beyond t being supported (returns false
// otherwise): for embedding gathers from quantized tables. n must be a
// multiple of t's block size.
bool dequantize_row(DType t, const void* src, float* dst, int64_t n);

// ---- matmul ----------------------------------------------------------------
// Checks that W of dtype wtype, [N, K], fits in `bytes` and that K fills whole blocks.
Status check_weight(DType wtype, int64_t N, int64_t K, size_t bytes);
// out[M, N] = x[M, K] · W[N, K]ᵀ + bias[N] (bias may be null). Splits over the pool.
Status matmul(float* out, const float* x, int64_t M, int64_t K, const void* W, DType wtype, int64_t N,
              const float* bias);

// Single-threaded building blocks (usable inside a pool task, e.g. MoE):
// the activation rows in W's partner format (the GEMV path, any M).
size_t qacts_bytes(DType wtype, int64_t M, int64_t K);
Status quantize_acts(void* dst, DType wtype, const float* x, int64_t M, int64_t K);
// out[m * ldo + n] = acts[m] · W[n] for m in [0, M), n in [n0, n1). No bias.
// wtype, K, the acts and W must have passed check_weight/quantize_acts.
void matmul_rows_st(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, DType wtype,
                    int64_t n0, int64_t n1);

// ---- per-ISA kernels ---------------------------------------------------------
// GEMV: out[m * ldo + n] = acts[m] · W[n], n in [n0, n1). acts rows are
// qrow bytes apart (the partner format's row), W rows wrow bytes apart.
typedef void (*GemvFn)(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,
                       int64_t n1);
typedef void (*RowFn)(void* dst, const float* src, int64_t n);          // quantize one row
typedef void (*DeqFn)(float* dst, const void* src, int64_t n);          // dequantize one row
// GEMM: C[m * ldc + r] = sum_k x[m][k] * w_r[k] for m < M, r < nr (nr <= gemm_nr),
// the whole K in one pass. x is packed once per matmul in blocks of gemm_mb rows:
//  - f32 compute:  xpack [ceil(M/mb)][K][mb] floats;          w_r: K floats
//  - bf16 compute: xpack [ceil(M/mb)][K/2][mb] bf16 pairs;   w_r: K bf16 (K even)
typedef void (*GemmFn)(float* C, int64_t ldc, const void* xpack, int64_t M, const void* const* wrows, int64_t nr,
                       int64_t K);

// int8 GEMM for quantized W (M > kGemvMaxM; csrc/cpu/qgemm_i8.h): activation rows
// quantized as for the GEMV (q8_0 for q4_0 / q8_0, q8_K for the K-quants), W decoded
// per panel to 8-bit codes u with f32 factors, w = s * (u - c) - mn per 32-block (s per
// 16 for q6_k), integer block dots, then f32 scaling per block.
// Activations, packed by csrc/ops for panels of gemm_i8_mr rows (rows past M zero):
//   qa   [ceil(M/mr)][K/32][mr][32] int8
//   meta [ceil(M/mr)][K/32][mr]: d (the scale of the activation block holding this
//   32-block: the same d for the 8 32-blocks of a q8_K block), sum = S as a float,
//   corr[h] = -c * S_h (S the sum of the 32 codes, S_h of its 16-code half h; without
//   per-16 scales corr[0] = -c * S and corr[1] = 0; c per format: q4_0 8, q8_0
//   gemm_i8_q8_0_off, q6_k 32, q4_k / q5_k 0: their mins use sum; q3_k 4, iq4_xs as q8_0;
//   q2_k -1, so that corr[h] = S_h, the activation sum its per-16 mins use).
struct I8ActMeta {
  float d, sum;
  int32_t corr[2];
};
// C[m * ldc + r] = qa[m] . W[r] for m < M, r < nr (nr <= gemm_i8_nr): W rows are
// consecutive (row_bytes(wtype, K) apart); scratch: gemm_i8_scratch_bytes(K) bytes,
// 64-byte aligned (the W panel repacked).
typedef void (*GemmI8Fn)(float* C, int64_t ldc, const int8_t* qa, const I8ActMeta* meta, int64_t M, int64_t K,
                         const void* W, int64_t nr, void* scratch);
// bytes of the repacked panel of gemm_i8_nr rows (u8 codes + up to 2 f32 per row and block,
// and Q2_K's 2 mins per row and block after them)
static inline size_t gemm_i8_scratch_bytes(int64_t K, int nr) { return (size_t)(K / 32) * (size_t)nr * 48 + 64; }

// The kernels of one legacy 32-block format (Q5_0, Q4_1, Q5_1, IQ4_NL, MXFP4; their
// numerics in csrc/cpu/qformats_legacy.h): q8_0 activations (ActQ8_0, its sum used,
// its lane offsets not), plain and repacked GEMV and int8 GEMM.
struct QgemmLegacyKernels {
  Kernel<DeqFn> dequantize_row;
  Kernel<GemvFn> gemv, gemv_x16;
  Kernel<GemmI8Fn> gemm, gemm_x16;
};
constexpr int kLegacyFormats = 5;

struct QgemmTable {
  // activation quantizers: the q8_0 partner with lane offsets for q4_0 / q8_0
  // weights (see csrc/cpu/qscalar.h ActQ8_0), and ggml's q8_K
  Kernel<RowFn> quantize_act_q4_0, quantize_act_q8_0, quantize_row_q8_K;
  // dequantizers (also the GEMM panel source)
  Kernel<DeqFn> dequantize_row_q4_0, dequantize_row_q8_0, dequantize_row_q4_K, dequantize_row_q5_K,
      dequantize_row_q6_K, dequantize_row_f16, dequantize_row_bf16;
  // GEMV kernels
  Kernel<GemvFn> gemv_q4_0_q8_0, gemv_q8_0_q8_0, gemv_q4_K_q8_K, gemv_q5_K_q8_K, gemv_q6_K_q8_K, gemv_f32_f32,
      gemv_f16_f32, gemv_bf16_f32;
  // GEMV over the repacked Q4_0X16 / Q8_0X16 (any row range; whole groups of 16 fast)
  Kernel<GemvFn> gemv_q4_0x16_q8_0, gemv_q8_0x16_q8_0, gemv_q4_Kx16_q8_K, gemv_q6_Kx16_q8_K;
  // GEMM: f32 -> bf16 rounding (nearest even) of dequantized W rows, and the kernels
  Kernel<void (*)(uint16_t* dst, const float* src, int64_t n)> round_bf16_row;
  Kernel<GemmFn> gemm_f32, gemm_bf16;
  // int8 GEMM per weight format (activations in the packed layout above)
  Kernel<GemmI8Fn> gemm_q4_0_q8_0, gemm_q8_0_q8_0, gemm_q4_K_q8_K, gemm_q5_K_q8_K, gemm_q6_K_q8_K;
  // ... and over the GEMV-repacked Q4_0X16 / Q8_0X16 / Q4_KX16 / Q6_KX16 (W at a whole 16-row group)
  Kernel<GemmI8Fn> gemm_q4_0x16_q8_0, gemm_q8_0x16_q8_0, gemm_q4_Kx16_q8_K, gemm_q6_Kx16_q8_K;
  // the legacy 32-block formats, indexed by lg::Fmt (csrc/cpu/qformats_legacy.h)
  QgemmLegacyKernels legacy[kLegacyFormats];
  // IQ4_XS, Q3_K, Q2_K and their repacked forms (csrc/cpu/qformats_k.h; *::fill_qformats_k)
  Kernel<DeqFn> dequantize_row_iq4_xs, dequantize_row_q3_K, dequantize_row_q2_K;
  Kernel<GemvFn> gemv_iq4_xs_q8_K, gemv_q3_K_q8_K, gemv_q2_K_q8_K, gemv_iq4_xsx16_q8_K, gemv_q3_Kx16_q8_K,
      gemv_q2_Kx16_q8_K;
  Kernel<GemmI8Fn> gemm_iq4_xs_q8_K, gemm_q3_K_q8_K, gemm_iq4_xsx16_q8_K, gemm_q3_Kx16_q8_K, gemm_q2_K_q8_K,
      gemm_q2_Kx16_q8_K;
  int gemm_i8_mr = 4;          // activation rows per packed panel
  int gemm_i8_nr = 16;         // W rows per call at most
  int gemm_i8_q8_0_off = 0;    // c for q8_0 weights (128 where codes are stored as w + 128)
  int gemm_mb = 8;  // x rows per packed block
  int gemm_nr = 4;  // W rows per call at most
};

namespace ref { void fill_qgemm(QgemmTable& t); void fill_qgemm_i8(QgemmTable& t); void fill_qformats_k(QgemmTable& t); }
namespace avx2 { void fill_qgemm(QgemmTable& t); void fill_qgemm_i8(QgemmTable& t); void fill_qformats_k(QgemmTable& t); void fill_gemm_f32(QgemmTable& t); }
namespace avx512 { void fill_qgemm(QgemmTable& t); void fill_qgemm_i8(QgemmTable& t); void fill_qformats_k(QgemmTable& t); void fill_gemm_f32(QgemmTable& t); }
// the legacy 32-block formats: dequantizers and GEMV (cpu/*/qgemm_legacy.cpp), int8 GEMM (cpu/*/qgemm_i8.cpp)
namespace ref { void fill_qgemm_legacy(QgemmTable& t); void fill_qgemm_i8_legacy(QgemmTable& t); }
namespace avx2 { void fill_qgemm_legacy(QgemmTable& t); void fill_qgemm_i8_legacy(QgemmTable& t); }
namespace avx512 { void fill_qgemm_legacy(QgemmTable& t); void fill_qgemm_i8_legacy(QgemmTable& t); }
// sets one kernel of a legacy row: FL_LEGACY_IMPL(t, lg::Q5_0, gemv, gemv_q5_0_q8_0, avx2)
#define FL_LEGACY_IMPL(table, f, field, fnname, ns) \
  do {                                              \
    (table).legacy[f].field.fn = &ns::fnname;       \
    (table).legacy[f].field.isa = #ns;              \
  } while (0)

}  // namespace fuselm
