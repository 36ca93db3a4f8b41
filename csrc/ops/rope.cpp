// Family `rope`: argument invariants, the per-pair angle factors once per call (linear / YaRN / freq factors),
// the cos/sin table per token (double-precision angles), and the split over the pool by tokens.
#include <cmath>
#include <string>
#include <vector>

#include "fuselm/ops.h"
#include "fuselm/ops/rope_yarn.h"

namespace fuselm {

static void report_rope(const void* p, void (*emit)(const char*, const char*, void*), void* u) {
  emit("rope", ((const RopeTable*)p)->rope_token.isa, u);
}
static const Dispatch<RopeTable> rope_dispatch("rope", ref::fill_rope, avx2::fill_rope, avx512::fill_rope, report_rope);

// rope_ext_f32 and rope_rotate_f32: the same angles; `rotate` leaves the magnitude at 1
static Status rope_run(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads, int64_t head_dim,
                       int64_t n_dims, int mode, float base, const RopeScaling& sc, bool rotate) {
  if (tokens < 0) return Status::range("tokens", "integer >= 0", std::to_string(tokens));
  if (heads < 1) return Status::range("heads", "integer >= 1", std::to_string(heads));
  if (head_dim < 2) return Status::range("head_dim", "integer >= 2", std::to_string(head_dim));
  if (n_dims < 2 || n_dims > head_dim || n_dims % 2 != 0)
    return Status::range("n_dims", "an even integer in [2, head_dim=" + std::to_string(head_dim) + "]",
                         std::to_string(n_dims));
  if (mode != ROPE_NORM && mode != ROPE_NEOX)
    return Status::range("mode", "0 (normal) or 2 (neox)", std::to_string(mode));
  if (!(base > 0.0f) || std::isinf(base)) return Status::range("base", "finite number > 0", std::to_string(base));
  FL_TRY(rope_scaling_check(sc));
  const int64_t half = n_dims / 2;
  if (sc.freq_factors)
    for (int64_t i = 0; i < half; i++)
      if (!rope_finite_pos(sc.freq_factors[i]))
        return Status::range("freq_factors[" + std::to_string(i) + "]", "finite number > 0",
                             std::to_string(sc.freq_factors[i]));
  if (tokens == 0) return Status::Ok();
  if (!out || !x || !pos) return Status::range(!out ? "out" : !x ? "x" : "pos", "a non-null pointer", "null");

  // Once per call: theta_i = pos * k[i]. ggml's rope_yarn mixes theta_interp = freq_scale * theta_extrap and
  // theta_extrap by ramp_mix; both are linear in pos, so k[i] = base^(-2i/n_dims) / ff[i] * (freq_scale (1 - mix)
  // + mix) (mix = 0 without YaRN), in double (ggml: theta_scale^i in float).
  thread_local std::vector<double> kv;
  if ((int64_t)kv.size() < half) kv.resize(half);
  double corr[2] = {0.0, 0.0};
  const bool yarn = sc.ext_factor != 0.0f;
  if (yarn) rope_yarn_corr_dims(n_dims, sc.orig_ctx, base, sc.beta_fast, sc.beta_slow, corr);
  for (int64_t i = 0; i < half; i++) {
    const double extrap = std::pow((double)base, -2.0 * (double)i / (double)n_dims) /
                          (sc.freq_factors ? (double)sc.freq_factors[i] : 1.0);
    const double mix = yarn ? rope_yarn_ramp_mix(i, corr, sc.ext_factor) : 0.0;
    kv[i] = extrap * ((double)sc.freq_scale * (1.0 - mix) + mix);
  }
  // the magnitude on cos/sin: attn_factor, times YaRN's 1 + 0.1 ln(1/freq_scale) when ext_factor != 0
  const double mscale =
      rotate ? 1.0 : (double)sc.attn_factor * (yarn ? 1.0 + 0.1 * std::log(1.0 / (double)sc.freq_scale) : 1.0);
  const double* k = kv.data();

  auto fn = rope_dispatch().rope_token.fn;
  const int64_t per_token = heads * head_dim;
  parallel_for(tokens, (1 << 14) / per_token + 1, [&](int64_t b, int64_t e, int) {
    thread_local std::vector<float> cs;  // this worker's table for one token: cos[n_dims], sin[n_dims]
    if ((int64_t)cs.size() < 2 * n_dims) cs.resize(2 * n_dims);
    float* c = cs.data();
    float* s = c + n_dims;
    for (int64_t t = b; t < e; t++) {
      const double p = (double)pos[t];
      for (int64_t i = 0; i < half; i++) {
        const double th = p * k[i];
        const float ct = (float)(std::cos(th) * mscale), st = (float)(std::sin(th) * mscale);
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

Status rope_ext_f32(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads, int64_t head_dim,
                    int64_t n_dims, int mode, float base, const RopeScaling& sc) {
  return rope_run(out, x, pos, tokens, heads, head_dim, n_dims, mode, base, sc, false);
}

Status rope_rotate_f32(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads,
                       int64_t head_dim, int64_t n_dims, int mode, float base, const RopeScaling& sc) {
  return rope_run(out, x, pos, tokens, heads, head_dim, n_dims, mode, base, sc, true);
}

Status rope_f32(float* out, const float* x, const int32_t* pos, int64_t tokens, int64_t heads, int64_t head_dim,
                int64_t n_dims, int mode, float base, float freq_scale) {
  RopeScaling sc;
  sc.freq_scale = freq_scale;
  return rope_ext_f32(out, x, pos, tokens, heads, head_dim, n_dims, mode, base, sc);
}

}  // namespace fuselm
