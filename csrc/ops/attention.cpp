// Family `attention`: masks, argument invariants, the dynamic block selection
// (plan) and the flash-style driver (run) that walks key blocks and calls the
// per-ISA tile kernel. Semantics: fuselm/ops/attention.h; the cache it reads is
// csrc/ops/kv_cache.cpp.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "fuselm/ops.h"

namespace fuselm {

static void report_attention(const void* p, void (*emit)(const char*, const char*, void*), void* u) {
  const AttentionTable& t = *(const AttentionTable*)p;
  emit("attn_tile_f32", t.attn_tile_f32.isa, u);
  emit("attn_tile_f16", t.attn_tile_f16.isa, u);
  emit("attn_tile_i8", t.attn_tile_i8.isa, u);
  emit("score_blocks", t.score_blocks.isa, u);
}
static const Dispatch<AttentionTable> attention_dispatch("attention", ref::fill_attention, avx2::fill_attention,
                                                         avx512::fill_attention, report_attention);

// ---- masks ----------------------------------------------------------------------
static inline uint64_t prefix_bits(int64_t n) { return n >= 64 ? ~0ull : n <= 0 ? 0ull : ((1ull << n) - 1); }

// tokens of the page with position <= x (positions increase)
static inline int64_t count_le(const KvPage* pg, int64_t x) {
  const int n = pg->n;
  if (pg->pos[n - 1] <= x) return n;
  if (pg->pos[0] > x) return 0;
  int lo = 0, hi = n - 1;  // pos[lo] <= x < pos[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (pg->pos[mid] <= x) lo = mid; else hi = mid;
  }
  return lo + 1;
}

// keys of block b kept by the sinks/window rule for a query at position p
static inline uint64_t keep_bits(const KvPage* pg, int64_t b, int64_t p, int64_t sinks, int64_t window) {
  uint64_t bits = prefix_bits(sinks - b * KV_BLOCK);
  if (window > 0) bits |= prefix_bits(pg->n) & ~prefix_bits(count_le(pg, p - window));
  return bits;
}

enum Mode { DENSE, WINDOW, MASK, DYNAMIC };

// number of keys with position <= p
static int64_t causal_len(const KvCache* c, int64_t p) {
  const int64_t nb = (int64_t)c->pages.size();
  int64_t lo = 0, hi = nb;  // first block whose pos[0] > p
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (c->pages[mid]->pos[0] <= p) lo = mid + 1; else hi = mid;
  }
  if (lo == 0) return 0;
  return (lo - 1) * KV_BLOCK + count_le(c->pages[lo - 1], p);
}

// ---- validation -------------------------------------------------------------------
struct Plan {
  Mode mode;
  int64_t G, k;
};

