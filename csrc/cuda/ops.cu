// CUDA twins of the elementwise, norm, softmax, RoPE, embedding and argmax ops.
// Memory-bound: 128-bit loads where the pointers allow, one block per row for
// the row ops.
#include "cuda/common.cuh"
#include "fuselm/ops/rope_yarn.h"

namespace fuselm {
namespace cuda {

namespace {

enum class Ew : int { Add, Mul, Silu, Gelu, Swiglu };

__device__ __forceinline__ float silu(float x) { return x / (1.0f + __expf(-x)); }
__device__ __forceinline__ float gelu(float x) {
  const float c = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}
template <Ew op>
__device__ __forceinline__ float ew(float a, float b) {
  if (op == Ew::Add) return a + b;
  if (op == Ew::Mul) return a * b;
  if (op == Ew::Silu) return silu(a);
  if (op == Ew::Gelu) return gelu(a);
  return silu(a) * b;
}

template <Ew op>
__global__ void ew_kernel(float* __restrict__ out, const float* __restrict__ a, const float* __restrict__ b,
                          int64_t n, bool vec) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (vec) {
    const int64_t n4 = n / 4;
    for (int64_t j = i; j < n4; j += stride) {
      float4 x = ((const float4*)a)[j], y = make_float4(0, 0, 0, 0);
      if (b) y = ((const float4*)b)[j];
      float4 r = make_float4(ew<op>(x.x, y.x), ew<op>(x.y, y.y), ew<op>(x.z, y.z), ew<op>(x.w, y.w));
      ((float4*)out)[j] = r;
    }
    for (int64_t j = n4 * 4 + i; j < n; j += stride) out[j] = ew<op>(a[j], b ? b[j] : 0.0f);
  } else {
    for (int64_t j = i; j < n; j += stride) out[j] = ew<op>(a[j], b ? b[j] : 0.0f);
  }
}

template <Ew op>
Status launch_ew(float* out, const float* a, const float* b, int64_t n, Stream s, bool binary) {
  FL_TRY(need_device());
  if (n < 0) return Status::range("n", "integer >= 0", s64(n));
  if (n == 0) return Status::Ok();
  FL_TRY(check_ptr(out, "out"));
  FL_TRY(check_ptr(a, "a"));
  if (binary) FL_TRY(check_ptr(b, "b"));
  const bool vec = (((uintptr_t)out | (uintptr_t)a | (uintptr_t)b) & 15) == 0;
  const unsigned g = grid1(vec ? (n + 3) / 4 : n, 256, (int64_t)sm_count() * 8);
  ew_kernel<op><<<g, 256, 0, s>>>(out, a, binary ? b : nullptr, n, vec);
  FL_CUDA_LAUNCHED("elementwise");
  return Status::Ok();
}

__global__ void rmsnorm_kernel(float* __restrict__ out, const float* __restrict__ x, const float* __restrict__ w,
                               int64_t dim, float eps) {
  __shared__ float sh[32];
  const float* xr = x + (int64_t)blockIdx.x * dim;
  float* orow = out + (int64_t)blockIdx.x * dim;
  float ss = 0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_sum(ss, sh);
  const float sc = rsqrtf(ss / (float)dim + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) orow[i] = xr[i] * sc * (w ? w[i] : 1.0f);
}

__global__ void softmax_kernel(float* out, const float* x, int64_t dim, float scale) {
  __shared__ float sh[32];
  const float* xr = x + (int64_t)blockIdx.x * dim;
  float* orow = out + (int64_t)blockIdx.x * dim;
  float m = -INFINITY, bad = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = xr[i];
    if (v != v || v == INFINITY) bad = 1.0f;
    m = fmaxf(m, scale * v);
  }
  bad = block_max(bad, sh);
  m = block_max(m, sh);
  if (bad > 0.0f || m == -INFINITY) {  // NaN / +inf: NaN row; fully masked: zeros
    const float f = bad > 0.0f ? NAN : 0.0f;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) orow[i] = f;
    return;
  }
  float sum = 0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) sum += expf(scale * xr[i] - m);
  sum = block_sum(sum, sh);
  const float inv = 1.0f / sum;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) orow[i] = expf(scale * xr[i] - m) * inv;  // out may be x
}

