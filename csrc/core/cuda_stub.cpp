// The CUDA API in a build without CUDA (the npm addon, or CMake without nvcc):
// available() is false and every entry says "built without CUDA".
#ifndef FUSELM_WITH_CUDA
#include "fuselm/cuda.h"

namespace fuselm {
namespace cuda {

static Status no_cuda() { return Status::unsupported("built without CUDA"); }

bool built() { return false; }
bool available() { return false; }
int device_count() { return 0; }
Status device_info(int, DeviceInfo*) { return no_cuda(); }
Status set_device(int) { return no_cuda(); }
Status malloc(void** p, size_t) { if (p) *p = nullptr; return no_cuda(); }
Status free(void*) { return no_cuda(); }
Status memcpy_h2d(void*, const void*, size_t, Stream) { return no_cuda(); }
Status memcpy_d2h(void*, const void*, size_t, Stream) { return no_cuda(); }
Status memcpy_d2d(void*, const void*, size_t, Stream) { return no_cuda(); }
Status memset(void*, int, size_t, Stream) { return no_cuda(); }
Status synchronize(Stream) { return no_cuda(); }
Status time_ms(float*, const std::function<Status(int)>&, int, int, int, Stream) { return no_cuda(); }

Status add_f32(float*, const float*, const float*, int64_t, Stream) { return no_cuda(); }
Status mul_f32(float*, const float*, const float*, int64_t, Stream) { return no_cuda(); }
Status silu_f32(float*, const float*, int64_t, Stream) { return no_cuda(); }
Status gelu_f32(float*, const float*, int64_t, Stream) { return no_cuda(); }
Status swiglu_f32(float*, const float*, const float*, int64_t, Stream) { return no_cuda(); }
Status rmsnorm_f32(float*, const float*, const float*, int64_t, int64_t, float, Stream) { return no_cuda(); }
Status softmax_f32(float*, const float*, int64_t, int64_t, float, Stream) { return no_cuda(); }
Status rope_f32(float*, const float*, const int32_t*, int64_t, int64_t, int64_t, int64_t, int, float, float, Stream) {
  return no_cuda();
}
Status rope_ext_f32(float*, const float*, const int32_t*, int64_t, int64_t, int64_t, int64_t, int, float,
                    const RopeScaling&, Stream) {
  return no_cuda();
}
Status embedding_f32(float*, const void*, DType, int64_t, int64_t, const int32_t*, int64_t, Stream) {
  return no_cuda();
}
Status argmax_f32(int32_t*, const float*, int64_t, int64_t, Stream) { return no_cuda(); }

Status matmul(float*, const float*, const void*, DType, int64_t, int64_t, int64_t, const float*, Stream) {
  return no_cuda();
}
Status gemv(float*, const float*, const void*, DType, int64_t, int64_t, int64_t, const float*, Stream) {
  return no_cuda();
}
Status gemm_mma(float*, const float*, const void*, DType, int64_t, int64_t, int64_t, const float*, int, Stream) {
  return no_cuda();
}
int64_t row_bytes(DType, int64_t) { return 0; }
Status decode_row_host(float*, const void*, DType, int64_t) { return no_cuda(); }
Status lut_matmul(float*, const float*, const LutMatrix&, const float*, int64_t, Stream) { return no_cuda(); }

Status moe_route(int32_t*, float*, const float*, int64_t, int64_t, const MoeRouteParams&, Stream) {
  return no_cuda();
}
int64_t moe_rows_bound(int64_t T, int64_t k, int64_t E, int64_t pad) {
  if (pad < 1) pad = 1;
  const int64_t r = T * k + E * (pad - 1);
  return (r + pad - 1) / pad * pad;
}
Status moe_permute(int32_t*, int32_t*, int32_t*, int32_t*, int32_t*, const int32_t*, int64_t, int64_t, int64_t,
                   int64_t, bool, Stream) {
  return no_cuda();
}
Status moe_grouped_matmul(float*, const float*, const void*, DType, int64_t, int64_t, int64_t, const int32_t*,
                          const int32_t*, int64_t, int64_t, const float*, Stream) {
  return no_cuda();
}
size_t moe_ffn_scratch_bytes(int64_t, int64_t, int64_t, int64_t, int64_t) { return 0; }
Status moe_ffn(float*, const float*, const int32_t*, const float*, const void*, const void*, const void*, DType,
               int64_t, int64_t, int64_t, int64_t, int64_t, void*, size_t, bool, Stream) {
  return no_cuda();
}

size_t attention_decode_workspace_bytes(int64_t, int64_t, int64_t) { return 0; }
Status attention_decode(float*, const float*, const fl_half*, const fl_half*, int64_t, int64_t, int64_t, int64_t,
                        int64_t, float, float, const AttnSparse&, int64_t, void*, size_t, Stream) {
  return no_cuda();
}
Status attention_prefill(float*, const float*, const fl_half*, const fl_half*, int64_t, int64_t, int64_t, int64_t,
                         int64_t, int64_t, int64_t, float, float, const AttnSparse&, Stream) {
  return no_cuda();
}
Status kv_append_f16(fl_half*, fl_half*, float*, float*, const float*, const float*, int64_t, int64_t, int64_t,
                     int64_t, int64_t, int64_t, Stream) {
  return no_cuda();
}
Status attention_select_blocks(int32_t*, const float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t,
                               int64_t, int64_t, int64_t, int64_t, int64_t, Stream) {
  return no_cuda();
}

Status copy_bytes(void*, const void*, size_t, Stream) { return no_cuda(); }
Status mma_peak_bf16(float*, int64_t, double*, Stream) { return no_cuda(); }

}  // namespace cuda
}  // namespace fuselm
#endif