static Status check(Plan* plan, const int32_t* qpos, int64_t n_q, int64_t n_head, int64_t head_dim,
                    const KvCache* c, const AttentionParams& p) {
  if (!c) return Status::type("cache", "a KVCache", "null");
  if (n_q < 0) return Status::range("q.shape[0]", "integer >= 0", std::to_string(n_q));
  if (head_dim != c->head_dim)
    return Status::range("q.shape[2]", "the cache's head_dim " + std::to_string(c->head_dim), std::to_string(head_dim));
  if (!attention_head_dim_supported(head_dim))
    return Status::unsupported("unsupported head_dim " + std::to_string(head_dim) + " (supported: " + attention_head_dims_list() + ")");
  if (n_head < 1 || n_head % c->n_kv_head != 0)
    return Status::range("q.shape[1]", "a multiple of nKvHead=" + std::to_string(c->n_kv_head), std::to_string(n_head));
  const int64_t G = n_head / c->n_kv_head;
  if (G > 64) return Status::unsupported("attention: GQA groups above 64 query heads per KV head are not supported");
  for (int64_t i = 0; i < n_q; i++)
    if (qpos[i] < 0 || qpos[i] > KV_MAX_POS)
      return Status::range("positions[" + std::to_string(i) + "]", "integer in [0, " + std::to_string(KV_MAX_POS) + "]",
                           std::to_string(qpos[i]));
  if (!std::isfinite(p.scale)) return Status::range("scale", "a finite number", std::to_string(p.scale));
  if (!(p.softcap >= 0) || !std::isfinite(p.softcap))
    return Status::range("softcap", "a finite number >= 0", std::to_string(p.softcap));
  if (p.window < 0) return Status::range("window", "integer >= 0", std::to_string(p.window));
  if (p.sinks < 0) return Status::range("sinks", "integer >= 0", std::to_string(p.sinks));
  const bool dyn = p.top_k >= 0 || p.token_budget >= 0;
  Mode mode = dyn ? DYNAMIC : p.block_mask ? MASK : p.windowed ? WINDOW : DENSE;
  if (p.block_mask && (dyn || p.windowed))
    return Status::range("opts", "one sparse form (blockMask alone)", "blockMask with window or topKBlocks");
  if (mode == WINDOW && p.window < 1) return Status::range("window", "integer >= 1", std::to_string(p.window));
  const int64_t nb = (int64_t)c->pages.size();
  if (mode == MASK) {
    if (p.mask_cols < nb)
      return Status::range("blockMask.shape[1]", "at least the cache's " + std::to_string(nb) + " blocks",
                           std::to_string(p.mask_cols));
    for (int64_t i = 0; i < n_q; i++)
      if (qpos[i] / KV_BLOCK >= p.mask_rows)
        return Status::range("positions[" + std::to_string(i) + "]",
                             "a position below 64 * blockMask rows = " + std::to_string(64 * p.mask_rows),
                             std::to_string(qpos[i]));
  }
  int64_t k = 0;
  if (mode == DYNAMIC) {
    k = INT64_MAX;
    if (p.top_k >= 0) k = p.top_k;
    if (p.token_budget >= 0) {
      const int64_t fixed = p.sinks + p.window;
      if (p.token_budget < fixed)
        return Status::range("tokenBudget", "at least sinks + window = " + std::to_string(fixed),
                             std::to_string(p.token_budget));
      k = std::min(k, (p.token_budget - fixed) / KV_BLOCK);
    }
    k = std::min(k, nb);
  }
  *plan = Plan{mode, G, k};
  return Status::Ok();
}

// ---- scratch ----------------------------------------------------------------------
template <class T>
static T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}
struct Scratch {
  std::vector<float> qs, acc, ml, scores, bscores;
  std::vector<uint64_t> masks;
  std::vector<const float*> summ;
  std::vector<int64_t> cand, ord, cur;
  std::vector<uint8_t> vis;
};
static Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// ---- plan: dynamic block selection -------------------------------------------------
// writes sel[k] (ascending, -1 padded) for query position p and KV head g; returns summary bytes read
static int64_t select_blocks(int32_t* sel, int64_t k, const float* qg, int64_t G, int64_t p, int64_t g,
                             const KvCache* c, const AttentionParams& prm) {
  for (int64_t i = 0; i < k; i++) sel[i] = -1;
  if (k == 0) return 0;
  Scratch& s = scratch();
  const int64_t nl = causal_len(c, p);
  const int64_t nbv = (nl + KV_BLOCK - 1) / KV_BLOCK;
  const float** summ = grow(s.summ, (size_t)nbv);
  int64_t* cand = grow(s.cand, (size_t)nbv);
  int64_t* ord = grow(s.ord, (size_t)nbv);
  int64_t nc = 0;
  for (int64_t b = 0; b < nbv; b++) {
    const KvPage* pg = c->pages[b];
    const uint64_t causal = prefix_bits(count_le(pg, p));
    if (causal & ~keep_bits(pg, b, p, prm.sinks, prm.window)) {
      cand[nc] = b;
      summ[nc] = (const float*)(c->head(pg, g) + c->off_kmin());
      nc++;
    }
  }
  float* sc = grow(s.bscores, (size_t)nc + 1);
  attention_dispatch().score_blocks.fn(sc, qg, G, c->head_dim, summ, nc);
  for (int64_t i = 0; i < nc; i++) {
    if (std::isnan(sc[i])) sc[i] = -INFINITY;
    ord[i] = i;
  }
  const int64_t kk = std::min(k, nc);
  // the kk best by (score desc, block asc); candidates are in ascending block order
  std::partial_sort(ord, ord + kk, ord + nc,
                    [sc](int64_t a, int64_t b) { return sc[a] > sc[b] || (sc[a] == sc[b] && a < b); });
  std::sort(ord, ord + kk);
  for (int64_t i = 0; i < kk; i++) sel[i] = (int32_t)cand[ord[i]];
  return nc * 2 * c->head_dim * 4;
}

