// Family `rope`: rotary position embedding in llama.cpp's two layouts.
#pragma once
#include <cstdint>
#include "fuselm/cpu.h"
#include "fuselm/status.h"

namespace fuselm {

// llama.cpp's rope types: LLAMA_ROPE_TYPE_NORM (GPT-J style adjacent pairs) and LLAMA_ROPE_TYPE_NEOX (halves)
enum RopeMode : int { ROPE_NORM = 0, ROPE_NEOX = 2 };

// ggml_rope_ext's scaling arguments: llama.cpp's cparams: rope_freq_scale, yarn_ext_factor, yarn_attn_factor, yarn_beta_fast/slow, n_ctx_orig_yarn,
// and the rope_freqs tensor (ggml_rope_ext's c argument). The defaults are plain RoPE.
struct RopeScaling {
  float freq_scale = 1.0f;   // linear interpolation: theta_interp = freq_scale * theta_extrap (finite > 0)
  float ext_factor = 0.0f;   // YaRN: weight of the extrapolation ramp (finite >= 0; 0 = off)
  float attn_factor = 1.0f;  // magnitude on cos/sin (finite > 0)
  float beta_fast = 32.0f;   // YaRN correction range in rotations, used only when ext_factor != 0 (finite > 0)
  float beta_slow = 1.0f;
  int64_t orig_ctx = 0;      // n_ctx_orig: the context the model was trained with (>= 1 when ext_factor != 0)
  const float* freq_factors = nullptr;  // [n_dims/2] divisors of theta per pair (llama3's rope_freqs), or null
};

// x, out: [tokens, heads, head_dim] f32 (out may be x: in place). pos: [tokens] i32 positions.
// For pair i < n_dims/2 of every head of token t, as ggml's CPU rope (ops.cpp: rope_yarn, ggml_rope_cache_init):
//   theta_extrap = pos[t] * base^(-2i/n_dims) / freq_factors[i]        (factor 1 without freq_factors)
//   theta_interp = freq_scale * theta_extrap
//   ext_factor == 0: theta = theta_interp, mscale = attn_factor
//   ext_factor != 0: ramp_mix = (1 - clamp((i - low) / max(0.001, high - low), 0, 1)) * ext_factor,
//                    theta = theta_interp (1 - ramp_mix) + theta_extrap ramp_mix,
//                    mscale = attn_factor * (1 + 0.1 ln(1 / freq_scale)),
//     [low, high] = ggml_rope_yarn_corr_dims: low = max(0, floor(d(beta_fast))), high = min(n_dims - 1,
//     ceil(d(beta_slow))), d(b) = n_dims ln(orig_ctx / (2 pi b)) / (2 ln base)
//   (c, s) = (cos theta, sin theta) * mscale
//   NORM: (x[2i], x[2i+1])        -> (x0 c - x1 s, x0 s + x1 c)
//   NEOX: (x[i], x[i + n_dims/2]) -> the same rotation
// The per-pair factor pos -> theta (and mscale) is computed once per call, angles and cos/sin in double.
// Dimensions [n_dims, head_dim) pass through unchanged (partial rotary). n_dims even, 2 <= n_dims <= head_dim.
Status rope_ext_f32(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads, int64_t head_dim,
                    int64_t n_dims, int mode, float base, const RopeScaling& sc);

// rope_ext_f32's angles with magnitude 1 (neither attn_factor nor YaRN's mscale applied): a pure rotation,
// linear in pos, so a key stored as RoPE(k, p) rotated with pos = -d is RoPE(k, p - d) (the KV cache's shift).
Status rope_rotate_f32(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads,
                       int64_t head_dim, int64_t n_dims, int mode, float base, const RopeScaling& sc);

// Plain (or linearly scaled) RoPE: rope_ext_f32 with only freq_scale set.
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
