// Device-side decoders of the ggml block formats (layouts: fuselm/blocks.h).
// Each format splits "decode 8 consecutive weights of a row starting at element
// e (e % 8 == 0)" into load() (raw bytes into registers, so a caller can issue
// the next tile's loads before it decodes this one) and decode() into
//   w[i] = scale * q[i] + bias,   i < 8.
// Host-callable too (decode_row_host checks them without a GPU). All loads are 16-bit (blocks are only 2-byte aligned inside a row), except
// F16/BF16, which load 16 bytes (the caller checks alignment).
#pragma once
#include <cstring>

#include "cuda/common.cuh"

namespace fuselm {
namespace cuda {
namespace fmt {

__host__ __device__ __forceinline__ uint16_t ld16(const uint8_t* p) { return *(const uint16_t*)p; }
// 8 bytes at a 2-byte aligned address, as two little-endian words (byte i = word[i / 4] >> 8 (i % 4))
__host__ __device__ __forceinline__ void ld8(uint32_t w[2], const uint8_t* p) {
  w[0] = (uint32_t)ld16(p) | ((uint32_t)ld16(p + 2) << 16);
  w[1] = (uint32_t)ld16(p + 4) | ((uint32_t)ld16(p + 6) << 16);
}
__host__ __device__ __forceinline__ uint32_t byte_of(const uint32_t w[2], int i) { return (w[i >> 2] >> (8 * (i & 3))) & 0xffu; }
__host__ __device__ __forceinline__ float bits_f(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, 4);
  return f;
#endif
}
__host__ __device__ __forceinline__ float hf(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__host__ __device__ __forceinline__ float bff(uint16_t h) { return bits_f((uint32_t)h << 16); }
// nibble/byte -> float exactly, via the 2^23 magic (one LOP + one FADD)
__host__ __device__ __forceinline__ float u8f(uint32_t v) { return bits_f(0x4B000000u | v) - 8388608.0f; }

struct Q4_0 {
  static constexpr int QK = 32, BS = 18;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = false;
  struct Raw { uint32_t q[2]; uint16_t d; uint8_t hi; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 5) * BS;
    const int j = (int)(e & 31);
    Raw r;
    r.d = ld16(b);
    ld8(r.q, b + 2 + (j & 15));
    r.hi = j >= 16;
    return r;
  }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const int sh = r.hi ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 8; i++) q[i] = u8f((byte_of(r.q, i) >> sh) & 15) - 8.0f;
    scale = hf(r.d);
    bias = 0.0f;
  }
};

struct Q8_0 {
  static constexpr int QK = 32, BS = 34;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = false;
  struct Raw { uint32_t q[2]; uint16_t d; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 5) * BS;
    Raw r;
    r.d = ld16(b);
    ld8(r.q, b + 2 + (e & 31));
    return r;
  }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
#pragma unroll
    for (int i = 0; i < 8; i++) q[i] = (float)(int8_t)byte_of(r.q, i);
    scale = hf(r.d);
    bias = 0.0f;
  }
};

// Q4_K: super-block of 256, 8 sub-blocks of 32; sub-block s lives in chunk s/2 (32 bytes), low nibbles for even
// s, high for odd; 6-bit scale and min per sub-block (ggml get_scale_min_k4).
struct Q4_K {
  static constexpr int QK = 256, BS = 144;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = true;
  struct Raw { uint32_t q[2]; uint16_t d, dmin; uint8_t u, v, w, j; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 8) * BS;
    const int idx = (int)(e & 255), s = idx >> 5;
    Raw r;
    r.d = ld16(b);
    r.dmin = ld16(b + 2);
    const uint8_t* sc = b + 4;
    r.u = sc[s + 4 < 12 ? s + 4 : 0];
    r.v = sc[s < 4 ? s : s - 4];
    r.w = sc[s];
    r.j = (uint8_t)s;
    ld8(r.q, b + 16 + 32 * (s >> 1) + (idx & 31));
    return r;
  }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    int sc, m;
    if (r.j < 4) { sc = r.v & 63; m = r.u & 63; }
    else { sc = (r.u & 15) | ((r.v >> 6) << 4); m = (r.u >> 4) | ((r.w >> 6) << 4); }
    const int sh = (r.j & 1) ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 8; i++) q[i] = u8f((byte_of(r.q, i) >> sh) & 15);
    scale = hf(r.d) * (float)sc;
    bias = -hf(r.dmin) * (float)m;
  }
};