// ---- run: the flash-style driver ---------------------------------------------------
struct RunCtx {
  float* out;
  const float* q;
  const int32_t* qpos;
  int64_t n_q, n_head, D;
  const KvCache* c;
  const AttentionParams* p;
  Plan plan;
  const int32_t* sel;
  int64_t Qc, nchunks, splits, nitems, part_stride;
  int64_t nh;  // KV heads per item: 1 (one item per (chunk, head, split)) or n_kv_head (decode)
  float* part;
  void (*tile)(const AttnTile&);
  std::atomic<int64_t> next{0}, blocks{0}, tokens{0}, bytes{0};
};

static inline uint64_t query_mask(const RunCtx& x, const KvPage* pg, int64_t b, int64_t p, const int32_t* sl,
                                  int64_t* cur) {
  const int64_t cl = count_le(pg, p);
  if (cl == 0) return 0;
  const uint64_t causal = prefix_bits(cl);
  const AttentionParams& prm = *x.p;
  switch (x.plan.mode) {
    case DENSE: return causal;
    case WINDOW: return causal & keep_bits(pg, b, p, prm.sinks, prm.window);
    case MASK: return prm.block_mask[(p / KV_BLOCK) * prm.mask_cols + b] ? causal : 0;
    default: {
      const int64_t k = x.plan.k;
      while (*cur < k && sl[*cur] >= 0 && sl[*cur] < b) (*cur)++;
      if (*cur < k && sl[*cur] == b) return causal;
      return causal & keep_bits(pg, b, p, prm.sinks, prm.window);
    }
  }
}

// The partial state (m [M], l [M], acc [M][D]) of (chunk, KV head g, split s).
static inline float* part_of(const RunCtx& x, int64_t chunk, int64_t g, int64_t s) {
  const int64_t nkv = x.c->n_kv_head;
  const int64_t slot = x.nh == 1 ? (chunk * nkv + g) * x.splits + s : (chunk * x.splits + s) * nkv + g;
  return x.part + slot * x.part_stride;
}

