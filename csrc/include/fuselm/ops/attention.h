// Family `attention`: a paged KV cache and fused flash-style attention over it,
// dense or sparse (sliding window + sinks, static block mask, dynamic top-k
// block selection from per-block min/max key summaries, Quest-style).
//
// This header is the contract the CPU paths (csrc/cpu/{ref,avx2,avx512}/attention.cpp,
// driven by csrc/ops/attention.cpp) implement and the CUDA twin must reproduce. The cache
// itself (pages, layout, append/truncate/fork/shift) is fuselm/ops/kv_cache.h.
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
#include <cstdint>

#include "fuselm/cpu.h"
#include "fuselm/status.h"
#include "fuselm/ops/attention_kernels.h"
#include "fuselm/ops/kv_cache.h"

namespace fuselm {

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