// Q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d; element idx of a block:
// half h = idx/128, r = idx%128, quarter g = r/32, l = r%32:
// low = ql[64h + 32(g&1) + l] >> (g >= 2 ? 4 : 0), high = (qh[32h + l] >> 2g) & 3, scale = scales[8h + 2g + l/16].
struct Q6_K {
  static constexpr int QK = 256, BS = 210;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = false;
  struct Raw { uint32_t ql[2], qh[2]; uint16_t d; int8_t sc; uint8_t g; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 8) * BS;
    const int idx = (int)(e & 255), h = idx >> 7, rr = idx & 127, g = rr >> 5, l = rr & 31;
    Raw r;
    r.d = ld16(b + 208);
    r.sc = (int8_t)b[192 + 8 * h + 2 * g + (l >> 4)];
    r.g = (uint8_t)g;
    ld8(r.ql, b + 64 * h + 32 * (g & 1) + l);
    ld8(r.qh, b + 128 + 32 * h + l);
    return r;
  }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const int sl = r.g >= 2 ? 4 : 0, shh = 2 * r.g;
#pragma unroll
    for (int i = 0; i < 8; i++)
      q[i] = u8f(((byte_of(r.ql, i) >> sl) & 15) | (((byte_of(r.qh, i) >> shh) & 3) << 4)) - 32.0f;
    scale = hf(r.d) * (float)r.sc;
    bias = 0.0f;
  }
};

struct F16 {
  static constexpr int QK = 8, BS = 16;
  static constexpr bool kMmaBf16 = false, k16bit = true, kBias = false;
  struct Raw { uint4 v; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) { return {*(const uint4*)(row + e * 2)}; }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const uint32_t w[4] = {r.v.x, r.v.y, r.v.z, r.v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) { q[2 * i] = hf(w[i] & 0xffff); q[2 * i + 1] = hf(w[i] >> 16); }
    scale = 1.0f;
    bias = 0.0f;
  }
};

struct BF16 {
  static constexpr int QK = 8, BS = 16;
  static constexpr bool kMmaBf16 = true, k16bit = true, kBias = false;
  struct Raw { uint4 v; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) { return {*(const uint4*)(row + e * 2)}; }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const uint32_t w[4] = {r.v.x, r.v.y, r.v.z, r.v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) { q[2 * i] = bff(w[i] & 0xffff); q[2 * i + 1] = bff(w[i] >> 16); }
    scale = 1.0f;
    bias = 0.0f;
  }
};

// ---- the legacy 32-block formats (fuselm/blocks.h; numerics csrc/cpu/qformats_legacy.h) ----
// w = s * v(q) + m per 32-block: q 4 bits from qs (weight j: byte j & 15, high nibble for j >= 16), the
// fifth bit (Q5_*) bit j of the little-endian qh; v = q - 16 (Q5_0), q (Q4_1, Q5_1), or a table value.
// kvalues_iq4nl / kvalues_mxfp4 (ggml-common.h) packed as bytes of two words: value i = byte i.
__host__ __device__ __forceinline__ float kv_iq4nl(uint32_t i) {
  const uint64_t t = i < 8 ? 0xF6EADDCFBFAD9881ull : 0x7159453526190D01ull;
  return (float)(int8_t)(t >> (8 * (i & 7)));
}
__host__ __device__ __forceinline__ float kv_mxfp4(uint32_t i) {
  const uint64_t t = i < 8 ? 0x0C08060403020100ull : 0xF4F8FAFCFDFEFF00ull;
  return (float)(int8_t)(t >> (8 * (i & 7)));
}
// ggml's GGML_E8M0_TO_FP32_HALF
__host__ __device__ __forceinline__ float e8m0_half(uint32_t e) { return bits_f(e < 2 ? 0x00200000u << e : (e - 1) << 23); }

