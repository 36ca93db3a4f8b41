// N-API for the CUDA runtime queries: whether this binary has the CUDA kernels
// (cudaBuilt) and whether a device answers (cudaAvailable). In the npm addon
// (binding.gyp, no nvcc) both are false: the core links csrc/core/cuda_stub.cpp.
#include "fuselm/cuda.h"
#include "napi/args.h"

namespace fuselm {
namespace napi {

static Napi::Value CudaAvailable(const Napi::CallbackInfo& info) {
  Args a(info, "cudaAvailable");
  a.count(0);
  return Napi::Boolean::New(info.Env(), cuda::available());
}

// runs after addon.cpp's Init set cudaBuilt from the build flags; the linked code is the truth
FL_NAPI_REGISTER(init_cuda) {
  exports.Set("cudaBuilt", Napi::Boolean::New(env, cuda::built()));
  exports.Set("cudaAvailable", Napi::Function::New(env, CudaAvailable, "cudaAvailable"));
}

}  // namespace napi
}  // namespace fuselm
