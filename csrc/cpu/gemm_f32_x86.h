// Family `qgemm`, the f32 GEMM micro-kernel written once for both x86 widths over a vector-traits type
// V (csrc/cpu/avx2/vec.h V8f, csrc/cpu/avx512/vec.h V16f): a tile of MB = 2W packed x rows (two
// vectors) against NR = V::kGemmNR rows of W, the whole K in one pass, broadcast FMAs. The contract
// (packing, C layout) is GemmFn's in fuselm/ops/qgemm.h; the bf16 GEMM stays per ISA (vdpbf16ps on
// AVX-512). Static, so each ISA's translation unit that instantiates it gets its own copy.
#pragma once
#include <cstdint>
#include "fuselm/ops/qgemm.h"

namespace fuselm {
namespace x86 {

template <class V>
static void gemm_f32(float* C, int64_t ldc, const void* xpack, int64_t M, const void* const* wrows, int64_t nr,
                     int64_t K) {
  using F = typename V::F;
  constexpr int W = V::W, MB = 2 * V::W, NR = V::kGemmNR;
  const float* w[NR];
  for (int r = 0; r < NR; r++) w[r] = (const float*)wrows[r < nr ? r : 0];
  for (int64_t mb = 0; mb * MB < M; mb++) {
    const float* xb = (const float*)xpack + mb * K * MB;
    F acc[NR][2];
    for (int r = 0; r < NR; r++) acc[r][0] = acc[r][1] = V::zero();
    for (int64_t k = 0; k < K; k++) {
      const F x0 = V::load(xb + k * MB), x1 = V::load(xb + k * MB + W);
      for (int r = 0; r < NR; r++) {
        const F wv = V::set1(w[r][k]);
        acc[r][0] = V::fmadd(x0, wv, acc[r][0]);
        acc[r][1] = V::fmadd(x1, wv, acc[r][1]);
      }
    }
    // the tile is [NR][MB] in registers; C wants [MB][NR]
    alignas(64) float tile[NR][MB];
    for (int r = 0; r < NR; r++) {
      V::store(tile[r], acc[r][0]);
      V::store(tile[r] + W, acc[r][1]);
    }
    const int64_t mrows = M - mb * MB < MB ? M - mb * MB : MB;
    float* Cb = C + mb * MB * ldc;
    for (int64_t i = 0; i < mrows; i++)
      for (int64_t r = 0; r < nr; r++) Cb[i * ldc + r] = tile[r][i];
  }
}

}  // namespace x86
}  // namespace fuselm
