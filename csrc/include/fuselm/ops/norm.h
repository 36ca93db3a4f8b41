// Family `norm`: RMSNorm and row softmax.
#pragma once
#include <cstdint>
#include "fuselm/cpu.h"
#include "fuselm/status.h"

namespace fuselm {

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w   (x, out: [rows, dim]; w: [dim] or null)
Status rmsnorm_f32(float* out, const float* x, const float* w, int64_t rows, int64_t dim, float eps);

// per-ISA row kernels; csrc/ops/norm.cpp splits rows over the pool
struct NormTable {
  Kernel<void (*)(float* out, const float* x, const float* w, int64_t dim, float eps)> rmsnorm_row;
};

namespace ref { void fill_norm(NormTable& t); }
namespace avx2 { void fill_norm(NormTable& t); }
namespace avx512 { void fill_norm(NormTable& t); }

}  // namespace fuselm