// One work item: the query chunk `chunk`, KV heads [g0, g0 + nh), key blocks of split `split`.
// With nh > 1 (decode) the walk is block-major: every head's tile of a page before the next
// page, so a thread streams through contiguous memory; the kernel prefetches the next tile.
static void run_item(RunCtx& x, int64_t item) {
  const KvCache* c = x.c;
  const int64_t nkv = c->n_kv_head, nh = x.nh;
  const int64_t split = item % x.splits, rest = item / x.splits;
  const int64_t g0 = nh == 1 ? rest % nkv : 0, chunk = nh == 1 ? rest / nkv : rest;
  const int64_t G = x.plan.G, D = x.D;
  const int64_t i0 = chunk * x.Qc, i1 = std::min(x.n_q, i0 + x.Qc), nq = i1 - i0;
  const int64_t M = nq * G, Mpad = (M + 3) & ~(int64_t)3;
  Scratch& s = scratch();
  float* qs = grow(s.qs, (size_t)(nh * Mpad * D));    // per head: [Mpad][D]
  float* acc = grow(s.acc, (size_t)(nh * M * D));     // per head: [M][D]
  float* ml = grow(s.ml, (size_t)(nh * 2 * M));       // per head: m [M], l [M]
  float* scores = grow(s.scores, (size_t)(Mpad * KV_BLOCK));
  uint64_t* masks = grow(s.masks, (size_t)(2 * nh * M));  // this block's row masks per head, and the next one's
  uint8_t* vis = grow(s.vis, (size_t)(2 * nh));           // whether each head sees any key of the block
  int64_t* cur = grow(s.cur, (size_t)(nh * nq));          // dynamic mode: position in each Sel list
  const float scale = x.p->scale;
  for (int64_t hi = 0; hi < nh; hi++) {
    const int64_t g = g0 + hi;
    float* qh = qs + hi * Mpad * D;
    for (int64_t qi = 0; qi < nq; qi++)
      for (int64_t gg = 0; gg < G; gg++) {
        const float* src = x.q + ((i0 + qi) * x.n_head + g * G + gg) * D;
        float* dst = qh + (qi * G + gg) * D;
        for (int64_t ch = 0; ch < D; ch++) dst[ch] = src[ch] * scale;
      }
    std::memset(qh + M * D, 0, sizeof(float) * (size_t)((Mpad - M) * D));
    float* mh = ml + hi * 2 * M;
    for (int64_t r = 0; r < M; r++) { mh[r] = -INFINITY; mh[M + r] = 0; }
  }
  std::memset(acc, 0, sizeof(float) * (size_t)(nh * M * D));
  for (int64_t i = 0; i < nh * nq; i++) cur[i] = 0;

  int64_t pmax = 0;
  for (int64_t i = i0; i < i1; i++) pmax = std::max<int64_t>(pmax, x.qpos[i]);
  const int64_t nbv = (causal_len(c, pmax) + KV_BLOCK - 1) / KV_BLOCK;
  const int64_t b0 = nbv * split / x.splits, b1 = nbv * (split + 1) / x.splits;
  int64_t n_blocks = 0, n_tokens = 0;
  const bool i8 = c->dtype == KvDType::I8;
  // the first block at or after b that some head sees, with every head's row masks written
  // to mk [nh][M] and vs[hi] = whether head hi sees any key of it (b1 when none)
  auto next_visible = [&](int64_t b, uint64_t* mk, uint8_t* vs) -> int64_t {
    for (; b < b1; b++) {
      const KvPage* pg = c->pages[b];
      bool seen = false;
      for (int64_t hi = 0; hi < nh; hi++) {
        const int64_t g = g0 + hi;
        uint64_t any = 0;
        for (int64_t qi = 0; qi < nq; qi++) {
          const int32_t* sl = x.sel ? x.sel + ((i0 + qi) * nkv + g) * x.plan.k : nullptr;
          const uint64_t m1 = query_mask(x, pg, b, x.qpos[i0 + qi], sl, &cur[hi * nq + qi]);
          for (int64_t gg = 0; gg < G; gg++) mk[hi * M + qi * G + gg] = m1;
          any |= m1;
        }
        vs[hi] = any != 0;
        seen |= any != 0;
      }
      if (seen) return b;
    }
    return b1;
  };
  // one block of look-ahead, so the kernel can prefetch the next tile while it computes this one
  uint64_t* mk_cur = masks;
  uint64_t* mk_next = masks + nh * M;
  uint8_t* vs_cur = vis;
  uint8_t* vs_next = vis + nh;
  for (int64_t b = next_visible(b0, mk_cur, vs_cur); b < b1;) {
    const int64_t bn = next_visible(b + 1, mk_next, vs_next);
    const KvPage* pg = c->pages[b];
    for (int64_t hi = 0; hi < nh; hi++) {
      if (!vs_cur[hi]) continue;
      const uint8_t* hb = c->head(pg, g0 + hi);
      // the tile to prefetch: the second one after this (the next was named to the previous
      // tile; one tile of lead falls short of a streaming read at decode), counting
      // the later heads of this block, then the heads the next block needs; the next tile
      // when only one is known (per-head items: one block of look-ahead)
      const uint8_t* hn = nullptr;
      int ahead = 0;
      for (int64_t h2 = hi + 1; h2 < nh && ahead < 2; h2++)
        if (vs_cur[h2]) { hn = c->head(pg, g0 + h2); ahead++; }
      for (int64_t h2 = 0; h2 < nh && ahead < 2 && bn < b1; h2++)
        if (vs_next[h2]) { hn = c->head(c->pages[bn], g0 + h2); ahead++; }
      AttnTile t;
      t.acc = acc + hi * M * D; t.m = ml + hi * 2 * M; t.l = t.m + M; t.q = qs + hi * Mpad * D; t.M = M; t.D = D;
      t.kt = hb; t.v = hb + c->off_v();
      t.kscale = i8 ? (const float*)(hb + c->off_kscale()) : nullptr;
      t.vscale = i8 ? (const float*)(hb + c->off_vscale()) : nullptr;
      t.n = pg->n; t.mask = mk_cur + hi * M; t.softcap = x.p->softcap; t.scores = scores;
      t.pf_kt = hn;
      t.pf_v = hn ? hn + c->off_v() : nullptr;
      x.tile(t);
      n_blocks++;
      n_tokens += pg->n;
    }
    std::swap(mk_cur, mk_next);
    std::swap(vs_cur, vs_next);
    b = bn;
  }
  x.blocks += n_blocks;
  x.tokens += n_tokens;
  x.bytes += n_tokens * c->token_bytes();

  for (int64_t hi = 0; hi < nh; hi++) {
    const int64_t g = g0 + hi;
    const float* a = acc + hi * M * D;
    const float* m = ml + hi * 2 * M;
    const float* l = m + M;
    if (x.splits == 1) {
      for (int64_t qi = 0; qi < nq; qi++)
        for (int64_t gg = 0; gg < G; gg++) {
          const int64_t r = qi * G + gg;
          float* dst = x.out + ((i0 + qi) * x.n_head + g * G + gg) * D;
          const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
          for (int64_t ch = 0; ch < D; ch++) dst[ch] = a[r * D + ch] * inv;
        }
    } else {
      float* pp = part_of(x, chunk, g, split);
      std::memcpy(pp, m, sizeof(float) * (size_t)M);
      std::memcpy(pp + M, l, sizeof(float) * (size_t)M);
      std::memcpy(pp + 2 * M, a, sizeof(float) * (size_t)(M * D));
    }
  }
}

