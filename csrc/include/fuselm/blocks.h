// Every storage format fuselm knows, declared once: the block structs with
// their llama.cpp (ggml) layouts and one traits table. lib/dtype.ts mirrors the
// table and test/kernels/dtype.test.ts checks that the two agree.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fuselm {

// Ids are GGML's type ids where GGML has the type (so a GGUF tensor's type
// field is our dtype), and ids >= 100 for fuselm's own.
enum class DType : int32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I32 = 26,
  BF16 = 30,
  U8 = 100,
  LUT4 = 101,  // fuselm SqueezeLLM-style: 4-bit codes into a per-row fp16 table
  LUT3 = 102,  // fuselm SqueezeLLM-style: 3-bit codes into a per-row fp16 table
  Q4_0X16 = 103,  // fuselm: Q4_0 repacked 16 rows at a time (block_q4_0x16), for the GEMV
  Q8_0X16 = 104,  // fuselm: Q8_0 repacked 16 rows at a time (block_q8_0x16), for the GEMV
  Q4_KX16 = 105,  // fuselm: Q4_K repacked 16 rows at a time (block_q4_Kx16), for the GEMV
  Q6_KX16 = 106,  // fuselm: Q6_K repacked 16 rows at a time (block_q6_Kx16), for the GEMV
  // the other 32-weight formats with a q8_0 partner (block structs below, "legacy 32-block formats")
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  IQ4_NL = 20,
  MXFP4 = 39,
  Q5_0X16 = 110,   // fuselm: Q5_0 repacked 16 rows at a time (block_q5_0x16), for the GEMV
  Q4_1X16 = 111,   // fuselm: Q4_1 repacked (block_q4_1x16)
  Q5_1X16 = 112,   // fuselm: Q5_1 repacked (block_q5_1x16)
  IQ4_NLX16 = 113, // fuselm: IQ4_NL repacked (block_iq4_nlx16)
  MXFP4X16 = 114,  // fuselm: MXFP4 repacked (block_mxfp4x16)
  // the 256-weight super-block formats with the q8_K partner (csrc/cpu/qformats_k.h)
  Q2_K = 10,
  Q3_K = 11,
  IQ4_XS = 23,
  IQ4_XSX16 = 120,  // fuselm: IQ4_XS repacked 16 rows at a time (block_iq4_xsx16), for the GEMV
  Q3_KX16 = 121,    // fuselm: Q3_K repacked 16 rows at a time (block_q3_Kx16), for the GEMV
  Q2_KX16 = 122,    // fuselm: Q2_K repacked 16 rows at a time (block_q2_Kx16), for the GEMV
};

constexpr int QK4_0 = 32;
constexpr int QK8_0 = 32;
constexpr int QK_K = 256;
constexpr int K_SCALE_SIZE = 12;

typedef uint16_t fl_half;  // IEEE binary16 bits
typedef uint16_t fl_bf16;  // bfloat16 bits

// Q4_0: 32 weights. w = d * (q - 8), q in [0, 15].
// qs[j] holds weight j in its low nibble and weight j + 16 in its high nibble.
struct block_q4_0 {
  fl_half d;
  uint8_t qs[QK4_0 / 2];
};
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 is 18 bytes");

// Q8_0: 32 weights. w = d * q, q in [-127, 127].
struct block_q8_0 {
  fl_half d;
  int8_t qs[QK8_0];
};
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 is 34 bytes");

// Q4_0X16 / Q8_0X16 (fuselm, family `qgemm`): the same weights and scales as
// Q4_0 / Q8_0, repacked so that one 64-byte vector holds 4 consecutive weights
// of 16 rows (the operand of one vpdpbusd against 4 broadcast activations) and
// one 32-byte load holds the 16 rows' scales. A [N, K] matrix (N a multiple of
// 16) is N/16 groups of K/32 such blocks, group-major: group g, block b at
// index g * (K/32) + b. The byte size equals the plain format's.
// Q4_0X16: qs[j][4r + e] holds row r's weight 4j + e in its low nibble and
// weight 16 + 4j + e in its high nibble (q in [0, 15] standing for q - 8).
struct block_q4_0x16 {
  fl_half d[16];
  uint8_t qs[4][64];
};
static_assert(sizeof(block_q4_0x16) == 16 * sizeof(block_q4_0), "block_q4_0x16 is 16 q4_0 blocks");
// Q8_0X16: qs[j][4r + e] = row r's weight 4j + e (int8, as in Q8_0).
struct block_q8_0x16 {
  fl_half d[16];
  int8_t qs[8][64];
};
static_assert(sizeof(block_q8_0x16) == 16 * sizeof(block_q8_0), "block_q8_0x16 is 16 q8_0 blocks");
constexpr int kPackRows = 16;

