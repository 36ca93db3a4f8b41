// Family `qgemm`: invariants, format dispatch and the split over the pool.
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/qformats_legacy.h"
#include "cpu/qscalar.h"
#include "fuselm/ops.h"

namespace fuselm {

namespace quant {  // csrc/cpu/ref/qgemm.cpp
void row_q8_0(void*, const float*, int64_t);
void row_q4_0(void*, const float*, int64_t);
void row_q4_K(void*, const float*, int64_t);
void row_q5_K(void*, const float*, int64_t);
void row_q6_K(void*, const float*, int64_t);
void row_q8_K(void*, const float*, int64_t);
void row_f16(void*, const float*, int64_t);
void row_bf16(void*, const float*, int64_t);
void row_iq4_xs(void*, const float*, int64_t);  // csrc/cpu/ref/qformats_k.cpp
void row_q3_K(void*, const float*, int64_t);
void row_q2_K(void*, const float*, int64_t);
// the legacy 32-block formats (csrc/cpu/ref/qgemm_legacy.cpp)
void row_q5_0(void*, const float*, int64_t);
void row_q4_1(void*, const float*, int64_t);
void row_q5_1(void*, const float*, int64_t);
void row_iq4_nl(void*, const float*, int64_t);
void row_mxfp4(void*, const float*, int64_t);
}  // namespace quant
bool repack_group_k(DType packed, void* dst, const void* src, int64_t nb, bool unpack);  // csrc/ops/qformats_k.cpp

static void report_qgemm(const void* p, void (*emit)(const char*, const char*, void*), void* u) {
  const QgemmTable& t = *(const QgemmTable*)p;
#define FL_EMIT(k) emit(#k, t.k.isa, u)
  FL_EMIT(quantize_act_q4_0);
  FL_EMIT(quantize_act_q8_0);
  FL_EMIT(quantize_row_q8_K);
  FL_EMIT(dequantize_row_q4_0);
  FL_EMIT(dequantize_row_q8_0);
  FL_EMIT(dequantize_row_q4_K);
  FL_EMIT(dequantize_row_q5_K);
  FL_EMIT(dequantize_row_q6_K);
  FL_EMIT(dequantize_row_f16);
  FL_EMIT(dequantize_row_bf16);
  FL_EMIT(gemv_q4_0_q8_0);
  FL_EMIT(gemv_q8_0_q8_0);
  FL_EMIT(gemv_q4_K_q8_K);
  FL_EMIT(gemv_q5_K_q8_K);
  FL_EMIT(gemv_q6_K_q8_K);
  FL_EMIT(gemv_f32_f32);
  FL_EMIT(gemv_f16_f32);
  FL_EMIT(gemv_bf16_f32);
  FL_EMIT(gemv_q4_0x16_q8_0);
  FL_EMIT(gemv_q8_0x16_q8_0);
  FL_EMIT(gemv_q4_Kx16_q8_K);
  FL_EMIT(gemv_q6_Kx16_q8_K);
  FL_EMIT(gemm_f32);
  FL_EMIT(gemm_bf16);
  FL_EMIT(gemm_q4_0_q8_0);
  FL_EMIT(gemm_q8_0_q8_0);
  FL_EMIT(gemm_q4_K_q8_K);
  FL_EMIT(gemm_q5_K_q8_K);
  FL_EMIT(gemm_q6_K_q8_K);
  FL_EMIT(gemm_q4_0x16_q8_0);
  FL_EMIT(gemm_q8_0x16_q8_0);
  FL_EMIT(gemm_q4_Kx16_q8_K);
  FL_EMIT(gemm_q6_Kx16_q8_K);
  FL_EMIT(dequantize_row_iq4_xs);
  FL_EMIT(dequantize_row_q3_K);
  FL_EMIT(dequantize_row_q2_K);
  FL_EMIT(gemv_iq4_xs_q8_K);
  FL_EMIT(gemv_q3_K_q8_K);
  FL_EMIT(gemv_q2_K_q8_K);
  FL_EMIT(gemv_iq4_xsx16_q8_K);
  FL_EMIT(gemv_q3_Kx16_q8_K);
  FL_EMIT(gemv_q2_Kx16_q8_K);
  FL_EMIT(gemm_iq4_xs_q8_K);
  FL_EMIT(gemm_q3_K_q8_K);
  FL_EMIT(gemm_iq4_xsx16_q8_K);
  FL_EMIT(gemm_q3_Kx16_q8_K);
  FL_EMIT(gemm_q2_K_q8_K);
  FL_EMIT(gemm_q2_Kx16_q8_K);
#undef FL_EMIT
  static const char* const kLgNames[lg::COUNT][5] = {
#define FL_LG_NAMES(f) {"dequantize_row_" f, "gemv_" f "_q8_0", "gemv_" f "x16_q8_0", "gemm_" f "_q8_0", "gemm_" f "x16_q8_0"}
      FL_LG_NAMES("q5_0"), FL_LG_NAMES("q4_1"), FL_LG_NAMES("q5_1"), FL_LG_NAMES("iq4_nl"), FL_LG_NAMES("mxfp4"),
#undef FL_LG_NAMES
  };
  for (int f = 0; f < lg::COUNT; f++) {
    const QgemmLegacyKernels& l = t.legacy[f];
    const char* isa[5] = {l.dequantize_row.isa, l.gemv.isa, l.gemv_x16.isa, l.gemm.isa, l.gemm_x16.isa};
    for (int i = 0; i < 5; i++) emit(kLgNames[f][i], isa[i], u);
  }
}
// each ISA's table: its GEMV/float GEMM kernels, then its int8 GEMM (cpu/*/qgemm_i8.cpp)
static void fill_ref(QgemmTable& t) {
  ref::fill_qgemm(t); ref::fill_qgemm_i8(t); ref::fill_qgemm_legacy(t); ref::fill_qgemm_i8_legacy(t); ref::fill_qformats_k(t);
}
static void fill_avx2(QgemmTable& t) {
  avx2::fill_qgemm(t); avx2::fill_qgemm_i8(t); avx2::fill_qgemm_legacy(t); avx2::fill_qgemm_i8_legacy(t);
  avx2::fill_qformats_k(t);
}
static void fill_avx512(QgemmTable& t) {
  avx512::fill_qgemm(t); avx512::fill_qgemm_i8(t); avx512::fill_qgemm_legacy(t); avx512::fill_qgemm_i8_legacy(t);
  avx512::fill_qformats_k(t);
}
static const Dispatch<QgemmTable> qgemm_dispatch("qgemm", fill_ref, fill_avx2, fill_avx512, report_qgemm);

static const char* dname(DType t) {
  const DTypeTraits* tr = dtype_traits((int32_t)t);
  return tr ? tr->name : "an unknown dtype";
}
static std::string quoted(DType t) { return std::string("'") + dname(t) + "'"; }

size_t row_bytes(DType t, int64_t n) {
  const DTypeTraits* tr = dtype_traits((int32_t)t);
  if (!tr || n < 0) return 0;
  return (size_t)(n / tr->block_elems) * (size_t)tr->block_bytes;
}

bool quant_supported(DType t) {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_0: case DType::Q4_K:
    case DType::Q5_K: case DType::Q6_K: case DType::Q8_K:
    case DType::IQ4_XS: case DType::Q3_K: case DType::Q2_K:
      return true;
    default:
      return lg::plain_index(t) >= 0;  // q5_0, q4_1, q5_1, iq4_nl, mxfp4
  }
}
static const char* kQuantList =
    "one of 'f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_k', 'q5_k', 'q6_k', 'q8_k', 'q5_0', 'q4_1', 'q5_1', 'iq4_nl', 'mxfp4', "
    "'iq4_xs', 'q3_k', 'q2_k'";