// merges the splits of (chunk, g): out = sum_s e^{m_s - m} acc_s / sum_s e^{m_s - m} l_s
static void merge_splits(RunCtx& x, int64_t chunk, int64_t g) {
  const int64_t G = x.plan.G, D = x.D;
  const int64_t i0 = chunk * x.Qc, nq = std::min(x.n_q, i0 + x.Qc) - i0, M = nq * G;
  for (int64_t r = 0; r < M; r++) {
    float mm = -INFINITY;
    for (int64_t s = 0; s < x.splits; s++) mm = std::max(mm, part_of(x, chunk, g, s)[r]);
    const int64_t qi = r / G, gg = r % G;
    float* dst = x.out + ((i0 + qi) * x.n_head + g * G + gg) * D;
    for (int64_t ch = 0; ch < D; ch++) dst[ch] = 0;
    if (mm == -INFINITY) continue;
    float L = 0;
    for (int64_t s = 0; s < x.splits; s++) {
      const float* pp = part_of(x, chunk, g, s);
      if (pp[r] == -INFINITY) continue;
      const float w = std::exp(pp[r] - mm);
      L += w * pp[M + r];
      const float* a = pp + 2 * M + r * D;
      for (int64_t ch = 0; ch < D; ch++) dst[ch] += w * a[ch];
    }
    const float inv = L > 0 ? 1.0f / L : 0.0f;
    for (int64_t ch = 0; ch < D; ch++) dst[ch] *= inv;
  }
}

struct SelCtx {
  int32_t* sel;
  int64_t k;
  const float* q;
  const int32_t* qpos;
  int64_t n_q, n_head, G;
  const KvCache* c;
  const AttentionParams* p;
  std::atomic<int64_t> next{0}, bytes{0};
};

static void run_select(SelCtx& x) {
  const int64_t nkv = x.c->n_kv_head, n = x.n_q * nkv;
  const int nth = (int)std::min<int64_t>(n_threads(), n);
  parallel_run(
      [](void* pv, int, int) {
        SelCtx& x = *(SelCtx*)pv;
        const int64_t nkv = x.c->n_kv_head, n = x.n_q * nkv, D = x.c->head_dim;
        int64_t bytes = 0;
        for (int64_t it; (it = x.next.fetch_add(1)) < n;) {
          const int64_t i = it / nkv, g = it % nkv;
          bytes += select_blocks(x.sel + it * x.k, x.k, x.q + (i * x.n_head + g * x.G) * D, x.G, x.qpos[i], g,
                                 x.c, *x.p);
        }
        x.bytes += bytes;
      },
      &x, nth < 1 ? 1 : nth);
}

Status attention_select_k(int64_t* k, const KvCache* cache, const AttentionParams& p) {
  if (!cache) return Status::type("cache", "a KVCache", "null");
  int32_t zero = 0;
  Plan plan;
  FL_TRY(check(&plan, &zero, 0, cache->n_kv_head, cache->head_dim, cache, p));
  if (plan.mode != DYNAMIC) return Status::range("opts", "topKBlocks or tokenBudget", "neither");
  *k = plan.k;
  return Status::Ok();
}

Status attention_select(int32_t* sel, int64_t k, const float* q, const int32_t* qpos, int64_t n_q, int64_t n_head,
                        int64_t head_dim, const KvCache* cache, const AttentionParams& p) {
  Plan plan;
  FL_TRY(check(&plan, qpos, n_q, n_head, head_dim, cache, p));
  if (plan.mode != DYNAMIC) return Status::range("opts", "topKBlocks or tokenBudget", "neither");
  if (k != plan.k) return Status::range("k", std::to_string(plan.k), std::to_string(k));
  if (n_q == 0) return Status::Ok();
  SelCtx sx;
  sx.sel = sel; sx.k = k; sx.q = q; sx.qpos = qpos; sx.n_q = n_q; sx.n_head = n_head; sx.G = plan.G;
  sx.c = cache; sx.p = &p;
  run_select(sx);
  return Status::Ok();
}

