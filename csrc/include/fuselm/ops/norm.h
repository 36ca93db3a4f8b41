// Family `norm`: RMSNorm and row softmax.
#pragma once
#include <cstdint>
#include "fuselm/cpu.h"
#include "fuselm/status.h"

namespace fuselm {

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w   (x, out: [rows, dim]; w: [dim] or null)
Status rmsnorm_f32(float* out, const float* x, const float* w, int64_t rows, int64_t dim, float eps);

// Row softmax, numerically stable: out[r, i] = exp(scale x[r, i] - m) / sum_j exp(scale x[r, j] - m),
// m = max_j scale x[r, j]; scale > 0 (x, out: [rows, dim]; out may be x). -inf entries give 0.
// A row of only -inf (fully masked) gives all zeros, not NaN. A row holding NaN or +inf gives NaN in
// every entry of that row (the input is not a distribution: made visible, never hidden).
Status softmax_f32(float* out, const float* x, int64_t rows, int64_t dim, float scale);

// per-ISA row kernels; csrc/ops/norm.cpp splits rows over the pool
struct NormTable {
  Kernel<void (*)(float* out, const float* x, const float* w, int64_t dim, float eps)> rmsnorm_row;
  Kernel<void (*)(float* out, const float* x, int64_t dim, float scale)> softmax_row;
};

namespace ref { void fill_norm(NormTable& t); }
namespace avx2 { void fill_norm(NormTable& t); }
namespace avx512 { void fill_norm(NormTable& t); }

}  // namespace fuselm
