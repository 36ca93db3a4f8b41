// AVX2+FMA elementwise kernels: 8 lanes a step (16 when unrolled), the scalar helper for the tail;
// written once for both x86 widths in csrc/cpu/elementwise_x86.h.
#include "cpu/avx2/vec.h"
#include "cpu/elementwise_x86.h"

namespace fuselm {
namespace avx2 {

void fill_elementwise(ElementwiseTable& t) { x86::fill_elementwise<V8f>(t, "avx2"); }

}  // namespace avx2
}  // namespace fuselm
