// Family `elementwise`: add, mul, SiLU, GELU (tanh form), sigmoid, SwiGLU.
// Inputs are f32, f16 or bf16 (each independently); outputs are f32.
#pragma once
#include <cstdint>
#include "fuselm/blocks.h"
#include "fuselm/cpu.h"
#include "fuselm/status.h"

namespace fuselm {

// out[i] = a[i] + b[i % nb]   (nb == n: same shape; nb < n: b is a row [nb] repeated over a [n/nb, nb])
Status add(float* out, const void* a, DType a_dtype, const void* b, DType b_dtype, int64_t n, int64_t nb);
// out[i] = a[i] * b[i % nb]
Status mul(float* out, const void* a, DType a_dtype, const void* b, DType b_dtype, int64_t n, int64_t nb);
// out[i] = x[i] / (1 + exp(-x[i]))   (silu(-inf) = -0)
Status silu(float* out, const void* x, DType x_dtype, int64_t n);
// out[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   (ggml's tanh approximation, evaluated as
// x / (1 + exp(-2 sqrt(2/pi) (x + 0.044715 x^3))), the same function; gelu(-inf) = -0)
Status gelu(float* out, const void* x, DType x_dtype, int64_t n);
// out[i] = 1 / (1 + exp(-x[i]))   (sigmoid(-inf) = 0, sigmoid(+inf) = 1)
Status sigmoid(float* out, const void* x, DType x_dtype, int64_t n);
// out[r, j] = silu(gate[r*gate_stride + j]) * up[r*up_stride + j]   for r < rows, j < f (strides in elements).
// Two tensors: strides f. One [rows, 2f] tensor (ggml's swiglu: gate first half, up second): up = gate + f
// elements, strides 2f.
Status swiglu(float* out, const void* gate, DType gate_dtype, const void* up, DType up_dtype, int64_t rows,
              int64_t f, int64_t gate_stride, int64_t up_stride);

// Bytes per element of an elementwise input dtype (f32/f16/bf16), 0 for any other.
static inline int64_t elementwise_size(DType d) {
  return d == DType::F32 ? 4 : (d == DType::F16 || d == DType::BF16) ? 2 : 0;
}

// per-ISA flat kernels over [0, n); csrc/ops/elementwise.cpp splits over the pool
typedef void (*BinaryFn)(float* out, const void* a, DType a_dtype, const void* b, DType b_dtype, int64_t n);
typedef void (*UnaryFn)(float* out, const void* x, DType x_dtype, int64_t n);
struct ElementwiseTable {
  Kernel<BinaryFn> add, mul, swiglu;
  Kernel<UnaryFn> silu, gelu, sigmoid;
};

namespace ref { void fill_elementwise(ElementwiseTable& t); }
namespace avx2 { void fill_elementwise(ElementwiseTable& t); }
namespace avx512 { void fill_elementwise(ElementwiseTable& t); }

}  // namespace fuselm
