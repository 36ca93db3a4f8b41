// AVX-512 f32 GEMM of family `qgemm` (32 x rows x 12 W rows a tile): written once for
// both x86 widths in csrc/cpu/gemm_f32_x86.h; filled into the qgemm table by fill_qgemm.
#include "cpu/avx512/vec.h"
#include "cpu/gemm_f32_x86.h"

namespace fuselm {
namespace avx512 {

void fill_gemm_f32(QgemmTable& t) { t.gemm_f32 = {&x86::gemm_f32<V16f>, "avx512"}; }

}  // namespace avx512
}  // namespace fuselm