static Status check_rows_cols(DType t, int64_t rows, int64_t cols) {
  if (!quant_supported(t)) return Status::type("format", kQuantList, quoted(t));
  if (rows < 0) return Status::range("rows", "integer >= 0", std::to_string(rows));
  const int be = dtype_traits((int32_t)t)->block_elems;
  if (cols < 0 || cols % be != 0)
    return Status::range("cols", std::string("a multiple of ") + std::to_string(be) + " (the " + dname(t) + " block)",
                         std::to_string(cols));
  return Status::Ok();
}

typedef void (*QuantRowFn)(void*, const float*, int64_t);
static QuantRowFn quant_row_fn(DType t) {
  switch (t) {
    case DType::Q8_0: return quant::row_q8_0;
    case DType::Q4_0: return quant::row_q4_0;
    case DType::Q4_K: return quant::row_q4_K;
    case DType::Q5_K: return quant::row_q5_K;
    case DType::Q6_K: return quant::row_q6_K;
    case DType::Q8_K: return quant::row_q8_K;
    case DType::F16: return quant::row_f16;
    case DType::BF16: return quant::row_bf16;
    case DType::IQ4_XS: return quant::row_iq4_xs;
    case DType::Q3_K: return quant::row_q3_K;
    case DType::Q2_K: return quant::row_q2_K;
    case DType::Q5_0: return quant::row_q5_0;
    case DType::Q4_1: return quant::row_q4_1;
    case DType::Q5_1: return quant::row_q5_1;
    case DType::IQ4_NL: return quant::row_iq4_nl;
    case DType::MXFP4: return quant::row_mxfp4;
    default: return nullptr;
  }
}

Status quantize(void* dst, DType t, const float* src, int64_t rows, int64_t cols) {
  FL_TRY(check_rows_cols(t, rows, cols));
  if (rows == 0 || cols == 0) return Status::Ok();
  const size_t rb = row_bytes(t, cols);
  if (t == DType::F32) {
    std::memcpy(dst, src, (size_t)rows * rb);
    return Status::Ok();
  }
  QuantRowFn fn = quant_row_fn(t);
  const bool kq = t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K || t == DType::IQ4_NL || t == DType::IQ4_XS ||
                  t == DType::Q3_K || t == DType::Q2_K;
  parallel_for(rows, (kq ? (1 << 13) : (1 << 16)) / cols + 1, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; r++) fn((uint8_t*)dst + r * rb, src + r * cols, cols);
  });
  return Status::Ok();
}

bool dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const QgemmTable& k = qgemm_dispatch();
  switch (t) {
    case DType::F32: std::memcpy(dst, src, (size_t)n * 4); return true;
    case DType::F16: k.dequantize_row_f16.fn(dst, src, n); return true;
    case DType::BF16: k.dequantize_row_bf16.fn(dst, src, n); return true;
    case DType::Q4_0: k.dequantize_row_q4_0.fn(dst, src, n); return true;
    case DType::Q8_0: k.dequantize_row_q8_0.fn(dst, src, n); return true;
    case DType::Q4_K: k.dequantize_row_q4_K.fn(dst, src, n); return true;
    case DType::Q5_K: k.dequantize_row_q5_K.fn(dst, src, n); return true;
    case DType::Q6_K: k.dequantize_row_q6_K.fn(dst, src, n); return true;
    case DType::Q8_K: qs::dequant_q8_K(dst, (const block_q8_K*)src, n); return true;
    case DType::IQ4_XS: k.dequantize_row_iq4_xs.fn(dst, src, n); return true;
    case DType::Q3_K: k.dequantize_row_q3_K.fn(dst, src, n); return true;
    case DType::Q2_K: k.dequantize_row_q2_K.fn(dst, src, n); return true;
    default: {
      const int f = lg::plain_index(t);
      if (f < 0) return false;
      k.legacy[f].dequantize_row.fn(dst, src, n);
      return true;
    }
  }
}