Status attention_f32(float* out, const float* q, const int32_t* qpos, int64_t n_q, int64_t n_head, int64_t head_dim,
                     const KvCache* cache, const AttentionParams& p, AttentionStats* stats) {
  Plan plan;
  FL_TRY(check(&plan, qpos, n_q, n_head, head_dim, cache, p));
  if (stats) *stats = AttentionStats{};
  if (n_q == 0) return Status::Ok();
  const KvCache* c = cache;
  const int64_t nkv = c->n_kv_head, D = head_dim, G = plan.G;

  // plan (dynamic mode): Sel(i, g) for every query and KV head
  thread_local std::vector<int32_t> sel_buf;
  int64_t sel_bytes = 0;
  if (plan.mode == DYNAMIC) {
    int32_t* sel = grow(sel_buf, (size_t)std::max<int64_t>(1, n_q * nkv * plan.k));
    SelCtx sx;
    sx.sel = sel; sx.k = plan.k; sx.q = q; sx.qpos = qpos; sx.n_q = n_q; sx.n_head = n_head; sx.G = G;
    sx.c = c; sx.p = &p;
    if (plan.k > 0) run_select(sx);
    sel_bytes = sx.bytes.load();
  }

  RunCtx x;
  x.out = out; x.q = q; x.qpos = qpos; x.n_q = n_q; x.n_head = n_head; x.D = D; x.c = c; x.p = &p; x.plan = plan;
  x.sel = plan.mode == DYNAMIC ? sel_buf.data() : nullptr;
  x.Qc = std::max<int64_t>(1, KV_BLOCK / G);
  x.nchunks = (n_q + x.Qc - 1) / x.Qc;
  switch (c->dtype) {
    case KvDType::F32: x.tile = attention_dispatch().attn_tile_f32.fn; break;
    case KvDType::F16: x.tile = attention_dispatch().attn_tile_f16.fn; break;
    default: x.tile = attention_dispatch().attn_tile_i8.fn; break;
  }
  // Decode (one query chunk of at most 256 rows over all heads): each item takes every KV head
  // over a contiguous range of key blocks, so a thread streams whole pages; at long contexts the
  // ranges are several per thread (dynamic balance); their partial (m, l, acc) states are merged after.
  // Otherwise items are (query chunk, KV head), and calls with few of them (decode-like with
  // many rows) split each head's block range so every thread gets work.
  const int nth = n_threads();
  const int64_t nb = (int64_t)c->pages.size();
  int64_t splits = 1;
  if (x.nchunks == 1 && n_q * n_head <= 256) {
    x.nh = nkv;
    // at least 4 blocks a range (each range starts with an unprefetched tile, so short ranges
    // cost more than they balance), up to 4 ranges a thread at long contexts, and one a thread
    // when there are blocks for it
    splits = std::max<int64_t>(std::min<int64_t>(nth, nb), std::min<int64_t>(4 * (int64_t)nth, nb / 4));
    splits = std::max<int64_t>(1, splits);
    x.nitems = splits;
  } else {
    x.nh = 1;
    const int64_t base = x.nchunks * nkv;
    if (base < 4 * (int64_t)nth) splits = std::min<int64_t>((4 * nth + base - 1) / base, std::max<int64_t>(1, nb / 2));
    x.nitems = base * splits;
  }
  x.splits = splits;
  thread_local std::vector<float> part_buf;
  const int64_t Mmax = std::min(n_q, x.Qc) * G;
  x.part_stride = Mmax * (D + 2);
  x.part = splits > 1 ? grow(part_buf, (size_t)(x.nchunks * nkv * splits * x.part_stride)) : nullptr;

  parallel_run(
      [](void* pv, int, int) {
        RunCtx& x = *(RunCtx*)pv;
        for (int64_t it; (it = x.next.fetch_add(1)) < x.nitems;) run_item(x, it);
      },
      &x, (int)std::max<int64_t>(1, std::min<int64_t>(nth, x.nitems)));
  if (splits > 1)
    for (int64_t ch = 0; ch < x.nchunks; ch++)
      for (int64_t g = 0; g < nkv; g++) merge_splits(x, ch, g);
  if (stats) {
    stats->blocks = x.blocks.load();
    stats->tokens = x.tokens.load();
    stats->bytes = x.bytes.load() + sel_bytes;
    stats->selected = plan.mode == DYNAMIC ? plan.k : 0;
  }
  return Status::Ok();
}

}  // namespace fuselm
