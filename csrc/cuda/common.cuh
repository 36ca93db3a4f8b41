// Shared by every csrc/cuda/*.cu: CUDA error -> Status, launch checks, warp
// reductions, half/bf16 helpers. Only .cu files include this.
#pragma once
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cstdint>
#include <string>

#include "fuselm/cuda.h"

namespace fuselm {
namespace cuda {

static inline Status from_cuda(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  return Status::internal(std::string("CUDA error in ") + what + ": " + cudaGetErrorName(e) + " (" +
                          cudaGetErrorString(e) + ")");
}
#define FL_CUDA_TRY(call)                                      \
  do {                                                         \
    cudaError_t _e = (call);                                   \
    if (_e != cudaSuccess) return ::fuselm::cuda::from_cuda(_e, #call); \
  } while (0)
// after a <<<>>> launch: configuration errors are synchronous, faults show at synchronize()
#define FL_CUDA_LAUNCHED(name) FL_CUDA_TRY(cudaPeekAtLastError())

static inline Status need_device() {
  if (!available()) return Status::unsupported("no CUDA device is available");
  return Status::Ok();
}
static inline std::string s64(int64_t v) { return std::to_string(v); }
static inline Status check_ptr(const void* p, const char* arg) {
  if (!p) return Status::type(arg, "a device pointer", "null");
  return Status::Ok();
}
static inline unsigned grid1(int64_t n, int threads, int64_t cap = 65535LL * 32) {
  int64_t g = (n + threads - 1) / threads;
  if (g > cap) g = cap;
  return (unsigned)(g < 1 ? 1 : g);
}
int sm_count();  // of the current device, cached (runtime.cu)

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// block-wide sum for blockDim.x a multiple of 32 (<= 1024); every thread gets the result
__device__ __forceinline__ float block_sum(float v, float* sh /* >= 32 floats */) {
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) sh[wid] = v;
  __syncthreads();
  float r = lane < nw ? sh[lane] : 0.0f;
  return warp_sum(r);
}
__device__ __forceinline__ float block_max(float v, float* sh) {
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) sh[wid] = v;
  __syncthreads();
  float r = lane < nw ? sh[lane] : -INFINITY;
  return warp_max(r);
}
__device__ __forceinline__ float h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ float bf2f(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

}  // namespace cuda
}  // namespace fuselm