// ---- repacked formats ----------------------------------------------------------
DType repack_base(DType t) {
  switch (t) {
    case DType::Q4_0X16: return DType::Q4_0;
    case DType::Q8_0X16: return DType::Q8_0;
    case DType::Q4_KX16: return DType::Q4_K;
    case DType::Q6_KX16: return DType::Q6_K;
    case DType::IQ4_XSX16: return DType::IQ4_XS;
    case DType::Q3_KX16: return DType::Q3_K;
    case DType::Q2_KX16: return DType::Q2_K;
    default: return lg::x16_index(t) >= 0 ? lg::kPlain[lg::x16_index(t)] : t;
  }
}
static bool is_repacked(DType t) { return repack_base(t) != t; }

// One group of 16 rows: plain rows (row stride nb blocks) <-> nb repacked
// blocks. Q4_0's byte k already pairs weights k and 16 + k, so it moves whole.
template <typename Plain, typename Packed, int KB>
static void pack_group(Packed* y, const Plain* x, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      const Plain& p = x[r * nb + b];
      y[b].d[r] = p.d;
      for (int k = 0; k < KB; k++) std::memcpy(&y[b].qs[k / 4][4 * r + k % 4], &p.qs[k], 1);
    }
}
template <typename Plain, typename Packed, int KB>
static void unpack_group(Plain* x, const Packed* y, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      Plain& p = x[r * nb + b];
      p.d = y[b].d[r];
      for (int k = 0; k < KB; k++) std::memcpy(&p.qs[k], &y[b].qs[k / 4][4 * r + k % 4], 1);
    }
}
// Q4_K: the 6-bit scales decoded (and encoded back on unpack), qs bytes moved whole.
static void pack_group_q4_K(block_q4_Kx16* y, const block_q4_K* x, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      const block_q4_K& p = x[r * nb + b];
      y[b].d[r] = p.d;
      y[b].dmin[r] = p.dmin;
      uint8_t sc[8], m[8];
      qs::unpack_scales_k4(p.scales, sc, m);
      for (int j = 0; j < 8; j++) { y[b].sc[j][r] = sc[j]; y[b].m[j][r] = m[j]; }
      for (int i = 0; i < 128; i++) y[b].qs[i / 32][(i % 32) / 4][4 * r + i % 4] = p.qs[i];
    }
}
static void unpack_group_q4_K(block_q4_K* x, const block_q4_Kx16* y, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      block_q4_K& p = x[r * nb + b];
      p.d = y[b].d[r];
      p.dmin = y[b].dmin[r];
      uint8_t sc[8], m[8];
      for (int j = 0; j < 8; j++) { sc[j] = y[b].sc[j][r]; m[j] = y[b].m[j][r]; }
      for (int j = 0; j < 4; j++) {  // the inverse of unpack_scales_k4
        p.scales[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        p.scales[j + 4] = (uint8_t)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        p.scales[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
      }
      for (int i = 0; i < 128; i++) p.qs[i] = y[b].qs[i / 32][(i % 32) / 4][4 * r + i % 4];
    }
}
// Q6_K: codes (0..63) of weight e of one block, from and to ggml's ql/qh
static void q6_codes(const block_q6_K& p, uint8_t* q) {
  for (int h = 0; h < 2; h++)
    for (int l = 0; l < 32; l++) {
      const uint8_t* ql = p.ql + 64 * h;
      const uint8_t qh = p.qh[32 * h + l];
      q[128 * h + l] = (uint8_t)((ql[l] & 15) | ((qh & 3) << 4));
      q[128 * h + l + 32] = (uint8_t)((ql[l + 32] & 15) | (((qh >> 2) & 3) << 4));
      q[128 * h + l + 64] = (uint8_t)((ql[l] >> 4) | (((qh >> 4) & 3) << 4));
      q[128 * h + l + 96] = (uint8_t)((ql[l + 32] >> 4) | (((qh >> 6) & 3) << 4));
    }
}
static void q6_encode(block_q6_K& p, const uint8_t* q) {
  for (int h = 0; h < 2; h++)
    for (int l = 0; l < 32; l++) {
      const uint8_t* c = q + 128 * h;
      p.ql[64 * h + l] = (uint8_t)((c[l] & 15) | ((c[l + 64] & 15) << 4));
      p.ql[64 * h + 32 + l] = (uint8_t)((c[l + 32] & 15) | ((c[l + 96] & 15) << 4));
      p.qh[32 * h + l] = (uint8_t)((c[l] >> 4) | ((c[l + 32] >> 4) << 2) | ((c[l + 64] >> 4) << 4) | ((c[l + 96] >> 4) << 6));
    }
}
static void pack_group_q6_K(block_q6_Kx16* y, const block_q6_K* x, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      const block_q6_K& p = x[r * nb + b];
      uint8_t q[256];
      q6_codes(p, q);
      y[b].d[r] = p.d;
      for (int s = 0; s < 16; s++) y[b].sc[s][r] = p.scales[s];
      for (int e = 0; e < 256; e++) {
        const int t = e / 4, o = 4 * r + e % 4, u = t % 16, i = t / 16;
        uint8_t& lo = y[b].q[u][i % 2][o];  // dwords u + 16i: i = 0, 1 low nibbles, 2, 3 high
        lo = i < 2 ? (uint8_t)((lo & 0xF0) | (q[e] & 15)) : (uint8_t)((lo & 0x0F) | ((q[e] & 15) << 4));
        uint8_t& hi = y[b].q[u][2][o];
        hi = (uint8_t)((hi & ~(3 << (2 * i))) | ((q[e] >> 4) << (2 * i)));
      }
    }
}
static void unpack_group_q6_K(block_q6_K* x, const block_q6_Kx16* y, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      block_q6_K& p = x[r * nb + b];
      uint8_t q[256];
      for (int e = 0; e < 256; e++) {
        const int t = e / 4, o = 4 * r + e % 4, u = t % 16, i = t / 16;
        const uint8_t lo = i < 2 ? (y[b].q[u][i % 2][o] & 15) : (y[b].q[u][i % 2][o] >> 4);
        q[e] = (uint8_t)(lo | (((y[b].q[u][2][o] >> (2 * i)) & 3) << 4));
      }
      q6_encode(p, q);
      p.d = y[b].d[r];
      for (int s = 0; s < 16; s++) p.scales[s] = y[b].sc[s][r];
    }
}

