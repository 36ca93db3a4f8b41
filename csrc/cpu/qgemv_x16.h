// The row driver of the repacked GEMV (blocks.h Q4_0X16, Q8_0X16, Q4_KX16,
// Q6_KX16), shared by the AVX2 and AVX-512 translation units. Each includes
// this header inside its own ISA namespace, after <cstring> and the block
// structs; everything here is static inline, so each gets its own copy. The
// per-ISA files define the group kernels (16 rows, 1..8 activation rows) and
// instantiate the GemvFns with FL_X16_GEMV.

// a dword of 4 activation bytes, for a broadcast
static inline int32_t ld32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Rows [n0, n1) of a repacked matrix: whole groups straight into out, a group
// cut by n0 or n1 through a scratch tile; activation rows up to 8 per pass so
// each weight block is loaded once for all of them. QK: weights per block.
template <typename Act, typename Block>
using X16Group = void (*)(float*, int64_t, const Act*, int64_t, const Block*);
template <typename Act, typename Block, int QK>
static inline void x16_rows(const X16Group<Act, Block>* G, float* out, int64_t ldo, const void* acts, int64_t M,
                            int64_t K, const void* W, int64_t n0, int64_t n1) {
  const int64_t nb = K / QK;
  const Block* w = (const Block*)W;
  const Act* A = (const Act*)acts;
  for (int64_t g = n0 / 16; g * 16 < n1; g++) {
    const int64_t r0 = g * 16, lo = n0 > r0 ? n0 : r0, hi = n1 < r0 + 16 ? n1 : r0 + 16;
    const Block* wg = w + g * nb;
    for (int64_t m = 0; m < M; m += 8) {
      const int64_t mm = M - m < 8 ? M - m : 8;
      if (lo == r0 && hi == r0 + 16) {
        G[mm - 1](out + m * ldo + r0, ldo, A + m * nb, nb, wg);
      } else {
        alignas(64) float tmp[8 * 16];
        G[mm - 1](tmp, 16, A + m * nb, nb, wg);
        for (int64_t i = 0; i < mm; i++)
          for (int64_t r = lo; r < hi; r++) out[(m + i) * ldo + r] = tmp[i * 16 + r - r0];
      }
    }
  }
}
#define FL_X16_GEMV(fn, Act, Block, QK, group)                                                                   \
  static void fn(float* out, int64_t ldo, const void* acts, int64_t M, int64_t K, const void* W, int64_t n0,     \
                 int64_t n1) {                                                                                   \
    static const X16Group<Act, Block> G[8] = {group<1>, group<2>, group<3>, group<4>,                            \
                                              group<5>, group<6>, group<7>, group<8>};                           \
    x16_rows<Act, Block, QK>(G, out, ldo, acts, M, K, W, n0, n1);                                                \
  }
