// Device-side decoders of the ggml block formats (layouts: fuselm/blocks.h).
// Each format splits "decode 8 consecutive weights of a row starting at element
// e (e % 8 == 0)" into load() (raw bytes into registers, so a caller can issue
// the next tile's loads before it decodes this one) and decode() into
//   w[i] = scale * q[i] + bias,   i < 8.
// All loads are 16-bit (blocks are only 2-byte aligned inside a row), except
// F16/BF16, which load 16 bytes (the caller checks alignment).
#pragma once
#include "cuda/common.cuh"

namespace fuselm {
namespace cuda {
namespace fmt {

__device__ __forceinline__ uint16_t ld16(const uint8_t* p) { return *(const uint16_t*)p; }
// nibble/byte -> float exactly, via the 2^23 magic (one LOP + one FADD)
__device__ __forceinline__ float u8f(uint32_t v) { return __uint_as_float(0x4B000000u | v) - 8388608.0f; }

struct Q4_0 {
  static constexpr int QK = 32, BS = 18;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = false;
  struct Raw { uint16_t d; uint16_t q[4]; uint8_t hi; };
  __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 5) * BS;
    const int j = (int)(e & 31);
    Raw r;
    r.d = ld16(b);
    const uint8_t* q = b + 2 + (j & 15);
#pragma unroll
    for (int i = 0; i < 4; i++) r.q[i] = ld16(q + 2 * i);
    r.hi = j >= 16;
    return r;
  }
  __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const int sh = r.hi ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      q[2 * i] = u8f((r.q[i] >> sh) & 15) - 8.0f;
      q[2 * i + 1] = u8f((r.q[i] >> (8 + sh)) & 15) - 8.0f;
    }
    scale = h2f(r.d);
    bias = 0.0f;
  }
};

struct Q8_0 {
  static constexpr int QK = 32, BS = 34;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = false;
  struct Raw { uint16_t d; uint16_t q[4]; };
  __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 5) * BS;
    Raw r;
    r.d = ld16(b);
    const uint8_t* q = b + 2 + (e & 31);
#pragma unroll
    for (int i = 0; i < 4; i++) r.q[i] = ld16(q + 2 * i);
    return r;
  }
  __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      q[2 * i] = (float)(int8_t)(r.q[i] & 0xff);
      q[2 * i + 1] = (float)(int8_t)(r.q[i] >> 8);
    }
    scale = h2f(r.d);
    bias = 0.0f;
  }
};

// Q4_K: super-block of 256, 8 sub-blocks of 32; sub-block s lives in chunk s/2 (32 bytes), low nibbles for even
// s, high for odd; 6-bit scale and min per sub-block (ggml get_scale_min_k4).
struct Q4_K {
  static constexpr int QK = 256, BS = 144;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = true;
  struct Raw { uint16_t d, dmin; uint8_t u, v, w, j; uint16_t q[4]; };
  __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
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
    const uint8_t* q = b + 16 + 32 * (s >> 1) + (idx & 31);
#pragma unroll
    for (int i = 0; i < 4; i++) r.q[i] = ld16(q + 2 * i);
    return r;
  }
  __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    int sc, m;
    if (r.j < 4) { sc = r.v & 63; m = r.u & 63; }
    else { sc = (r.u & 15) | ((r.v >> 6) << 4); m = (r.u >> 4) | ((r.w >> 6) << 4); }
    const int sh = (r.j & 1) ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      q[2 * i] = u8f((r.q[i] >> sh) & 15);
      q[2 * i + 1] = u8f((r.q[i] >> (8 + sh)) & 15);
    }
    scale = h2f(r.d) * (float)sc;
    bias = -h2f(r.dmin) * (float)m;
  }
};