// dst <- src for one group; `packed` is the repacked dtype of the pair
static void repack_group(DType packed, void* dst, const void* src, int64_t nb, bool unpack) {
  if (repack_group_k(packed, dst, src, nb, unpack)) return;
  if (lg::x16_index(packed) >= 0) {
    lg::repack_group(lg::x16_index(packed), dst, src, nb, unpack);
  } else if (packed == DType::Q4_KX16) {
    if (unpack) unpack_group_q4_K((block_q4_K*)dst, (const block_q4_Kx16*)src, nb);
    else pack_group_q4_K((block_q4_Kx16*)dst, (const block_q4_K*)src, nb);
  } else if (packed == DType::Q6_KX16) {
    if (unpack) unpack_group_q6_K((block_q6_K*)dst, (const block_q6_Kx16*)src, nb);
    else pack_group_q6_K((block_q6_Kx16*)dst, (const block_q6_K*)src, nb);
  } else if (packed == DType::Q4_0X16) {
    if (unpack) unpack_group<block_q4_0, block_q4_0x16, 16>((block_q4_0*)dst, (const block_q4_0x16*)src, nb);
    else pack_group<block_q4_0, block_q4_0x16, 16>((block_q4_0x16*)dst, (const block_q4_0*)src, nb);
  } else {
    if (unpack) unpack_group<block_q8_0, block_q8_0x16, 32>((block_q8_0*)dst, (const block_q8_0x16*)src, nb);
    else pack_group<block_q8_0, block_q8_0x16, 32>((block_q8_0x16*)dst, (const block_q8_0*)src, nb);
  }
}

static Status check_repacked_shape(DType packed, int64_t rows, int64_t cols) {
  if (rows < 0 || rows % kPackRows != 0)
    return Status::range("rows", "a multiple of 16 (the repacked group)", std::to_string(rows));
  const int be = dtype_traits((int32_t)packed)->block_elems;
  if (cols < 0 || cols % be != 0)
    return Status::range("cols", "a multiple of " + std::to_string(be) + " (the " + dname(packed) + " block)",
                         std::to_string(cols));
  return Status::Ok();
}

Status repack(void* dst, DType to, const void* src, DType from, int64_t rows, int64_t cols) {
  const bool unpack = is_repacked(from);
  const DType packed = unpack ? from : to;
  if (!is_repacked(packed) || repack_base(packed) != (unpack ? to : from))
    return Status::type("format", "q4_0 <-> q4_0x16, q8_0 <-> q8_0x16, q4_k <-> q4_kx16, q6_k <-> q6_kx16, q5_0 <-> q5_0x16, "
                        "q4_1 <-> q4_1x16, q5_1 <-> q5_1x16, iq4_nl <-> iq4_nlx16, mxfp4 <-> mxfp4x16, iq4_xs <-> iq4_xsx16, "
                        "q3_k <-> q3_kx16 or q2_k <-> q2_kx16",
                        std::string("'") + dname(from) + "' -> '" + dname(to) + "'");
  FL_TRY(check_repacked_shape(packed, rows, cols));
  if (rows == 0 || cols == 0) return Status::Ok();
  const int64_t nb = cols / dtype_traits((int32_t)packed)->block_elems;
  const size_t gs = (size_t)kPackRows * row_bytes(from, cols), gd = (size_t)kPackRows * row_bytes(to, cols);
  parallel_for(rows / kPackRows, 1 + (1 << 16) / (int64_t)gs, [&](int64_t b, int64_t e, int) {
    for (int64_t g = b; g < e; g++)
      repack_group(packed, (uint8_t*)dst + g * gd, (const uint8_t*)src + g * gs, nb, unpack);
  });
  return Status::Ok();
}

Status dequantize(float* dst, DType t, const void* src, int64_t rows, int64_t cols) {
  if (is_repacked(t)) {
    FL_TRY(check_repacked_shape(t, rows, cols));
    if (rows == 0 || cols == 0) return Status::Ok();
    const DType base = repack_base(t);
    const size_t rb = row_bytes(base, cols), gs = kPackRows * row_bytes(t, cols);
    const int64_t nb = cols / dtype_traits((int32_t)t)->block_elems;
    parallel_for(rows / kPackRows, 1, [&](int64_t b, int64_t e, int) {
      std::vector<uint8_t> plain(kPackRows * rb);
      for (int64_t g = b; g < e; g++) {
        repack_group(t, plain.data(), (const uint8_t*)src + g * gs, nb, true);
        for (int r = 0; r < kPackRows; r++)
          dequantize_row(base, plain.data() + r * rb, dst + (g * kPackRows + r) * cols, cols);
      }
    });
    return Status::Ok();
  }
  FL_TRY(check_rows_cols(t, rows, cols));
  if (rows == 0 || cols == 0) return Status::Ok();
  const size_t rb = row_bytes(t, cols);
  parallel_for(rows, (1 << 16) / cols + 1, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; r++) dequantize_row(t, (const uint8_t*)src + r * rb, dst + r * cols, cols);
  });
  return Status::Ok();
}

