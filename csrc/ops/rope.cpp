// Family `rope`: argument invariants, the cos/sin table per token (double-precision angles), and the
// split over the pool by tokens.
#include <cmath>
#include <string>
#include <vector>

#include "fuselm/ops.h"

namespace fuselm {

static void report_rope(const void* p, void (*emit)(const char*, const char*, void*), void* u) {
  emit("rope", ((const RopeTable*)p)->rope_token.isa, u);
}
static const Dispatch<RopeTable> rope_dispatch("rope", ref::fill_rope, avx2::fill_rope, avx512::fill_rope, report_rope);

Status rope_f32(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads, int64_t head_dim,
                int64_t n_dims, int mode, float base, float freq_scale) {
  if (tokens < 0) return Status::range("tokens", "integer >= 0", std::to_string(tokens));
  if (heads < 1) return Status::range("heads", "integer >= 1", std::to_string(heads));
  if (head_dim < 2) return Status::range("head_dim", "integer >= 2", std::to_string(head_dim));
  if (n_dims < 2 || n_dims > head_dim || n_dims % 2 != 0)
    return Status::range("n_dims", "an even integer in [2, head_dim=" + std::to_string(head_dim) + "]",
                         std::to_string(n_dims));
  if (mode != ROPE_NORM && mode != ROPE_NEOX)
    return Status::range("mode", "0 (normal) or 2 (neox)", std::to_string(mode));
  if (!(base > 0.0f) || std::isinf(base)) return Status::range("base", "finite number > 0", std::to_string(base));
  if (!(freq_scale > 0.0f) || std::isinf(freq_scale))
    return Status::range("freq_scale", "finite number > 0", std::to_string(freq_scale));
  if (tokens == 0) return Status::Ok();
  if (!out || !x || !pos) return Status::range(!out ? "out" : !x ? "x" : "pos", "a non-null pointer", "null");

  // inv_freq[i] = base^(-2i/n_dims), in double (ggml: theta_scale^i with theta_scale = base^(-2/n_dims))
  const int64_t half = n_dims / 2;
  thread_local std::vector<double> inv_freq;
  if ((int64_t)inv_freq.size() < half) inv_freq.resize(half);
  for (int64_t i = 0; i < half; i++) inv_freq[i] = std::pow((double)base, -2.0 * (double)i / (double)n_dims);
  const double* invf = inv_freq.data();

  auto fn = rope_dispatch().rope_token.fn;
  const int64_t per_token = heads * head_dim;
  parallel_for(tokens, (1 << 14) / per_token + 1, [&](int64_t b, int64_t e, int) {
    thread_local std::vector<float> cs;  // this worker's table for one token: cos[n_dims], sin[n_dims]
    if ((int64_t)cs.size() < 2 * n_dims) cs.resize(2 * n_dims);
    float* c = cs.data();
    float* s = c + n_dims;
    for (int64_t t = b; t < e; t++) {
      const double p = (double)freq_scale * (double)pos[t];
      for (int64_t i = 0; i < half; i++) {
        const double th = p * invf[i];
        const float ct = (float)std::cos(th), st = (float)std::sin(th);
        if (mode == ROPE_NEOX) {
          c[i] = ct;
          s[i] = st;
        } else {
          c[2 * i] = c[2 * i + 1] = ct;
          s[2 * i] = -st;
          s[2 * i + 1] = st;
        }
      }
      fn(out + t * per_token, x + t * per_token, c, heads, head_dim, n_dims, mode);
    }
  });
  return Status::Ok();
}

}  // namespace fuselm
