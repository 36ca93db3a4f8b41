// Scalar reference for the attention family: the ground truth every path is tested against.
// One online-softmax step per row, keys one by one, in float (exp/tanh from <cmath>).
#include <cmath>
#include <cstdint>

#include "fuselm/fp16.h"
#include "fuselm/ops/attention_kernels.h"

namespace fuselm {
namespace ref {

static inline float ld(const float* p, int64_t i) { return p[i]; }
static inline float ld(const uint16_t* p, int64_t i) { return fp16_to_fp32(p[i]); }
static inline float ld(const int8_t* p, int64_t i) { return (float)p[i]; }

template <int D, class T>
static void tile(const AttnTile& t) {
  const T* kt = (const T*)t.kt;
  const T* v = (const T*)t.v;
  for (int64_t r = 0; r < t.M; r++) {
    const uint64_t mk = t.mask[r];
    if (!mk) continue;
    const float* q = t.q + r * D;
    float* s = t.scores + r * KV_BLOCK;
    float mx = -INFINITY;
    for (int64_t j = 0; j < t.n; j++) {
      if (!((mk >> j) & 1)) continue;
      float dot = 0;
      for (int c = 0; c < D; c++) dot += q[c] * ld(kt, (int64_t)c * KV_BLOCK + j);
      if (t.kscale) dot *= t.kscale[j];
      if (t.softcap > 0) dot = t.softcap * std::tanh(dot / t.softcap);
      s[j] = dot;
      if (dot > mx) mx = dot;
    }
    const float m_new = t.m[r] > mx ? t.m[r] : mx;
    const float alpha = std::exp(t.m[r] - m_new);
    float* acc = t.acc + r * D;
    float l = t.l[r] * alpha;
    for (int c = 0; c < D; c++) acc[c] *= alpha;
    for (int64_t j = 0; j < t.n; j++) {
      if (!((mk >> j) & 1)) continue;
      const float p = std::exp(s[j] - m_new);
      l += p;
      const float w = t.vscale ? p * t.vscale[j] : p;
      for (int c = 0; c < D; c++) acc[c] += w * ld(v, j * D + c);
    }
    t.l[r] = l;
    t.m[r] = m_new;
  }
}

static void attn_tile_f32(const AttnTile& t) { FL_DISPATCH_HEAD_DIM(t.D, tile<D, float>(t)); }
static void attn_tile_f16(const AttnTile& t) { FL_DISPATCH_HEAD_DIM(t.D, tile<D, uint16_t>(t)); }
static void attn_tile_i8(const AttnTile& t) { FL_DISPATCH_HEAD_DIM(t.D, tile<D, int8_t>(t)); }

static void score_blocks(float* scores, const float* q, int64_t G, int64_t D, const float* const* summ, int64_t nb) {
  for (int64_t b = 0; b < nb; b++) {
    const float* mn = summ[b];
    const float* mx = summ[b] + D;
    float s = 0;
    for (int64_t g = 0; g < G; g++)
      for (int64_t c = 0; c < D; c++) {
        const float a = q[g * D + c] * mn[c], e = q[g * D + c] * mx[c];
        s += a > e ? a : e;
      }
    scores[b] = s;
  }
}

void fill_attention(AttentionTable& t) {
  FL_IMPL(t, attn_tile_f32, ref);
  FL_IMPL(t, attn_tile_f16, ref);
  FL_IMPL(t, attn_tile_i8, ref);
  FL_IMPL(t, score_blocks, ref);
}

}  // namespace ref
}  // namespace fuselm