// ---- matmul ----------------------------------------------------------------------
static bool matmul_supported(DType t) {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_0: case DType::Q4_K:
    case DType::Q5_K: case DType::Q6_K: case DType::Q4_0X16: case DType::Q8_0X16: case DType::Q4_KX16:
    case DType::Q6_KX16:
    case DType::IQ4_XS: case DType::Q3_K: case DType::Q2_K: case DType::IQ4_XSX16: case DType::Q3_KX16:
    case DType::Q2_KX16:
      return true;
    default:
      return lg::index_of(t) >= 0;  // the legacy 32-block formats, plain and repacked
  }
}

Status check_weight(DType wtype, int64_t N, int64_t K, size_t bytes) {
  if (!matmul_supported(wtype))
    return Status::type("W.dtype", "one of 'f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_k', 'q5_k', 'q6_k', 'q5_0', 'q4_1', 'q5_1', 'iq4_nl', 'mxfp4', "
                        "'iq4_xs', 'q3_k', 'q2_k', 'q4_0x16', 'q8_0x16', 'q4_kx16', 'q6_kx16', 'q5_0x16', 'q4_1x16', 'q5_1x16', "
                        "'iq4_nlx16', 'mxfp4x16', 'iq4_xsx16', 'q3_kx16', 'q2_kx16'",
                        quoted(wtype));
  if (N < 0) return Status::range("N", "integer >= 0", std::to_string(N));
  if (is_repacked(wtype) && N % kPackRows != 0)
    return Status::range("N", std::string("a multiple of 16 (the ") + dname(wtype) + " row group)", std::to_string(N));
  const int be = dtype_traits((int32_t)wtype)->block_elems;
  if (K < 1 || K % be != 0)
    return Status::range("K", std::string(be == 1 ? "integer >= 1" : "a positive multiple of " + std::to_string(be) +
                                                                         " (the " + dname(wtype) + " block)"),
                         std::to_string(K));
  const double need = (double)N * (double)row_bytes(wtype, K);
  if (need > (double)bytes)
    return Status::range("W", "at least " + std::to_string((uint64_t)need) + " bytes", std::to_string(bytes) + " bytes");
  return Status::Ok();
}

static size_t act_row_bytes(DType wtype, int64_t K) {
  switch (wtype) {
    case DType::Q4_0: case DType::Q8_0: case DType::Q4_0X16: case DType::Q8_0X16:
      return (size_t)(K / 32) * sizeof(qs::ActQ8_0);
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: case DType::Q4_KX16: case DType::Q6_KX16:
    case DType::IQ4_XS: case DType::Q3_K: case DType::Q2_K: case DType::IQ4_XSX16: case DType::Q3_KX16:
    case DType::Q2_KX16:
      return (size_t)(K / QK_K) * sizeof(block_q8_K);
    default: return lg::index_of(wtype) >= 0 ? (size_t)(K / 32) * sizeof(qs::ActQ8_0) : (size_t)K * 4;
  }
}

size_t qacts_bytes(DType wtype, int64_t M, int64_t K) {
  if (M < 0 || K < 0) return 0;
  return (size_t)M * act_row_bytes(wtype, K);
}

Status quantize_acts(void* dst, DType wtype, const float* x, int64_t M, int64_t K) {
  FL_TRY(check_weight(wtype, 0, K, 0));
  if (M < 0) return Status::range("M", "integer >= 0", std::to_string(M));
  const QgemmTable& k = qgemm_dispatch();
  const size_t rb = act_row_bytes(wtype, K);
  RowFn fn = nullptr;
  switch (wtype) {
    case DType::Q4_0: case DType::Q4_0X16: fn = k.quantize_act_q4_0.fn; break;
    case DType::Q8_0: case DType::Q8_0X16: fn = k.quantize_act_q8_0.fn; break;
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: case DType::Q4_KX16: case DType::Q6_KX16:
    case DType::IQ4_XS: case DType::Q3_K: case DType::Q2_K: case DType::IQ4_XSX16: case DType::Q3_KX16:
    case DType::Q2_KX16:
      fn = k.quantize_row_q8_K.fn;
      break;
    default:
      if (lg::index_of(wtype) >= 0) fn = k.quantize_act_q8_0.fn;  // the lane offsets unused, the sum used
      break;
  }
  for (int64_t m = 0; m < M; m++) {
    if (fn) fn((uint8_t*)dst + m * rb, x + m * K, K);
    else std::memcpy((uint8_t*)dst + m * rb, x + m * K, rb);
  }
  return Status::Ok();
}

