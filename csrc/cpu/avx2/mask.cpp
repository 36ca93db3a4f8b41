// AVX2 mask kernel: 8 lanes a step, each lane's bit of the mask byte spread to a lane mask.
#include <immintrin.h>
#include "fuselm/ops/mask.h"
#include "cpu/mask_scalar.h"

namespace fuselm {
namespace avx2 {

static void mask_logits(float* out, const float* x, const uint32_t* mask, int64_t b, int64_t e) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(mask);  // little-endian: byte k holds bits 8k..8k+7
  int64_t i = b;
  for (; i + 8 <= e; i += 8) {
    const __m256i m = _mm256_and_si256(_mm256_set1_epi32(bytes[i >> 3]), bit);
    const __m256 keep = _mm256_castsi256_ps(_mm256_cmpeq_epi32(m, bit));
    _mm256_storeu_ps(out + i, _mm256_blendv_ps(ninf, _mm256_loadu_ps(x + i), keep));
  }
  scalar::mask_logits(out, x, mask, i, e);
}

void fill_mask(MaskTable& t) { FL_IMPL(t, mask_logits, avx2); }

}  // namespace avx2
}  // namespace fuselm
