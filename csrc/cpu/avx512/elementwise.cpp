// AVX-512 elementwise kernels: 32 lanes a step, a masked tail;
// written once for both x86 widths in csrc/cpu/elementwise_x86.h.
#include "cpu/avx512/vec.h"
#include "cpu/elementwise_x86.h"

namespace fuselm {
namespace avx512 {

void fill_elementwise(ElementwiseTable& t) { x86::fill_elementwise<V16f>(t, "avx512"); }

}  // namespace avx512
}  // namespace fuselm