static GemvFn gemv_fn(DType wtype) {
  const QgemmTable& k = qgemm_dispatch();
  switch (wtype) {
    case DType::Q4_0: return k.gemv_q4_0_q8_0.fn;
    case DType::Q8_0: return k.gemv_q8_0_q8_0.fn;
    case DType::Q4_K: return k.gemv_q4_K_q8_K.fn;
    case DType::Q5_K: return k.gemv_q5_K_q8_K.fn;
    case DType::Q6_K: return k.gemv_q6_K_q8_K.fn;
    case DType::F32: return k.gemv_f32_f32.fn;
    case DType::F16: return k.gemv_f16_f32.fn;
    case DType::BF16: return k.gemv_bf16_f32.fn;
    case DType::Q4_0X16: return k.gemv_q4_0x16_q8_0.fn;
    case DType::Q8_0X16: return k.gemv_q8_0x16_q8_0.fn;
    case DType::Q4_KX16: return k.gemv_q4_Kx16_q8_K.fn;
    case DType::Q6_KX16: return k.gemv_q6_Kx16_q8_K.fn;
    case DType::IQ4_XS: return k.gemv_iq4_xs_q8_K.fn;
    case DType::Q3_K: return k.gemv_q3_K_q8_K.fn;
    case DType::Q2_K: return k.gemv_q2_K_q8_K.fn;
    case DType::IQ4_XSX16: return k.gemv_iq4_xsx16_q8_K.fn;
    case DType::Q3_KX16: return k.gemv_q3_Kx16_q8_K.fn;
    case DType::Q2_KX16: return k.gemv_q2_Kx16_q8_K.fn;
    default: {
      const int f = lg::index_of(wtype);
      if (f < 0) return nullptr;
      return lg::plain_index(wtype) >= 0 ? k.legacy[f].gemv.fn : k.legacy[f].gemv_x16.fn;
    }
  }
}

void matmul_rows_st(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, DType wtype,
                    int64_t n0, int64_t n1) {
  GemvFn fn = gemv_fn(wtype);
  if (!fn || n1 <= n0 || M <= 0) return;
  fn(out, ldo, acts, M, K, W, n0, n1);
}

static void add_bias(float* out, const float* bias, int64_t M, int64_t N, int64_t n0, int64_t n1) {
  if (!bias) return;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = n0; n < n1; n++) out[m * N + n] += bias[n];
}

static Status gemv(float* out, const float* x, int64_t M, int64_t K, const void* W, DType wtype, int64_t N,
                   const float* bias) {
  const void* acts = x;
  thread_local std::vector<uint8_t> qbuf;
  if (wtype != DType::F32 && wtype != DType::F16 && wtype != DType::BF16) {
    const size_t need = qacts_bytes(wtype, M, K);
    if (qbuf.size() < need) qbuf.resize(need);
    FL_TRY(quantize_acts(qbuf.data(), wtype, x, M, K));
    acts = qbuf.data();
  }
  GemvFn fn = gemv_fn(wtype);
  // Chunks of rows (~64 KiB of weights, a multiple of 4 rows) in one contiguous lane
  // per thread (ChunkLanes: each thread streams its part of W; a thread that starts
  // late, on a busy machine, finds its lane taken over instead of holding the others back).
  int64_t chunk = ((int64_t)(65536 / (row_bytes(wtype, K) + 1)) + 4) & ~(int64_t)3;
  if (chunk < 4) chunk = 4;
  if (is_repacked(wtype)) chunk = (chunk + kPackRows - 1) & ~(int64_t)(kPackRows - 1);  // whole groups
  const int64_t nchunks = (N + chunk - 1) / chunk;
  struct Ctx {
    GemvFn fn;
    float* out;
    const void* acts;
    int64_t M, K, N, chunk, nchunks;
    const void* W;
    const float* bias;
    ChunkLanes lanes;
  } c;
  c.fn = fn; c.out = out; c.acts = acts; c.M = M; c.K = K; c.N = N; c.chunk = chunk; c.nchunks = nchunks;
  c.W = W; c.bias = bias;
  int nth = n_threads();
  if (nth > nchunks) nth = (int)nchunks;
  c.lanes.init(nchunks, nth);
  parallel_run(
      [](void* p, int ith, int) {
        Ctx* c = (Ctx*)p;
        for (;;) {
          const int64_t i = c->lanes.claim(ith);
          if (i < 0) break;
          const int64_t n0 = i * c->chunk, n1 = n0 + c->chunk < c->N ? n0 + c->chunk : c->N;
          c->fn(c->out, c->N, c->acts, c->M, c->K, c->W, n0, n1);
          add_bias(c->out, c->bias, c->M, c->N, n0, n1);
        }
      },
      &c, nth);
  return Status::Ok();
}

