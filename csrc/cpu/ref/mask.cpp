// Scalar reference for the mask family.
#include "fuselm/ops/mask.h"
#include "cpu/mask_scalar.h"

namespace fuselm {
namespace ref {

static void mask_logits(float* out, const float* x, const uint32_t* mask, int64_t b, int64_t e) {
  scalar::mask_logits(out, x, mask, b, e);
}

void fill_mask(MaskTable& t) { FL_IMPL(t, mask_logits, ref); }

}  // namespace ref
}  // namespace fuselm
