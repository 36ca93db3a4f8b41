// Family `rope`: rotary position embedding in llama.cpp's two layouts.
#pragma once
#include <cstdint>
#include "fuselm/cpu.h"
#include "fuselm/status.h"

namespace fuselm {

// llama.cpp's rope types: LLAMA_ROPE_TYPE_NORM (GPT-J style adjacent pairs) and LLAMA_ROPE_TYPE_NEOX (halves)
enum RopeMode : int { ROPE_NORM = 0, ROPE_NEOX = 2 };

// x, out: [tokens, heads, head_dim] f32 (out may be x: in place). pos: [tokens] i32 positions.
// For pair i < n_dims/2 of every head of token t, with theta = freq_scale * pos[t] * base^(-2i/n_dims)
// (ggml's theta_scale = base^(-2/n_dims) raised to i; angles in double, no YaRN/ext_factor):
//   NORM: (x[2i], x[2i+1])        -> (x0 cos - x1 sin, x0 sin + x1 cos)
//   NEOX: (x[i], x[i + n_dims/2]) -> the same rotation
// Dimensions [n_dims, head_dim) pass through unchanged (partial rotary). n_dims even, 2 <= n_dims <= head_dim.
Status rope_f32(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads, int64_t head_dim,
                int64_t n_dims, int mode, float base, float freq_scale);

// per-ISA token kernel. cs holds 2*n_dims floats for the token: cos then sin, laid out for the mode:
//   NORM: c[j] = cos(theta_{j/2}), s[j] = (j even ? -1 : +1) sin(theta_{j/2}), j < n_dims, so that
//         out[j] = x[j] c[j] + x[j^1] s[j]
//   NEOX: c[i] = cos(theta_i), s[i] = sin(theta_i), i < n_dims/2 (the rest unused)
struct RopeTable {
  Kernel<void (*)(float* out, const float* x, const float* cs, int64_t heads, int64_t head_dim, int64_t n_dims,
                  int mode)>
      rope_token;
};

namespace ref { void fill_rope(RopeTable& t); }
namespace avx2 { void fill_rope(RopeTable& t); }
namespace avx512 { void fill_rope(RopeTable& t); }

}  // namespace fuselm