// Quantized W, M > kGemvMaxM: x quantized once (W's dot partner) and packed in panels
// of gemm_i8_mr rows (layout and numerics: fuselm/ops/qgemm.h, cpu/qgemm_i8.h), then
// panels of gemm_i8_nr W rows taken from a shared counter, each repacked once by
// the kernel and multiplied with every activation panel.
static Status gemm_i8(float* out, const float* x, int64_t M, int64_t K, const void* W, DType wtype, int64_t N,
                      const float* bias) {
  const QgemmTable& k = qgemm_dispatch();
  GemmI8Fn fn = nullptr;
  int c = 0;
  bool halves = false;
  switch (wtype) {
    case DType::Q4_0: fn = k.gemm_q4_0_q8_0.fn; c = 8; break;
    case DType::Q8_0: fn = k.gemm_q8_0_q8_0.fn; c = k.gemm_i8_q8_0_off; break;
    case DType::Q4_K: fn = k.gemm_q4_K_q8_K.fn; break;
    case DType::Q5_K: fn = k.gemm_q5_K_q8_K.fn; break;
    case DType::Q6_K: fn = k.gemm_q6_K_q8_K.fn; c = 32; halves = true; break;
    case DType::Q4_0X16: fn = k.gemm_q4_0x16_q8_0.fn; c = 8; break;
    case DType::Q8_0X16: fn = k.gemm_q8_0x16_q8_0.fn; c = k.gemm_i8_q8_0_off; break;
    case DType::Q4_KX16: fn = k.gemm_q4_Kx16_q8_K.fn; break;
    case DType::Q6_KX16: fn = k.gemm_q6_Kx16_q8_K.fn; c = 32; halves = true; break;
    // IQ4_XS codes are its signed levels, offset as q8_0's are (c = the ISA's q8_0 offset)
    case DType::IQ4_XS: fn = k.gemm_iq4_xs_q8_K.fn; c = k.gemm_i8_q8_0_off; halves = true; break;
    case DType::IQ4_XSX16: fn = k.gemm_iq4_xsx16_q8_K.fn; c = k.gemm_i8_q8_0_off; halves = true; break;
    case DType::Q3_K: fn = k.gemm_q3_K_q8_K.fn; c = 4; halves = true; break;
    case DType::Q3_KX16: fn = k.gemm_q3_Kx16_q8_K.fn; c = 4; halves = true; break;
    // Q2_K: a min per 16-half against the half's activation sum: c = -1 packs corr[h] = S_h
    case DType::Q2_K: fn = k.gemm_q2_K_q8_K.fn; c = -1; halves = true; break;
    case DType::Q2_KX16: fn = k.gemm_q2_Kx16_q8_K.fn; c = -1; halves = true; break;
    default: {
      const int f = lg::index_of(wtype);
      if (f < 0) return Status::type("W.dtype", "a quantized format", quoted(wtype));
      fn = lg::plain_index(wtype) >= 0 ? k.legacy[f].gemm.fn : k.legacy[f].gemm_x16.fn;
      c = lg::kLutOf[f] ? k.gemm_i8_q8_0_off : lg::kCOf[f];  // codes - c, or the table's values (+ off)
      break;
    }
  }
  const int64_t MR = k.gemm_i8_mr, NRP = k.gemm_i8_nr, nb = K / 32, mpanels = (M + MR - 1) / MR;
  thread_local std::vector<int8_t> qa_;
  thread_local std::vector<I8ActMeta> meta_;
  if (qa_.size() < (size_t)(mpanels * nb * MR * 32)) qa_.resize((size_t)(mpanels * nb * MR * 32));
  if (meta_.size() < (size_t)(mpanels * nb * MR)) meta_.resize((size_t)(mpanels * nb * MR));
  int8_t* qa = qa_.data();
  I8ActMeta* meta = meta_.data();
  // x in W's dot partner format, as the GEMV and llama.cpp quantize it: q8_0 (a scale
  // per 32) for q4_0 / q8_0, q8_K (a scale per 256) for the K-quants
  const bool kq = dtype_traits((int32_t)repack_base(wtype))->vec_dot_partner == DType::Q8_K;
  const RowFn quant = kq ? k.quantize_row_q8_K.fn : k.quantize_act_q8_0.fn;
  const size_t arb = act_row_bytes(wtype, K);
  parallel_for(mpanels, 1, [&](int64_t p0, int64_t p1, int) {
    thread_local std::vector<uint8_t> row_;
    if (row_.size() < arb) row_.resize(arb);
    const qs::ActQ8_0* r0 = (const qs::ActQ8_0*)row_.data();
    const block_q8_K* rk = (const block_q8_K*)row_.data();
    for (int64_t p = p0; p < p1; p++)
      for (int64_t i = 0; i < MR; i++) {
        const int64_t m = p * MR + i;
        if (m < M) quant(row_.data(), x + m * K, K);
        for (int64_t b = 0; b < nb; b++) {
          const int64_t at = (p * nb + b) * MR + i;
          I8ActMeta& mt = meta[at];
          if (m >= M) {
            std::memset(qa + at * 32, 0, 32);
            mt = I8ActMeta{0.0f, 0.0f, {0, 0}};
            continue;
          }
          const int8_t* q = kq ? rk[b / 8].qs + 32 * (b % 8) : r0[b].qs;
          const float d = kq ? rk[b / 8].d : r0[b].d;
          std::memcpy(qa + at * 32, q, 32);
          int32_t s0 = 0, s1 = 0;
          for (int j = 0; j < 16; j++) s0 += q[j];
          for (int j = 16; j < 32; j++) s1 += q[j];
          mt.d = d;
          mt.sum = (float)(s0 + s1);
          mt.corr[0] = halves ? -c * s0 : -c * (s0 + s1);
          mt.corr[1] = halves ? -c * s1 : 0;
        }
      }
  });
  const size_t wrb = row_bytes(wtype, K);
  const int64_t npanels = (N + NRP - 1) / NRP;
  struct Ctx {
    GemmI8Fn fn;
    float* out;
    const int8_t* qa;
    const I8ActMeta* meta;
    int64_t M, K, N, NRP, npanels;
    size_t wrb;
    const void* W;
    const float* bias;
    std::atomic<int64_t> next{0};
  } cx;
  cx.fn = fn; cx.out = out; cx.qa = qa; cx.meta = meta; cx.M = M; cx.K = K; cx.N = N; cx.NRP = NRP;
  cx.npanels = npanels; cx.wrb = wrb; cx.W = W; cx.bias = bias;
  int nth = n_threads();
  if (nth > npanels) nth = (int)npanels;
  parallel_run(
      [](void* p, int, int) {
        Ctx* c = (Ctx*)p;
        thread_local std::vector<uint8_t> scratch_;
        const size_t need = gemm_i8_scratch_bytes(c->K, (int)c->NRP) + 64;
        if (scratch_.size() < need) scratch_.resize(need);
        void* scratch = (void*)(((uintptr_t)scratch_.data() + 63) & ~(uintptr_t)63);
        for (;;) {
          const int64_t i = c->next.fetch_add(1, std::memory_order_relaxed);
          if (i >= c->npanels) break;
          const int64_t n0 = i * c->NRP, nr = c->N - n0 < c->NRP ? c->N - n0 : c->NRP;
          c->fn(c->out + n0, c->N, c->qa, c->meta, c->M, c->K, (const uint8_t*)c->W + (size_t)n0 * c->wrb, nr, scratch);
          add_bias(c->out, c->bias, c->M, c->N, n0, n0 + nr);
        }
      },
      &cx, nth);
  return Status::Ok();
}

