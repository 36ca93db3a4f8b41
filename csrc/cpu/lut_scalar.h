// Scalar helpers of family `lut`, shared by the ref kernels and the SIMD tails.
// static inline: each ISA's translation unit gets its own copy (see STYLE.md).
#pragma once
#include <cstdint>
#include <cstring>
#include "fuselm/blocks.h"
#include "fuselm/fp16.h"

namespace fuselm {
namespace lut {

static inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // little-endian host (x86)
}

// code of weight j (0..31) of one block
static inline int code4(const uint8_t* blk, int j) {
  const uint8_t b = blk[j & 15];
  return j < 16 ? (b & 15) : (b >> 4);
}
static inline int code3(const uint8_t* blk, int j) {
  const int bit = 3 * j, byte = bit >> 3;
  const uint32_t v = blk[byte] | (byte + 1 < 12 ? (uint32_t)blk[byte + 1] << 8 : 0u);
  return (int)((v >> (bit & 7)) & 7u);
}
// sets code j of a zeroed block
static inline void put3(uint8_t* blk, int j, int code) {
  const int bit = 3 * j, byte = bit >> 3;
  const uint32_t v = (uint32_t)code << (bit & 7);
  blk[byte] |= (uint8_t)v;
  if (v >> 8) blk[byte + 1] |= (uint8_t)(v >> 8);
}

// sum over the CSR entries [b, e) of val * x[col]
static inline float csr_dot(const int32_t* col, const fl_half* val, int64_t b, int64_t e, const float* x) {
  float s = 0;
  for (int64_t i = b; i < e; i++) s += fp16_to_fp32(val[i]) * x[col[i]];
  return s;
}

// dense dot of a dequantized row with x, 4 partial sums (used by the M > 4 tails)
static inline float dot_f32(const float* a, const float* b, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

}  // namespace lut
}  // namespace fuselm
