// Runtime plumbing: device presence (never aborts without a driver: the static
// cudart returns an error code, which we read as "no device"), memory, timing.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "cuda/common.cuh"

namespace fuselm {
namespace cuda {

bool built() { return true; }

static int g_count = -1;
static std::once_flag g_once;
int device_count() {
  std::call_once(g_once, [] {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      n = 0;
      cudaGetLastError();  // clear the sticky-free error so later calls start clean
    }
    g_count = n;
  });
  return g_count;
}
bool available() { return device_count() > 0; }

int sm_count() {
  static int cached[64] = {0};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return 1;
  if (!cached[dev]) {
    int n = 1;
    cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
    cached[dev] = n > 0 ? n : 1;
  }
  return cached[dev];
}

Status device_info(int device, DeviceInfo* out) {
  FL_TRY(need_device());
  if (device < 0 || device >= device_count())
    return Status::range("device", "integer in [0, " + s64(device_count() - 1) + "]", s64(device));
  cudaDeviceProp p;
  FL_CUDA_TRY(cudaGetDeviceProperties(&p, device));
  std::memset(out, 0, sizeof *out);
  std::strncpy(out->name, p.name, sizeof out->name - 1);
  out->cc_major = p.major;
  out->cc_minor = p.minor;
  out->sm_count = p.multiProcessorCount;
  out->global_mem = p.totalGlobalMem;
  out->l2_bytes = (size_t)p.l2CacheSize;
  out->smem_per_block_optin = (int)p.sharedMemPerBlockOptin;
  out->mem_bus_width = p.memoryBusWidth;
  int clk = 0;
  cudaDeviceGetAttribute(&clk, cudaDevAttrMemoryClockRate, device);
  out->mem_clock_khz = clk;
  cudaDriverGetVersion(&out->driver_version);
  cudaRuntimeGetVersion(&out->runtime_version);
  return Status::Ok();
}

Status set_device(int device) {
  FL_TRY(need_device());
  if (device < 0 || device >= device_count())
    return Status::range("device", "integer in [0, " + s64(device_count() - 1) + "]", s64(device));
  FL_CUDA_TRY(cudaSetDevice(device));
  return Status::Ok();
}

Status malloc(void** p, size_t bytes) {
  FL_TRY(need_device());
  *p = nullptr;
  FL_CUDA_TRY(cudaMalloc(p, bytes ? bytes : 1));
  return Status::Ok();
}
Status free(void* p) {
  if (!p) return Status::Ok();
  FL_CUDA_TRY(cudaFree(p));
  return Status::Ok();
}
Status memcpy_h2d(void* dst, const void* src, size_t bytes, Stream s) {
  FL_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s));
  return Status::Ok();
}
Status memcpy_d2h(void* dst, const void* src, size_t bytes, Stream s) {
  FL_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
  FL_CUDA_TRY(cudaStreamSynchronize(s));
  return Status::Ok();
}
Status memcpy_d2d(void* dst, const void* src, size_t bytes, Stream s) {
  FL_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s));
  return Status::Ok();
}
Status memset(void* p, int value, size_t bytes, Stream s) {
  FL_CUDA_TRY(cudaMemsetAsync(p, value, bytes, s));
  return Status::Ok();
}
Status synchronize(Stream s) {
  FL_CUDA_TRY(cudaStreamSynchronize(s));
  FL_CUDA_TRY(cudaGetLastError());
  return Status::Ok();
}

Status time_ms(float* ms, const std::function<Status(int)>& body, int warmup, int iters, int reps, Stream s) {
  FL_TRY(need_device());
  if (iters < 1 || reps < 1) return Status::range("iters", "integer >= 1", s64(iters < 1 ? iters : reps));
  int call = 0;
  for (int i = 0; i < warmup; i++) FL_TRY(body(call++));
  FL_TRY(synchronize(s));
  cudaEvent_t a, b;
  FL_CUDA_TRY(cudaEventCreate(&a));
  FL_CUDA_TRY(cudaEventCreate(&b));
  std::vector<float> t;
  Status st;
  for (int r = 0; r < reps && st.ok(); r++) {
    cudaEventRecord(a, s);
    for (int i = 0; i < iters && st.ok(); i++) st = body(call++);
    cudaEventRecord(b, s);
    if (!st.ok()) break;
    cudaError_t e = cudaEventSynchronize(b);
    if (e != cudaSuccess) { st = from_cuda(e, "cudaEventSynchronize"); break; }
    float x = 0;
    cudaEventElapsedTime(&x, a, b);
    t.push_back(x / iters);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  FL_TRY(st);
  std::sort(t.begin(), t.end());
  *ms = t[t.size() / 2];
  return Status::Ok();
}

}  // namespace cuda
}  // namespace fuselm
