// Device-side decoders of IQ4_XS, Q3_K and Q2_K (layouts: fuselm/blocks.h), in the
// load() / decode() form of csrc/cuda/formats.cuh: 8 consecutive weights of a row from
// element e (e % 8 == 0) as w[i] = scale * q[i] + bias. Included by formats.cuh inside
// namespace fuselm::cuda::fmt.

// IQ4_XS's levels: kv_iq4nl (formats.cuh, the IQ4_NL decoder's table)

// IQ4_XS: sub-block j = idx / 32 of 32 weights: weight i of it in qs[16j + i % 16], low
// nibble for i < 16, high for i >= 16; 6-bit ls from scales_l[j / 2] and scales_h
struct IQ4_XS {
  static constexpr int QK = 256, BS = 136;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = false;
  struct Raw { uint32_t q[2]; uint16_t d, sh; uint8_t sl, j, hi; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 8) * BS;
    const int idx = (int)(e & 255), j = idx >> 5, i = idx & 31;
    Raw r;
    r.d = ld16(b);
    r.sh = ld16(b + 2);
    r.sl = b[4 + (j >> 1)];
    r.j = (uint8_t)j;
    r.hi = i >= 16;
    ld8(r.q, b + 8 + 16 * j + (i & 15));
    return r;
  }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const int ls = ((r.sl >> (4 * (r.j & 1))) & 15) | (((r.sh >> (2 * r.j)) & 3) << 4);
    const int sh = r.hi ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 8; i++) q[i] = kv_iq4nl((byte_of(r.q, i) >> sh) & 15);
    scale = hf(r.d) * (float)(ls - 32);
    bias = 0.0f;
  }
};

// Q3_K / Q2_K: element idx = 128h + 32g + l: low 2 bits in qs[32h + l] >> 2g; Q3_K's high bit
// in hmask[l] bit 4h + g (q = low + 4 * bit, w = d (sc - 32) (q - 4)); sub-block idx / 16
struct Q3_K {
  static constexpr int QK = 256, BS = 110;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = false;
  struct Raw { uint32_t ql[2], hm[2]; uint16_t d; uint8_t s1, s2, j, sh; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 8) * BS;
    const int idx = (int)(e & 255), h = idx >> 7, g = (idx & 127) >> 5, l = idx & 31, j = idx >> 4;
    Raw r;
    r.d = ld16(b + 108);
    r.s1 = b[96 + (j & 7)];
    r.s2 = b[104 + (j & 3)];
    r.j = (uint8_t)j;
    r.sh = (uint8_t)(4 * h + g);
    ld8(r.ql, b + 32 + 32 * h + l);
    ld8(r.hm, b + l);
    return r;
  }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
    const int lo = r.j < 8 ? r.s1 & 15 : r.s1 >> 4;
    const int sc = (lo | (((r.s2 >> (2 * (r.j >> 2))) & 3) << 4)) - 32;
    const int g = r.sh & 3;
#pragma unroll
    for (int i = 0; i < 8; i++)
      q[i] = u8f(((byte_of(r.ql, i) >> (2 * g)) & 3) | (((byte_of(r.hm, i) >> r.sh) & 1) << 2)) - 4.0f;
    scale = hf(r.d) * (float)sc;
    bias = 0.0f;
  }
};

struct Q2_K {
  static constexpr int QK = 256, BS = 84;
  static constexpr bool kMmaBf16 = false, k16bit = false, kBias = true;
  struct Raw { uint32_t ql[2]; uint16_t d, dmin; uint8_t s, g; };
  __host__ __device__ __forceinline__ static Raw load(const uint8_t* row, int64_t e) {
    const uint8_t* b = row + (e >> 8) * BS;
    const int idx = (int)(e & 255), h = idx >> 7, g = (idx & 127) >> 5, l = idx & 31;
    Raw r;
    r.d = ld16(b + 80);
    r.dmin = ld16(b + 82);
    r.s = b[idx >> 4];
    r.g = (uint8_t)g;
    ld8(r.ql, b + 16 + 32 * h + l);
    return r;
  }
  __host__ __device__ __forceinline__ static void decode(const Raw& r, float q[8], float& scale, float& bias) {
#pragma unroll
    for (int i = 0; i < 8; i++) q[i] = u8f((byte_of(r.ql, i) >> (2 * r.g)) & 3);
    scale = hf(r.d) * (float)(r.s & 15);
    bias = -hf(r.dmin) * (float)(r.s >> 4);
  }
};