// one thread per rotated pair; angles in double as the CPU path computes them. ggml_rope_ext's scaling
// (fuselm/ops/rope.h): theta = pos base^(-2i/n_dims) / ff[i] (freq_scale (1 - mix) + mix), mix the YaRN ramp
// over [corr0, corr1] times ext_factor (0 without YaRN), cos/sin times mscale.
__global__ void rope_kernel(float* out, const float* x, const int32_t* __restrict__ pos, int64_t tokens,
                            int64_t heads, int64_t head_dim, int64_t n_dims, double base, double freq_scale,
                            double ext_factor, double corr0, double corr1, double mscale,
                            const float* __restrict__ freq_factors, bool neox) {
  const int64_t half = n_dims / 2;
  const int64_t total = tokens * heads * half;
  for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = idx % half, th = idx / half, t = th / heads;
    double mix = 0.0;
    if (ext_factor != 0.0) {
      const double y = ((double)i - corr0) / fmax(0.001, corr1 - corr0);
      mix = (1.0 - fmin(1.0, fmax(0.0, y))) * ext_factor;
    }
    const double k = pow(base, -2.0 * (double)i / (double)n_dims) / (freq_factors ? (double)freq_factors[i] : 1.0) *
                     (freq_scale * (1.0 - mix) + mix);
    const double theta = (double)pos[t] * k;
    double sn, cs;
    sincos(theta, &sn, &cs);
    const float c = (float)(cs * mscale), s = (float)(sn * mscale);
    const float* row = x + th * head_dim;
    float* orow = out + th * head_dim;
    const int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
    const float a = row[i0], b = row[i1];
    orow[i0] = a * c - b * s;
    orow[i1] = a * s + b * c;
    if (out != x && i < head_dim - n_dims)  // pass-through dims, spread over the pairs
      for (int64_t d = n_dims + i; d < head_dim; d += half) orow[d] = row[d];
  }
}

__global__ void embedding_kernel(float* __restrict__ out, const void* __restrict__ table, int dtype, int64_t n_rows,
                                 int64_t dim, const int32_t* __restrict__ ids) {
  const int64_t r = blockIdx.x;
  const int32_t id = ids[r];
  float* o = out + r * dim;
  const bool ok = id >= 0 && id < n_rows;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    float v = 0;
    if (ok) {
      const int64_t j = (int64_t)id * dim + i;
      if (dtype == 0) v = ((const float*)table)[j];
      else if (dtype == 1) v = h2f(((const uint16_t*)table)[j]);
      else v = bf2f(((const uint16_t*)table)[j]);
    }
    o[i] = v;
  }
}

// (v, i) beats (bv, bi): NaN beats every number (the first NaN wins, as the CPU argmax and numpy do), then the
// larger value, then the lower index; bi < 0 is "nothing yet"
__device__ __forceinline__ bool am_better(float v, int64_t i, float bv, int64_t bi) {
  if (i < 0) return false;
  if (bi < 0) return true;
  const bool vn = v != v, bn = bv != bv;
  if (vn || bn) return vn && (!bn || i < bi);
  return v > bv || (v == bv && i < bi);
}
__global__ void argmax_kernel(int32_t* __restrict__ out, const float* __restrict__ x, int64_t dim) {
  __shared__ float sv[32];
  __shared__ int64_t si[32];
  const float* xr = x + (int64_t)blockIdx.x * dim;
  float best = -INFINITY;
  int64_t bi = -1;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = xr[i];
    if (am_better(v, i, best, bi)) { best = v; bi = i; }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, o);
    const int64_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (am_better(ov, oi, best, bi)) { best = ov; bi = oi; }
  }
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  if (lane == 0) { sv[wid] = best; si[wid] = bi; }
  __syncthreads();
  if (wid == 0) {
    const int nw = blockDim.x >> 5;
    best = lane < nw ? sv[lane] : -INFINITY;
    bi = lane < nw ? si[lane] : -1;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, best, o);
      const int64_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (am_better(ov, oi, best, bi)) { best = ov; bi = oi; }
    }
    if (lane == 0) out[blockIdx.x] = (int32_t)(bi < 0 ? 0 : bi);
  }
}

Status rows_check(int64_t rows, int64_t dim) {
  if (rows < 0 || rows > 0x7fffffff) return Status::range("rows", "integer in [0, 2^31)", s64(rows));
  if (dim < 1) return Status::range("dim", "integer >= 1", s64(dim));
  return Status::Ok();
}
int row_threads(int64_t dim) { return dim >= 1024 ? 1024 : dim >= 256 ? 256 : 64; }

}  // namespace

Status add_f32(float* out, const float* a, const float* b, int64_t n, Stream s) {
  return launch_ew<Ew::Add>(out, a, b, n, s, true);
}
Status mul_f32(float* out, const float* a, const float* b, int64_t n, Stream s) {
  return launch_ew<Ew::Mul>(out, a, b, n, s, true);
}
Status silu_f32(float* out, const float* x, int64_t n, Stream s) { return launch_ew<Ew::Silu>(out, x, nullptr, n, s, false); }
Status gelu_f32(float* out, const float* x, int64_t n, Stream s) { return launch_ew<Ew::Gelu>(out, x, nullptr, n, s, false); }
Status swiglu_f32(float* out, const float* gate, const float* up, int64_t n, Stream s) {
  return launch_ew<Ew::Swiglu>(out, gate, up, n, s, true);
}