// Q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d; element idx of a block:
// half h = idx/128, r = idx%128, quarter g = r/32, l = r%32:
// low = ql[64h + 32(g&1) + l] >> (g >= 2 ? 4 : 0), high = (qh[32h + l] >> 2g) & 3, scale = scales[8h + 2g + l/16].
struct Q6_K {
  static constexpr int QK = 256, BS = 210;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = false;
  struct Raw { uint16_t d; int8_t sc; uint8_t g; uint16_t ql[4], qh[4]; };
  __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 8) * BS;
    const int idx = (int)(e & 255), h = idx >> 7, rr = idx & 127, g = rr >> 5, l = rr & 31;
    Raw r;
    r.d = ld16(b + 208);
    r.sc = (int8_t)b[192 + 8 * h + 2 * g + (l >> 4)];
    r.g = (uint8_t)g;
    const uint8_t* ql = b + 64 * h + 32 * (g & 1) + l;
    const uint8_t* qh = b + 128 + 32 * h + l;
#pragma unroll
    for (int i = 0; i < 4; i++) { r.ql[i] = ld16(ql + 2 * i); r.qh[i] = ld16(qh + 2 * i); }
    return r;
  }
  __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const int sl = r.g >= 2 ? 4 : 0, shh = 2 * r.g;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const uint32_t lo0 = (r.ql[i] >> sl) & 15, lo1 = (r.ql[i] >> (8 + sl)) & 15;
      const uint32_t hi0 = (r.qh[i] >> shh) & 3, hi1 = (r.qh[i] >> (8 + shh)) & 3;
      q[2 * i] = u8f(lo0 | (hi0 << 4)) - 32.0f;
      q[2 * i + 1] = u8f(lo1 | (hi1 << 4)) - 32.0f;
    }
    scale = h2f(r.d) * (float)r.sc;
    bias = 0.0f;
  }
};

struct F16 {
  static constexpr int QK = 8, BS = 16;
  static constexpr bool kMmaBf16 = false, k16bit = true, kBias = false;
  struct Raw { uint4 v; };
  __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) { return {*(const uint4*)(row + e * 2)}; }
  __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const uint32_t w[4] = {r.v.x, r.v.y, r.v.z, r.v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) { q[2 * i] = h2f(w[i] & 0xffff); q[2 * i + 1] = h2f(w[i] >> 16); }
    scale = 1.0f;
    bias = 0.0f;
  }
};

struct BF16 {
  static constexpr int QK = 8, BS = 16;
  static constexpr bool kMmaBf16 = true, k16bit = true, kBias = false;
  struct Raw { uint4 v; };
  __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) { return {*(const uint4*)(row + e * 2)}; }
  __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const uint32_t w[4] = {r.v.x, r.v.y, r.v.z, r.v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) { q[2 * i] = bf2f(w[i] & 0xffff); q[2 * i + 1] = bf2f(w[i] >> 16); }
    scale = 1.0f;
    bias = 0.0f;
  }
};

}  // namespace fmt

// Closed dispatch over the weight formats CUDA instantiates.
#define FL_CUDA_DISPATCH_FORMAT(dtype, F, ...)                       \
  switch (dtype) {                                                   \
    case DType::Q4_0: { using F = fmt::Q4_0; __VA_ARGS__; break; }   \
    case DType::Q8_0: { using F = fmt::Q8_0; __VA_ARGS__; break; }   \
    case DType::Q4_K: { using F = fmt::Q4_K; __VA_ARGS__; break; }   \
    case DType::Q6_K: { using F = fmt::Q6_K; __VA_ARGS__; break; }   \
    case DType::F16: { using F = fmt::F16; __VA_ARGS__; break; }     \
    case DType::BF16: { using F = fmt::BF16; __VA_ARGS__; break; }   \
    default: return Status::unsupported(std::string("CUDA matmul: weight format ") + dtype_name(dtype) + \
                                        " is not implemented (q4_0, q8_0, q4_k, q6_k, f16, bf16)"); \
  }

static inline const char* dtype_name(DType t) {
  const DTypeTraits* tr = dtype_traits((int32_t)t);
  return tr ? tr->name : "unknown";
}

}  // namespace cuda
}  // namespace fuselm