// Q4_K: 256 weights in 8 sub-blocks of 32. w = d * sc[j] * q - dmin * m[j],
// with 6-bit sc/m packed in scales[12] (ggml's get_scale_min_k4 layout) and
// q in [0, 15]. qs is 4 chunks of 32 bytes: chunk c holds sub-block 2c in the
// low nibbles and sub-block 2c+1 in the high nibbles.
struct block_q4_K {
  fl_half d;
  fl_half dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qs[QK_K / 2];
};
static_assert(sizeof(block_q4_K) == 144, "block_q4_K is 144 bytes");

// Q5_K: as Q4_K plus a fifth bit per weight in qh.
struct block_q5_K {
  fl_half d;
  fl_half dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};
static_assert(sizeof(block_q5_K) == 176, "block_q5_K is 176 bytes");

// Q6_K: 256 weights in 16 sub-blocks of 16. w = d * scales[j] * (q - 32),
// q 6-bit: low 4 bits in ql, high 2 bits in qh.
struct block_q6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  fl_half d;
};
static_assert(sizeof(block_q6_K) == 210, "block_q6_K is 210 bytes");

// Q8_K: the activation partner of the K-quants. bsums are sums of groups of 16.
struct block_q8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
};
static_assert(sizeof(block_q8_K) == 292, "block_q8_K is 292 bytes");

// Q4_KX16 / Q6_KX16 (fuselm, family `qgemm`): 16 rows of Q4_K / Q6_K repacked
// as Q4_0X16 is (blocks of 16 rows, group-major), one 64-byte vector = one
// dword of 4 consecutive weights of 16 rows.
// Q4_KX16: d, dmin per row; the 6-bit sub-block scales and mins decoded to
// bytes (sc[j][r], m[j][r]: 64 bytes more per 16 rows than Q4_K, 148 bytes
// per 256 weights instead of 144, and no 6-bit unpacking in the GEMV);
// qs[c][g][4r + e] = Q4_K's qs[32c + 4g + e] of row r: low nibble weight
// 64c + 4g + e (sub-block 2c), high nibble weight 64c + 32 + 4g + e (2c + 1).
struct block_q4_Kx16 {
  fl_half d[16];
  fl_half dmin[16];
  uint8_t sc[8][16];
  uint8_t m[8][16];
  uint8_t qs[4][8][64];
};
static_assert(sizeof(block_q4_Kx16) == 16 * 148, "block_q4_Kx16 is 16 x 148 bytes");
// Q6_KX16: with u6(t) the 64-byte vector of the 6-bit codes (0..63, standing
// for q - 32) of dword t (weights 4t..4t+3) of the 16 rows, for u < 16:
// q[u][0] holds u6(u) & 15 in its low nibbles and u6(u + 32) & 15 in its high
// nibbles, q[u][1] the same for u6(u + 16) and u6(u + 48), and q[u][2] holds
// u6(u + 16i) >> 4 in bits 2i..2i+1, i < 4: the GEMV reads it front to back.
// sc[s][r]: the int8 scale of 16-weight sub-block s of row r. Same size as Q6_K.
struct block_q6_Kx16 {
  fl_half d[16];
  int8_t sc[16][16];
  uint8_t q[16][3][64];
};
static_assert(sizeof(block_q6_Kx16) == 16 * sizeof(block_q6_K), "block_q6_Kx16 is 16 q6_K blocks");

// LUT4 / LUT3 (fuselm's SqueezeLLM-style format, family `lut`): a weight matrix
// W [N, K] (K % 32 == 0) is three parts: per-row codes in these blocks, a per-row
// table of 2^bits fp16 centroids (f16 [N, 16] or [N, 8], ascending), and a CSR
// fp16 sparse part (row_ptr i32 [N+1], col i32 [nnz], val f16 [nnz]).
//   W[n, k] = table[n][code(n, k)] + sum of val over CSR entries (n, k).
// An outlier's dense slot holds the code of its nearest centroid and its CSR val
// is the residual fp16(w - table[code]), so the kernels need no mask.
// LUT4: qs[j] holds the code of weight j in its low nibble and of weight j + 16
// in its high nibble (Q4_0's nibble order).
struct block_lut4 {
  uint8_t qs[16];
};
static_assert(sizeof(block_lut4) == 16, "block_lut4 is 16 bytes (4 bits per weight)");
// LUT3: the 32 codes packed back to back, little-endian: code j occupies bits
// [3j, 3j+3) of the 96-bit integer qs[0] | qs[1] << 8 | ... | qs[11] << 88, so it
// lies in bytes 3j/8 and 3j/8 + 1 at shift 3j % 8. SIMD decode moves those two
// bytes into lane j with one byte shuffle (vpermb / vpshufb) and shifts by 3j % 8.
struct block_lut3 {
  uint8_t qs[12];
};
static_assert(sizeof(block_lut3) == 12, "block_lut3 is 12 bytes (3 bits per weight)");