// QS: offset of qs in the block, QH: of qh (-1: none), MIN: an fp16 min after d
template <int BSZ, int QS, int QH, bool MIN, int C>
struct Legacy5 {
  static constexpr int QK = 32, BS = BSZ;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = MIN;
  struct Raw { uint32_t q[2]; uint32_t qh; uint16_t d, m; uint8_t j; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 5) * BS;
    Raw r;
    r.j = (uint8_t)(e & 31);
    r.d = ld16(b);
    r.m = MIN ? ld16(b + 2) : 0;
    r.qh = QH >= 0 ? ((uint32_t)ld16(b + (QH < 0 ? 0 : QH)) | ((uint32_t)ld16(b + (QH < 0 ? 0 : QH) + 2) << 16)) : 0;
    ld8(r.q, b + QS + (r.j & 15));
    return r;
  }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const int sh = r.j >= 16 ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 8; i++)
      q[i] = u8f(((byte_of(r.q, i) >> sh) & 15) | (((r.qh >> (r.j + i)) & 1) << 4)) - (float)C;
    scale = hf(r.d);
    bias = MIN ? hf(r.m) : 0.0f;
  }
};
typedef Legacy5<22, 6, 2, false, 16> Q5_0;
typedef Legacy5<20, 4, -1, true, 0> Q4_1;
typedef Legacy5<24, 8, 4, true, 0> Q5_1;

struct IQ4_NL {
  static constexpr int QK = 32, BS = 18;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = false;
  struct Raw { uint32_t q[2]; uint16_t d; uint8_t hi; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 5) * BS;
    const int j = (int)(e & 31);
    Raw r;
    r.d = ld16(b);
    ld8(r.q, b + 2 + (j & 15));
    r.hi = j >= 16;
    return r;
  }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const int sh = r.hi ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 8; i++) q[i] = kv_iq4nl((byte_of(r.q, i) >> sh) & 15);
    scale = hf(r.d);
    bias = 0.0f;
  }
};

// MXFP4: 17-byte blocks, so byte loads (no 2-byte alignment inside a row)
struct MXFP4 {
  static constexpr int QK = 32, BS = 17;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = false;
  struct Raw { uint32_t q[2]; uint8_t e, hi; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 5) * BS;
    const int j = (int)(e & 31);
    const uint8_t* p = b + 1 + (j & 15);
    Raw r;
    r.e = b[0];
    r.q[0] = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    r.q[1] = (uint32_t)p[4] | ((uint32_t)p[5] << 8) | ((uint32_t)p[6] << 16) | ((uint32_t)p[7] << 24);
    r.hi = j >= 16;
    return r;
  }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const int sh = r.hi ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 8; i++) q[i] = kv_mxfp4((byte_of(r.q, i) >> sh) & 15);
    scale = e8m0_half(r.e);
    bias = 0.0f;
  }
};

#include "cuda/formats_k.cuh"  // IQ4_XS, Q3_K, Q2_K

}  // namespace fmt

// Closed dispatch over the weight formats CUDA instantiates.
#define FL_CUDA_DISPATCH_FORMAT(dtype, F, ...)                       \
  switch (dtype) {                                                   \
    case DType::Q4_0: { using F = fmt::Q4_0; __VA_ARGS__; break; }   \
    case DType::Q8_0: { using F = fmt::Q8_0; __VA_ARGS__; break; }   \
    case DType::Q4_K: { using F = fmt::Q4_K; __VA_ARGS__; break; }   \
    case DType::Q6_K: { using F = fmt::Q6_K; __VA_ARGS__; break; }   \
    case DType::IQ4_XS: { using F = fmt::IQ4_XS; __VA_ARGS__; break; } \
    case DType::Q3_K: { using F = fmt::Q3_K; __VA_ARGS__; break; }   \
    case DType::Q2_K: { using F = fmt::Q2_K; __VA_ARGS__; break; }   \
    case DType::F16: { using F = fmt::F16; __VA_ARGS__; break; }     \
    case DType::BF16: { using F = fmt::BF16; __VA_ARGS__; break; }   \
    case DType::Q5_0: { using F = fmt::Q5_0; __VA_ARGS__; break; }   \
    case DType::Q4_1: { using F = fmt::Q4_1; __VA_ARGS__; break; }   \
    case DType::Q5_1: { using F = fmt::Q5_1; __VA_ARGS__; break; }   \
    case DType::IQ4_NL: { using F = fmt::IQ4_NL; __VA_ARGS__; break; } \
    case DType::MXFP4: { using F = fmt::MXFP4; __VA_ARGS__; break; } \
    default: return Status::unsupported(std::string("CUDA matmul: weight format ") + dtype_name(dtype) + \
                                        " is not implemented (q4_0, q8_0, q4_k, q6_k, iq4_xs, q3_k, q2_k, f16, bf16, q5_0, q4_1, q5_1, iq4_nl, mxfp4)"); \
  }

static inline const char* dtype_name(DType t) {
  const DTypeTraits* tr = dtype_traits((int32_t)t);
  return tr ? tr->name : "unknown";
}

}  // namespace cuda
}  // namespace fuselm
