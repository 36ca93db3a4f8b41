// Entry points shared between csrc/cuda translation units (not public API).
#pragma once
#include "cuda/common.cuh"

namespace fuselm {
namespace cuda {

// moe_grouped_matmul with the A operand silu(x) * x_up (fused SwiGLU before the down projection).
Status moe_grouped_matmul_ex(float* out, const float* x, const float* x_up, const void* w, DType wtype, int64_t E,
                             int64_t N, int64_t K, const int32_t* sorted, const int32_t* tile_expert, int64_t n_tiles,
                             int64_t gather_k, const float* combine_weights, Stream s);

}  // namespace cuda
}  // namespace fuselm
