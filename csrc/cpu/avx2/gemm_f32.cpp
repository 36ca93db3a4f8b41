// AVX2+FMA f32 GEMM of family `qgemm` (16 x rows x 6 W rows a tile): written once for
// both x86 widths in csrc/cpu/gemm_f32_x86.h; filled into the qgemm table by fill_qgemm.
#include "cpu/avx2/vec.h"
#include "cpu/gemm_f32_x86.h"

namespace fuselm {
namespace avx2 {

void fill_gemm_f32(QgemmTable& t) { t.gemm_f32 = {&x86::gemm_f32<V8f>, "avx2"}; }

}  // namespace avx2
}  // namespace fuselm
