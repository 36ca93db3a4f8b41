// Family `attention`, the KV cache: the paged store that attention (fuselm/ops/attention.h)
// reads. Implemented in csrc/ops/kv_cache.cpp.
//
// ---- KV cache ---------------------------------------------------------------
// A cache holds one layer: n_kv_head heads of head_dim channels. Tokens live in
// pages of KV_BLOCK = 64 tokens (a page is also the "key block" of the sparse
// forms). A cache is a table of page pointers; pages are refcounted so that
// kv_cache_fork() shares every page (shared-prefix reuse), and a page is copied
// before it is written while shared (copy-on-write). Growth allocates one page
// at a time and appends a pointer: no copy of existing tokens, ever.
//
// Page layout (one allocation, 64-byte aligned, zero-filled when allocated), per
// KV head h at data + h * head_bytes (head_bytes rounded up to 64):
//   kt    [head_dim][64]  dtype    K transposed: kt[c * 64 + t] = channel c of token t
//   v     [64][head_dim]  dtype    V row-major:  v[t * head_dim + c]
//   kscale[64]            f32      int8 only: K row t = kscale[t] * kt[.., t]
//   vscale[64]            f32      int8 only: V row t = vscale[t] * v[t, ..]
//   kmin  [head_dim]      f32      per-channel min of the stored (dequantized) K of tokens [0, n)
//   kmax  [head_dim]      f32      per-channel max, likewise
// plus, per page: n (tokens filled, 1..64) and pos[64] (int32 positions).
// dtype f16: IEEE half, round to nearest even. f32: as given. int8 ("per-block
// scales"): each K row and each V row (head_dim values of one token and head) is
// one block with scale = max|x| / 127 and q = round-to-nearest-even(x * (1/scale)),
// clamped to [-127, 127] (scale 0 -> all zeros).
// Positions are int32 in [0, 2^31 - 2] and strictly increasing along the cache
// (append checks it); so "keys at position <= p" is a prefix of the cache.
//
// Context shift (kv_cache_shift): drops tokens [keep, keep + discard); tokens after move
// down to index j - discard with position pos - discard (still strictly increasing, >= 0),
// their keys rotated by -discard positions with rope_ext_f32's angles at magnitude 1
// (rope_rotate_f32: no attn_factor, no YaRN mscale), so a key stored as RoPE(k, p) becomes
// RoPE(k, p - discard) up to rounding. V rows (and int8 scales) move as stored; the rotated
// keys are stored again in the cache's dtype (f16/int8 round once more). Pages before the
// one holding index keep stay shared with forks.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "fuselm/status.h"
#include "fuselm/ops/attention_kernels.h"
#include "fuselm/ops/rope.h"

namespace fuselm {

constexpr int32_t KV_MAX_POS = 2147483646;  // positions are int32 in [0, 2^31 - 2]

enum class KvDType : int32_t { F32 = 0, F16 = 1, I8 = 2 };

struct KvPage {
  std::atomic<int32_t> refs;
  int32_t n;                // tokens filled
  int32_t pos[KV_BLOCK];    // their positions
  uint8_t* data;            // n_kv_head * head_bytes, layout above
};

struct KvCache {
  int64_t n_kv_head = 0, head_dim = 0;
  KvDType dtype = KvDType::F16;
  int64_t len = 0;                // tokens
  int64_t elem_bytes = 2;         // 4, 2, 1
  int64_t head_bytes = 0;         // bytes per KV head in a page (64-aligned)
  std::vector<KvPage*> pages;     // ceil(len / 64) pages

  // offsets inside one head's slice of a page
  int64_t off_v() const { return head_dim * KV_BLOCK * elem_bytes; }
  int64_t off_kscale() const { return 2 * head_dim * KV_BLOCK * elem_bytes; }
  int64_t off_vscale() const { return off_kscale() + KV_BLOCK * 4; }
  int64_t off_kmin() const { return off_vscale() + KV_BLOCK * 4; }
  int64_t off_kmax() const { return off_kmin() + head_dim * 4; }
  uint8_t* head(const KvPage* p, int64_t h) const { return p->data + h * head_bytes; }
  // bytes one token costs to read, K and V, one head (incl. int8 scales)
  int64_t token_bytes() const { return 2 * head_dim * elem_bytes + (dtype == KvDType::I8 ? 8 : 0); }
};

// Cache lifetime. Every function returns a Status for bad input; none aborts.
// Native bytes allocated or freed by a call on this thread accumulate in
// kv_memory_delta() (csrc/napi reports them to V8 with AdjustExternalMemory).
Status kv_cache_create(KvCache** out, int64_t n_kv_head, int64_t head_dim, KvDType dtype);
void kv_cache_free(KvCache* c);
// k, v: f32 [n, n_kv_head, head_dim]; pos: [n], strictly increasing and > the last position held.
Status kv_cache_append(KvCache* c, const float* k, const float* v, const int32_t* pos, int64_t n);
// keeps tokens [0, n); a later append continues from there
Status kv_cache_truncate(KvCache* c, int64_t n);
// a new cache sharing every page of src (copy-on-write)
Status kv_cache_fork(KvCache** out, const KvCache* src);
// dequantized copy: k, v f32 [len, n_kv_head, head_dim], pos [len] (any may be null)
Status kv_cache_read(float* k, float* v, int32_t* pos, const KvCache* c);
int64_t kv_cache_bytes(const KvCache* c);  // bytes of the pages it references
int64_t& kv_memory_delta();                // thread-local: bytes allocated minus freed

// Context shift (see the top of this file). 0 <= keep < len, 1 <= discard <= len - keep; the rope
// arguments as rope_ext_f32's (n_dims <= head_dim; attn_factor is not applied). On failure the cache is unchanged.
Status kv_cache_shift(KvCache* c, int64_t keep, int64_t discard, int64_t n_dims, int mode, float base,
                      const RopeScaling& sc);

}  // namespace fuselm