// ---- the other 32-weight formats with a q8_0 partner ("legacy" 32-blocks) --------
// Each stores 32 weights with qs[j] holding weight j in its low nibble and weight
// j + 16 in its high nibble (Q4_0's order), a fifth bit per weight in qh for Q5_*
// (bit j of the little-endian uint32 qh = bit 4 of weight j's code), and:
//   Q5_0:   w = d * (q - 16), q in [0, 31]
//   Q4_1:   w = d * q + m,    q in [0, 15]
//   Q5_1:   w = d * q + m,    q in [0, 31]
//   IQ4_NL: w = d * kvalues_iq4nl[q]  (ggml-common.h; csrc/cpu/qformats_legacy.h)
//   MXFP4:  w = 2^(e - 128) * kvalues_mxfp4[q]  (e: an E8M0 exponent; the table holds
//           twice the E2M1 values, so the scale is half of 2^(e - 127))
constexpr int QK_LEGACY = 32;
struct block_q5_0 {
  fl_half d;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 is 22 bytes");
struct block_q4_1 {
  fl_half d;
  fl_half m;
  uint8_t qs[16];
};
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 is 20 bytes");
struct block_q5_1 {
  fl_half d;
  fl_half m;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 is 24 bytes");
struct block_iq4_nl {
  fl_half d;
  uint8_t qs[16];
};
static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl is 18 bytes");
struct block_mxfp4 {
  uint8_t e;
  uint8_t qs[16];
};
static_assert(sizeof(block_mxfp4) == 17, "block_mxfp4 is 17 bytes");
// Their repacked forms (fuselm, family `qgemm`), 16 rows group-major as Q4_0X16
// (group g, block b at index g * (K/32) + b), each the plain size x 16:
// qs[j][4r + e] holds row r's weight 4j + e in its low nibble and weight
// 16 + 4j + e in its high nibble (exactly Q4_0X16's qs); d / m / e per row;
// qh[4r + e] (Q5_*) holds the fifth bits of row r: bit j (j < 4) that of weight
// 4j + e, bit 4 + j that of weight 16 + 4j + e, so the 64 bytes line up with
// the 64-byte vectors of qs.
struct block_q5_0x16 {
  fl_half d[16];
  uint8_t qh[64];
  uint8_t qs[4][64];
};
static_assert(sizeof(block_q5_0x16) == 16 * sizeof(block_q5_0), "block_q5_0x16 is 16 q5_0 blocks");
struct block_q4_1x16 {
  fl_half d[16];
  fl_half m[16];
  uint8_t qs[4][64];
};
static_assert(sizeof(block_q4_1x16) == 16 * sizeof(block_q4_1), "block_q4_1x16 is 16 q4_1 blocks");
struct block_q5_1x16 {
  fl_half d[16];
  fl_half m[16];
  uint8_t qh[64];
  uint8_t qs[4][64];
};
static_assert(sizeof(block_q5_1x16) == 16 * sizeof(block_q5_1), "block_q5_1x16 is 16 q5_1 blocks");
struct block_iq4_nlx16 {
  fl_half d[16];
  uint8_t qs[4][64];
};
static_assert(sizeof(block_iq4_nlx16) == 16 * sizeof(block_iq4_nl), "block_iq4_nlx16 is 16 iq4_nl blocks");
struct block_mxfp4x16 {
  uint8_t e[16];
  uint8_t qs[4][64];
};
static_assert(sizeof(block_mxfp4x16) == 16 * sizeof(block_mxfp4), "block_mxfp4x16 is 16 mxfp4 blocks");
// ---- IQ4_XS, Q3_K, Q2_K: 256-weight super-blocks, dot partner q8_K ------------------
// (their kernels: csrc/cpu/qformats_k.h; IQ4_XS's levels: fuselm/iq4_values.h)

// IQ4_XS: 256 weights in 8 sub-blocks of 32. w = d * (ls[j] - 32) * kIq4nlValues[q],
// ls 6-bit: low 4 bits in scales_l[j / 2] (nibble j % 2), high 2 bits in scales_h
// bits 2j..2j+1; q 4-bit: qs[16j + i] holds weight 32j + i in its low nibble and
// 32j + 16 + i in its high nibble (IQ4_NL's / Q4_0's order within a sub-block).
struct block_iq4_xs {
  fl_half d;
  uint16_t scales_h;
  uint8_t scales_l[QK_K / 64];
  uint8_t qs[QK_K / 2];
};
static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs is 136 bytes");

// Q3_K: 256 weights in 16 sub-blocks of 16. w = d * (sc[j] - 32) * (q - 4), q in [0, 7]:
// the low 2 bits of weight 128h + 32g + l in qs[32h + l] bits 2g..2g+1 (h < 2, g < 4,
// l < 32), the high bit in hmask[l] bit 4h + g. sc 6-bit: sub-block j < 8 low nibble
// of scales[j], j >= 8 high nibble of scales[j - 8]; high 2 bits in scales[8 + j % 4]
// bits 2 (j / 4).. (ggml's packing).
struct block_q3_K {
  uint8_t hmask[QK_K / 8];
  uint8_t qs[QK_K / 4];
  uint8_t scales[12];
  fl_half d;
};
static_assert(sizeof(block_q3_K) == 110, "block_q3_K is 110 bytes");

// Q2_K: 256 weights in 16 sub-blocks of 16. w = d * (scales[j] & 15) * q - dmin *
// (scales[j] >> 4), q in [0, 3] at the same place as Q3_K's low 2 bits.
struct block_q2_K {
  uint8_t scales[QK_K / 16];
  uint8_t qs[QK_K / 4];
  fl_half d;
  fl_half dmin;
};
static_assert(sizeof(block_q2_K) == 84, "block_q2_K is 84 bytes");

// Their repacked forms (family `qgemm`, as Q4_KX16: blocks of 16 rows, group-major,
// one 64-byte vector = one dword of 4 consecutive weights of the 16 rows).
// IQ4_XSX16: the 6-bit scales decoded to int8 ls - 32 (sc[j][r]; 138 bytes per 256
// weights instead of 136); qs[j][g][4r + e] = IQ4_XS's qs[16j + 4g + e] of row r
// (low nibble weight 32j + 4g + e, high nibble 32j + 16 + 4g + e).
struct block_iq4_xsx16 {
  fl_half d[16];
  int8_t sc[8][16];
  uint8_t qs[8][4][64];
};
static_assert(sizeof(block_iq4_xsx16) == 16 * 138, "block_iq4_xsx16 is 16 x 138 bytes");
// Q3_KX16: sc[j][r] = sc - 32 of sub-block j of row r (int8; 114 bytes per 256 weights
// instead of 110); with c(t) the 64-byte vector of the 3-bit codes q (0..7) of dword t
// (weights 4t..4t+3) of the 16 rows: ql[u] (u < 16) holds c(u + 16i) & 3 in bits 2i..2i+1
// and qh[v] (v < 8) holds c(v + 8i) >> 2 in bit i.
struct block_q3_Kx16 {
  fl_half d[16];
  int8_t sc[16][16];
  uint8_t ql[16][64];
  uint8_t qh[8][64];
};
static_assert(sizeof(block_q3_Kx16) == 16 * 114, "block_q3_Kx16 is 16 x 114 bytes");
// Q2_KX16: d, dmin per row, scales[j][r] = Q2_K's scales[j] of row r (sc | m << 4), and
// ql as Q3_KX16's (the codes q, 0..3). Same size as Q2_K.
struct block_q2_Kx16 {
  fl_half d[16];
  fl_half dmin[16];
  uint8_t scales[16][16];
  uint8_t ql[16][64];
};
static_assert(sizeof(block_q2_Kx16) == 16 * sizeof(block_q2_K), "block_q2_Kx16 is 16 q2_K blocks");

struct DTypeTraits {
  DType id;
  const char* name;       // GGUF's spelling, lower case
  int32_t block_elems;    // elements per block (1 for plain types)
  int32_t block_bytes;    // bytes per block
  DType vec_dot_partner;  // activation format the dot product uses (F32 when none)
  bool quantized;
};

// The table; LUT formats are composite (codes + per-row table + sparse part)
// and describe only their code rows here: block_bytes per 32 weights.
static constexpr DTypeTraits kDTypeTraits[] = {
    {DType::F32, "f32", 1, 4, DType::F32, false},
    {DType::F16, "f16", 1, 2, DType::F16, false},
    {DType::BF16, "bf16", 1, 2, DType::BF16, false},
    {DType::I8, "i8", 1, 1, DType::I8, false},
    {DType::U8, "u8", 1, 1, DType::U8, false},
    {DType::I32, "i32", 1, 4, DType::I32, false},
    {DType::Q4_0, "q4_0", QK4_0, (int32_t)sizeof(block_q4_0), DType::Q8_0, true},
    {DType::Q8_0, "q8_0", QK8_0, (int32_t)sizeof(block_q8_0), DType::Q8_0, true},
    {DType::Q4_K, "q4_k", QK_K, (int32_t)sizeof(block_q4_K), DType::Q8_K, true},
    {DType::Q5_K, "q5_k", QK_K, (int32_t)sizeof(block_q5_K), DType::Q8_K, true},
    {DType::Q6_K, "q6_k", QK_K, (int32_t)sizeof(block_q6_K), DType::Q8_K, true},
    {DType::Q8_K, "q8_k", QK_K, (int32_t)sizeof(block_q8_K), DType::Q8_K, true},
    {DType::LUT4, "lut4", 32, (int32_t)sizeof(block_lut4), DType::F32, true},
    {DType::LUT3, "lut3", 32, (int32_t)sizeof(block_lut3), DType::F32, true},
    {DType::Q4_0X16, "q4_0x16", QK4_0, (int32_t)sizeof(block_q4_0), DType::Q8_0, true},
    {DType::Q8_0X16, "q8_0x16", QK8_0, (int32_t)sizeof(block_q8_0), DType::Q8_0, true},
    {DType::Q4_KX16, "q4_kx16", QK_K, 148, DType::Q8_K, true},
    {DType::Q6_KX16, "q6_kx16", QK_K, (int32_t)sizeof(block_q6_K), DType::Q8_K, true},
    // legacy 32-block formats and their repacked forms
    {DType::Q5_0, "q5_0", 32, (int32_t)sizeof(block_q5_0), DType::Q8_0, true},
    {DType::Q4_1, "q4_1", 32, (int32_t)sizeof(block_q4_1), DType::Q8_0, true},
    {DType::Q5_1, "q5_1", 32, (int32_t)sizeof(block_q5_1), DType::Q8_0, true},
    {DType::IQ4_NL, "iq4_nl", 32, (int32_t)sizeof(block_iq4_nl), DType::Q8_0, true},
    {DType::MXFP4, "mxfp4", 32, (int32_t)sizeof(block_mxfp4), DType::Q8_0, true},
    {DType::Q5_0X16, "q5_0x16", 32, (int32_t)sizeof(block_q5_0), DType::Q8_0, true},
    {DType::Q4_1X16, "q4_1x16", 32, (int32_t)sizeof(block_q4_1), DType::Q8_0, true},
    {DType::Q5_1X16, "q5_1x16", 32, (int32_t)sizeof(block_q5_1), DType::Q8_0, true},
    {DType::IQ4_NLX16, "iq4_nlx16", 32, (int32_t)sizeof(block_iq4_nl), DType::Q8_0, true},
    {DType::MXFP4X16, "mxfp4x16", 32, (int32_t)sizeof(block_mxfp4), DType::Q8_0, true},
    {DType::Q2_K, "q2_k", QK_K, (int32_t)sizeof(block_q2_K), DType::Q8_K, true},
    {DType::Q3_K, "q3_k", QK_K, (int32_t)sizeof(block_q3_K), DType::Q8_K, true},
    {DType::IQ4_XS, "iq4_xs", QK_K, (int32_t)sizeof(block_iq4_xs), DType::Q8_K, true},
    {DType::IQ4_XSX16, "iq4_xsx16", QK_K, 138, DType::Q8_K, true},
    {DType::Q3_KX16, "q3_kx16", QK_K, 114, DType::Q8_K, true},
    {DType::Q2_KX16, "q2_kx16", QK_K, (int32_t)sizeof(block_q2_K), DType::Q8_K, true},
};

static inline const DTypeTraits* dtype_traits(int32_t id) {
  for (const auto& t : kDTypeTraits)
    if ((int32_t)t.id == id) return &t;
  return nullptr;
}

}  // namespace fuselm
