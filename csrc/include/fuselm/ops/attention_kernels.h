// Family `attention`, the per-ISA part: what csrc/cpu/{ref,avx2,avx512}/attention.cpp
// implement. Kept free of STL headers (ISA translation units include only this,
// intrinsics and C headers). Semantics: see fuselm/ops/attention.h.
#pragma once
#include <cstdint>

#include "fuselm/cpu.h"

namespace fuselm {

constexpr int KV_BLOCK = 64;

// ---- per-ISA kernels ---------------------------------------------------------
// One online-softmax step for M query rows against one KV tile (one page, one head).
//   q     [ceil4(M)][D]  f32, already multiplied by scale; rows >= M are zeros
//   acc   [M][D], m [M], l [M]: running state (m = -inf, l = 0, acc = 0 at start)
//   kt, v, kscale, vscale: the head's slice of the page (layout above)
//   n     valid tokens in the tile (1..64); mask[r] bit t: key t visible to row r (bits >= n are 0)
//   scores: scratch [ceil4(M)][64] f32
//   pf_kt, pf_v: the next tile the driver will pass (same head, next visible page), or null: a
//     hint a kernel may prefetch while it computes this one (no kernel reads through them)
// For each row r with any visible key: s_t = q_r . k_t (softcapped when softcap > 0),
// m' = max(m, max_t s_t), p_t = exp(s_t - m') (0 where masked), l = l exp(m - m') + sum p,
// acc = acc exp(m - m') + sum_t p_t v_t.
struct AttnTile {
  float* acc;
  float* m;
  float* l;
  const float* q;
  int64_t M;
  int64_t D;
  const void* kt;
  const void* v;
  const float* kscale;
  const float* vscale;
  int64_t n;
  const uint64_t* mask;
  float softcap;
  float* scores;
  const void* pf_kt;
  const void* pf_v;
};

// scores[b] = sum_{g < G} sum_{c < D} max(q[g*D + c] * mn_b[c], q[g*D + c] * mx_b[c]),
// where summ[b] points at the block's kmin (kmax follows at + D).
typedef void (*ScoreBlocksFn)(float* scores, const float* q, int64_t G, int64_t D, const float* const* summ,
                              int64_t nb);

struct AttentionTable {
  Kernel<void (*)(const AttnTile& t)> attn_tile_f32;
  Kernel<void (*)(const AttnTile& t)> attn_tile_f16;
  Kernel<void (*)(const AttnTile& t)> attn_tile_i8;
  Kernel<ScoreBlocksFn> score_blocks;
};

namespace ref { void fill_attention(AttentionTable& t); }
namespace avx2 { void fill_attention(AttentionTable& t); }
namespace avx512 { void fill_attention(AttentionTable& t); }

// Closed dispatch over head dims: instantiates BODY with constexpr int D for each
// listed size (the common model head sizes, K and V of one size); csrc/ops/attention.cpp
// and kv_cache.cpp reject any other with an "unsupported head_dim" Status.
#define FL_DISPATCH_HEAD_DIM(d, ...)                           \
  switch (d) {                                                 \
    case 32: { constexpr int D = 32; __VA_ARGS__; } break;     \
    case 64: { constexpr int D = 64; __VA_ARGS__; } break;     \
    case 80: { constexpr int D = 80; __VA_ARGS__; } break;     \
    case 96: { constexpr int D = 96; __VA_ARGS__; } break;     \
    case 128: { constexpr int D = 128; __VA_ARGS__; } break;   \
    case 192: { constexpr int D = 192; __VA_ARGS__; } break;   \
    case 256: { constexpr int D = 256; __VA_ARGS__; } break;   \
    case 512: { constexpr int D = 512; __VA_ARGS__; } break;   \
    default: break;                                            \
  }
static inline bool attention_head_dim_supported(int64_t d) {
  return d == 32 || d == 64 || d == 80 || d == 96 || d == 128 || d == 192 || d == 256 || d == 512;
}
static inline const char* attention_head_dims_list() { return "32, 64, 80, 96, 128, 192, 256, 512"; }

}  // namespace fuselm