Status rmsnorm_f32(float* out, const float* x, const float* w, int64_t rows, int64_t dim, float eps, Stream s) {
  FL_TRY(need_device());
  FL_TRY(rows_check(rows, dim));
  if (!(eps >= 0.0f) || isinf(eps)) return Status::range("eps", "finite number >= 0", std::to_string(eps));
  if (rows == 0) return Status::Ok();
  rmsnorm_kernel<<<(unsigned)rows, row_threads(dim), 0, s>>>(out, x, w, dim, eps);
  FL_CUDA_LAUNCHED("rmsnorm");
  return Status::Ok();
}

Status softmax_f32(float* out, const float* x, int64_t rows, int64_t dim, float scale, Stream s) {
  FL_TRY(need_device());
  FL_TRY(rows_check(rows, dim));
  if (!(scale > 0.0f) || isinf(scale)) return Status::range("scale", "finite number > 0", std::to_string(scale));
  if (rows == 0) return Status::Ok();
  softmax_kernel<<<(unsigned)rows, row_threads(dim), 0, s>>>(out, x, dim, scale);
  FL_CUDA_LAUNCHED("softmax");
  return Status::Ok();
}

Status rope_ext_f32(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads, int64_t head_dim,
                    int64_t n_dims, int mode, float base, const RopeScaling& sc, Stream s) {
  FL_TRY(need_device());
  FL_TRY(check_ptr(out, "out"));
  FL_TRY(check_ptr(x, "x"));
  FL_TRY(check_ptr(pos, "pos"));
  if (tokens < 0) return Status::range("tokens", "integer >= 0", s64(tokens));
  if (heads < 1) return Status::range("heads", "integer >= 1", s64(heads));
  if (head_dim < 2) return Status::range("head_dim", "integer >= 2", s64(head_dim));
  if (n_dims < 2 || n_dims > head_dim || n_dims % 2)
    return Status::range("n_dims", "even integer in [2, head_dim=" + s64(head_dim) + "]", s64(n_dims));
  if (mode != 0 && mode != 2) return Status::range("mode", "0 (norm) or 2 (neox)", s64(mode));
  if (!(base > 0.0f) || isinf(base)) return Status::range("base", "finite number > 0", std::to_string(base));
  FL_TRY(rope_scaling_check(sc));  // freq_factors live on the device: their values are the caller's to check
  const int64_t total = tokens * heads * (n_dims / 2);
  if (total == 0) return Status::Ok();
  double corr[2] = {0.0, 0.0};
  const bool yarn = sc.ext_factor != 0.0f;
  if (yarn) rope_yarn_corr_dims(n_dims, sc.orig_ctx, base, sc.beta_fast, sc.beta_slow, corr);
  const double mscale = (double)sc.attn_factor * (yarn ? 1.0 + 0.1 * std::log(1.0 / (double)sc.freq_scale) : 1.0);
  rope_kernel<<<grid1(total, 256, (int64_t)sm_count() * 16), 256, 0, s>>>(
      out, x, pos, tokens, heads, head_dim, n_dims, (double)base, (double)sc.freq_scale, (double)sc.ext_factor, corr[0],
      corr[1], mscale, sc.freq_factors, mode == 2);
  FL_CUDA_LAUNCHED("rope");
  return Status::Ok();
}

Status rope_f32(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads, int64_t head_dim,
                int64_t n_dims, int mode, float base, float freq_scale, Stream s) {
  RopeScaling sc;
  sc.freq_scale = freq_scale;
  return rope_ext_f32(out, x, pos, tokens, heads, head_dim, n_dims, mode, base, sc, s);
}

Status embedding_f32(float* out, const void* table, DType dtype, int64_t n_rows, int64_t dim, const int32_t* ids,
                     int64_t n_ids, Stream s) {
  FL_TRY(need_device());
  int code = dtype == DType::F32 ? 0 : dtype == DType::F16 ? 1 : dtype == DType::BF16 ? 2 : -1;
  if (code < 0) return Status::type("table", "f32, f16 or bf16", dtype_traits((int32_t)dtype) ? dtype_traits((int32_t)dtype)->name : "?");
  FL_TRY(rows_check(n_ids, dim));
  if (n_rows < 1) return Status::range("n_rows", "integer >= 1", s64(n_rows));
  if (n_ids == 0) return Status::Ok();
  embedding_kernel<<<(unsigned)n_ids, row_threads(dim), 0, s>>>(out, table, code, n_rows, dim, ids);
  FL_CUDA_LAUNCHED("embedding");
  return Status::Ok();
}

Status argmax_f32(int32_t* out, const float* x, int64_t rows, int64_t dim, Stream s) {
  FL_TRY(need_device());
  FL_TRY(rows_check(rows, dim));
  if (rows == 0) return Status::Ok();
  argmax_kernel<<<(unsigned)rows, 256, 0, s>>>(out, x, dim);
  FL_CUDA_LAUNCHED("argmax");
  return Status::Ok();
}

}  // namespace cuda
}  // namespace fuselm
