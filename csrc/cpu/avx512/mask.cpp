// AVX-512 mask kernel: 16 bits of the mask are the write mask of a 16-lane move.
#include <immintrin.h>
#include "fuselm/ops/mask.h"
#include "cpu/mask_scalar.h"

namespace fuselm {
namespace avx512 {

static void mask_logits(float* out, const float* x, const uint32_t* mask, int64_t b, int64_t e) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  const uint16_t* half = reinterpret_cast<const uint16_t*>(mask);  // little-endian: half k holds bits 16k..16k+15
  int64_t i = b;
  for (; i + 16 <= e; i += 16) {
    const __mmask16 keep = (__mmask16)half[i >> 4];
    _mm512_storeu_ps(out + i, _mm512_mask_loadu_ps(ninf, keep, x + i));
  }
  scalar::mask_logits(out, x, mask, i, e);
}

void fill_mask(MaskTable& t) { FL_IMPL(t, mask_logits, avx512); }

}  // namespace avx512
}  // namespace fuselm
