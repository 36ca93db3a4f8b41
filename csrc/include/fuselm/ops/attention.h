// Family `attention`: a paged KV cache and fused flash-style attention over it,
// dense or sparse (sliding window + sinks, static block mask, dynamic top-k
// block selection from per-block min/max key summaries, Quest-style).
//
// This header is the contract the CPU paths (csrc/cpu/{ref,avx2,avx512}/attention.cpp,
// driven by csrc/ops/attention.cpp) implement and the CUDA twin must reproduce.
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
// ---- attention --------------------------------------------------------------
// q f32 [n_q, n_head, head_dim], query i at position p_i; out f32 [n_q, n_head, head_dim].
// GQA: n_head = G * n_kv_head; q head h reads KV head h / G.
// Key j (cache index j, position k_j) is visible to query i (head h, KV head g) when
//   causal:       k_j <= p_i                                               (always)
//   and, by mode:
//   dense:        nothing more
//   window:       j < sinks  or  p_i - k_j < window                        (window > 0)
//   block mask:   mask[(p_i / 64) * mask_cols + j / 64] != 0               (mask_rows > p_i / 64, mask_cols >= blocks)
//   dynamic:      j < sinks  or  p_i - k_j < window  or  j / 64 in Sel(i, g)
// score s_ij = scale * <q_ih, k_jg>; with softcap > 0, s = softcap * tanh(s / softcap).
// out_ih = sum_j softmax_j(s_ij over visible j) v_jg; a query with no visible key gets zeros.
//
// Dynamic selection Sel(i, g) (the plan; kv_attention_select writes it out):
//   candidates: blocks b holding at least one key that is causal-visible to query i
//   and not already kept by the sinks/window rule;
//   score(b) = sum over the G q heads h of KV head g, sum over channels c of
//              max(q_ihc * kmin_bc, q_ihc * kmax_bc)          (unscaled q, f32 accumulation)
//   Sel = the k highest-scoring candidates (ties: lower block index first), sorted
//   ascending, padded with -1; k = min(top_k, (token_budget - sinks - window) / 64)
//   over whichever of the two is given. The scores accumulate in f32 in an ISA-dependent
//   order, so two paths may break a near-tie (|difference| ~ 1e-6 relative) differently;
//   the tests check the selection against float64 scores with that allowance, and the
//   output against the selection each path made (attention_select exposes it).
// Per-layer choice (LongGen's hybrid, e.g. one third of the layers dense) is the caller's:
// one KvCache per layer, and the mode chosen per call through AttentionParams.
// Stats: blocks = tiles read (summed over KV heads and query chunks), tokens = keys in
// them, bytes = tokens * token_bytes() + summary bytes read by the selection.
//
// Kernel (what each ISA implements): attn_tile_<dtype> runs one online-softmax step
// of M query rows against one page's tile of one KV head. Flash-style: the driver
// walks the key blocks, so no [n_q, n_keys] matrix ever exists. Decode (one query
// chunk, at most 256 rows over all heads) splits the key blocks into contiguous
// ranges, several per thread; each range is walked block-major (every KV head's tile
// of a page, then the next page), so a thread streams through whole pages, and the
// partial (max, sum, acc) states of the ranges are merged after. Prefill splits over
// (KV head, query chunk of 64 / G queries). The driver names the next tile it will
// pass (AttnTile.pf_kt/pf_v) so a kernel can prefetch it while computing this one.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "fuselm/cpu.h"
#include "fuselm/status.h"
#include "fuselm/ops/attention_kernels.h"

namespace fuselm {

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

struct AttentionParams {
  float scale = 0;            // required (lib default 1/sqrt(head_dim))
  float softcap = 0;          // 0 = off
  int64_t window = 0;         // window/dynamic modes: keep keys with p - k < window (0 = none)
  int64_t sinks = 0;          // window/dynamic modes: keep cache indices < sinks
  const uint8_t* block_mask = nullptr;  // [mask_rows, mask_cols] over (query block p/64, key block j/64)
  int64_t mask_rows = 0, mask_cols = 0;
  int64_t top_k = -1;         // dynamic mode when top_k >= 0 or token_budget >= 0
  int64_t token_budget = -1;
  bool windowed = false;      // window mode (window and/or sinks given without top-k)
};

struct AttentionStats {
  int64_t blocks = 0;  // KV tiles read (one tile = one page of one KV head)
  int64_t tokens = 0;  // key tokens read (K and V)
  int64_t bytes = 0;   // KV bytes read plus summary bytes read for selection
  int64_t selected = 0;  // dynamic mode: k, the blocks selected per (query, KV head)
};

// out f32 [n_q, n_head, head_dim]; q f32 [n_q, n_head, head_dim]; qpos [n_q]. stats may be null.
Status attention_f32(float* out, const float* q, const int32_t* qpos, int64_t n_q, int64_t n_head,
                     int64_t head_dim, const KvCache* cache, const AttentionParams& p, AttentionStats* stats);
// The dynamic plan alone: sel int32 [n_q, n_kv_head, k] (k from attention_select_k), -1 padded.
Status attention_select_k(int64_t* k, const KvCache* cache, const AttentionParams& p);
Status attention_select(int32_t* sel, int64_t k, const float* q, const int32_t* qpos, int64_t n_q, int64_t n_head,
                        int64_t head_dim, const KvCache* cache, const AttentionParams& p);

}  // namespace fuselm