static Status gemm(float* out, const float* x, int64_t M, int64_t K, const void* W, DType wtype, int64_t N,
                   const float* bias) {
  const QgemmTable& k = qgemm_dispatch();
  if (wtype == DType::Q4_0 || wtype == DType::Q8_0 || wtype == DType::Q4_K || wtype == DType::Q5_K ||
      wtype == DType::Q6_K || is_repacked(wtype) || lg::index_of(wtype) >= 0 || wtype == DType::IQ4_XS ||
      wtype == DType::Q3_K || wtype == DType::Q2_K)
    return gemm_i8(out, x, M, K, W, wtype, N, bias);
  const bool f32c = wtype == DType::F32 || wtype == DType::F16;
  const int64_t MB = k.gemm_mb, NR = k.gemm_nr;
  const int64_t Kp = f32c ? K : (K + 1) & ~(int64_t)1;
  const int64_t mblocks = (M + MB - 1) / MB;
  // pack x once: f32 [mblocks][K][MB] or bf16 pairs [mblocks][Kp/2][MB]
  thread_local std::vector<uint32_t> xpack;
  const size_t xwords = (size_t)mblocks * (size_t)(f32c ? K : Kp / 2) * (size_t)MB;
  if (xpack.size() < xwords) xpack.resize(xwords);
  uint32_t* xp = xpack.data();
  parallel_for(mblocks, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t mb = b; mb < e; mb++) {
      if (f32c) {
        float* dst = (float*)xp + mb * K * MB;
        for (int64_t i = 0; i < MB; i++) {
          const int64_t m = mb * MB + i;
          for (int64_t kk = 0; kk < K; kk++) dst[kk * MB + i] = m < M ? x[m * K + kk] : 0.0f;
        }
      } else {
        uint32_t* dst = xp + mb * (Kp / 2) * MB;
        for (int64_t i = 0; i < MB; i++) {
          const int64_t m = mb * MB + i;
          for (int64_t p = 0; p < Kp / 2; p++) {
            uint32_t lo = 0, hi = 0;
            if (m < M) {
              lo = fp32_to_bf16(x[m * K + 2 * p]);
              hi = 2 * p + 1 < K ? fp32_to_bf16(x[m * K + 2 * p + 1]) : 0;
            }
            dst[p * MB + i] = lo | (hi << 16);
          }
        }
      }
    }
  });
  const size_t wrb = row_bytes(wtype, K);
  const int64_t tiles = (N + NR - 1) / NR;
  parallel_for(tiles, 1, [&](int64_t b, int64_t e, int) {
    thread_local std::vector<float> ftmp;
    thread_local std::vector<uint16_t> htmp;
    const void* rows[64];
    for (int64_t t = b; t < e; t++) {
      const int64_t n0 = t * NR, nr = N - n0 < NR ? N - n0 : NR;
      if (wtype == DType::F32) {
        for (int64_t r = 0; r < nr; r++) rows[r] = (const float*)W + (n0 + r) * K;
      } else if (wtype == DType::F16) {
        if (ftmp.size() < (size_t)(NR * K)) ftmp.resize(NR * K);
        for (int64_t r = 0; r < nr; r++) {
          k.dequantize_row_f16.fn(ftmp.data() + r * K, (const uint8_t*)W + (n0 + r) * wrb, K);
          rows[r] = ftmp.data() + r * K;
        }
      } else if (wtype == DType::BF16 && K % 2 == 0) {
        for (int64_t r = 0; r < nr; r++) rows[r] = (const uint16_t*)W + (n0 + r) * K;
      } else {
        if (ftmp.size() < (size_t)K) ftmp.resize(K);
        if (htmp.size() < (size_t)(NR * Kp)) htmp.resize(NR * Kp);
        for (int64_t r = 0; r < nr; r++) {
          uint16_t* h = htmp.data() + r * Kp;
          if (wtype == DType::BF16) {
            std::memcpy(h, (const uint16_t*)W + (n0 + r) * K, (size_t)K * 2);
          } else {
            dequantize_row(wtype, (const uint8_t*)W + (n0 + r) * wrb, ftmp.data(), K);
            k.round_bf16_row.fn(h, ftmp.data(), K);
          }
          if (Kp > K) h[K] = 0;
          rows[r] = h;
        }
      }
      (f32c ? k.gemm_f32.fn : k.gemm_bf16.fn)(out + n0, N, xp, M, rows, nr, f32c ? K : Kp);
      add_bias(out, bias, M, N, n0, n0 + nr);
    }
  });
  return Status::Ok();
}

Status matmul(float* out, const float* x, int64_t M, int64_t K, const void* W, DType wtype, int64_t N,
              const float* bias) {
  if (M < 0) return Status::range("M", "integer >= 0", std::to_string(M));
  FL_TRY(check_weight(wtype, N, K, (size_t)-1));
  if (M == 0 || N == 0) return Status::Ok();
  if (M <= kGemvMaxM) return gemv(out, x, M, K, W, wtype, N, bias);
  // a repacked matrix too: the int8 GEMM reads its 16-row groups straight into its panels
  return gemm(out, x, M, K, W, wtype, N, bias);
}

}  // namespace fuselm
