// Family `attention`: the paged KV cache, argument invariants, the dynamic
// block selection (plan) and the flash-style driver (run) that walks key
// blocks and calls the per-ISA tile kernel. Semantics: fuselm/ops/attention.h.
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "fuselm/fp16.h"
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

static const int32_t kMaxPos = 2147483646;

int64_t& kv_memory_delta() {
  thread_local int64_t d = 0;
  return d;
}

// ---- pages ------------------------------------------------------------------
static int64_t page_bytes(const KvCache* c) { return c->n_kv_head * c->head_bytes; }

// Page memory: pages of one size carved from 2 MiB-aligned slabs advised as
// transparent huge pages. A long cache is thousands of pages of ~256 KiB, and
// the sparse decode reads a little from each (its block summaries): with 4 KiB
// pages every read was a TLB miss. Freed pages go to a per-size free list and
// are reused; slabs are kept for the life of the process.
namespace {
struct PageArena {
  std::mutex mu;
  struct Bin { size_t bytes; std::vector<uint8_t*> free; };
  std::vector<Bin> bins;
  static constexpr size_t kSlab = (size_t)32 << 20;
  uint8_t* get(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu);
    Bin* bin = nullptr;
    for (auto& b : bins) if (b.bytes == bytes) bin = &b;
    if (!bin) { bins.push_back({bytes, {}}); bin = &bins.back(); }
    if (bin->free.empty()) {
      const size_t per = kSlab / bytes;
      if (per < 2) return nullptr;
      void* m = mmap(nullptr, kSlab + ((size_t)2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED) return nullptr;
      uint8_t* base = (uint8_t*)(((uintptr_t)m + ((2u << 20) - 1)) & ~(uintptr_t)((2u << 20) - 1));
      madvise(base, kSlab, MADV_HUGEPAGE);
      for (size_t i = per; i-- > 0;) bin->free.push_back(base + i * bytes);
    }
    uint8_t* p = bin->free.back();
    bin->free.pop_back();
    return p;
  }
  void put(uint8_t* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& b : bins) if (b.bytes == bytes) { b.free.push_back(p); return; }
  }
};
PageArena& arena() {
  static PageArena* a = new PageArena();  // leaked on purpose: caches may outlive static destructors
  return *a;
}
}  // namespace

static KvPage* page_new(const KvCache* c) {
  KvPage* p = new (std::nothrow) KvPage;
  if (!p) return nullptr;
  const size_t bytes = (size_t)page_bytes(c);
  p->data = bytes >= ((size_t)64 << 10) ? arena().get(bytes) : (uint8_t*)std::aligned_alloc(64, bytes);
  if (!p->data) { delete p; return nullptr; }
  std::memset(p->data, 0, bytes);
  p->refs.store(1);
  p->n = 0;
  std::memset(p->pos, 0, sizeof p->pos);
  kv_memory_delta() += (int64_t)bytes;
  return p;
}

static void page_release(const KvCache* c, KvPage* p) {
  if (p->refs.fetch_sub(1) == 1) {
    const size_t bytes = (size_t)page_bytes(c);
    if (bytes >= ((size_t)64 << 10)) arena().put(p->data, bytes);
    else std::free(p->data);
    delete p;
    kv_memory_delta() -= page_bytes(c);
  }
}

// makes pages[i] exclusive to this cache (copy-on-write)
static Status page_own(KvCache* c, int64_t i) {
  KvPage* p = c->pages[i];
  if (p->refs.load() == 1) return Status::Ok();
  KvPage* q = page_new(c);
  if (!q) return Status::internal("KVCache: out of memory");
  std::memcpy(q->data, p->data, (size_t)page_bytes(c));
  q->n = p->n;
  std::memcpy(q->pos, p->pos, sizeof p->pos);
  page_release(c, p);
  c->pages[i] = q;
  return Status::Ok();
}

// stored (dequantized) value of K channel ch, token t
static inline float k_at(const KvCache* c, const uint8_t* hb, int64_t ch, int64_t t) {
  const int64_t i = ch * KV_BLOCK + t;
  switch (c->dtype) {
    case KvDType::F32: return ((const float*)hb)[i];
    case KvDType::F16: return fp16_to_fp32(((const uint16_t*)hb)[i]);
    default: return (float)((const int8_t*)hb)[i] * ((const float*)(hb + c->off_kscale()))[t];
  }
}
static inline float v_at(const KvCache* c, const uint8_t* hb, int64_t ch, int64_t t) {
  const uint8_t* vb = hb + c->off_v();
  const int64_t i = t * c->head_dim + ch;
  switch (c->dtype) {
    case KvDType::F32: return ((const float*)vb)[i];
    case KvDType::F16: return fp16_to_fp32(((const uint16_t*)vb)[i]);
    default: return (float)((const int8_t*)vb)[i] * ((const float*)(hb + c->off_vscale()))[t];
  }
}

// int8 block: scale = max|x| / 127, q = rne(x / scale) clamped to [-127, 127]
static inline float quant_i8(int8_t* q, const float* x, int64_t n, int64_t stride) {
  float amax = 0;
  for (int64_t i = 0; i < n; i++) amax = std::fmax(amax, std::fabs(x[i]));
  const float scale = amax / 127.0f;
  const float inv = scale > 0 ? 1.0f / scale : 0.0f;
  for (int64_t i = 0; i < n; i++) {
    float r = std::nearbyint(x[i] * inv);
    r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
    q[i * stride] = (int8_t)r;
  }
  return scale;
}

static void write_token(KvCache* c, KvPage* pg, int64_t t, const float* k, const float* v) {
  const int64_t D = c->head_dim;
  for (int64_t h = 0; h < c->n_kv_head; h++) {
    uint8_t* hb = c->head(pg, h);
    const float* kr = k + h * D;
    const float* vr = v + h * D;
    switch (c->dtype) {
      case KvDType::F32: {
        float* kt = (float*)hb;
        for (int64_t ch = 0; ch < D; ch++) kt[ch * KV_BLOCK + t] = kr[ch];
        std::memcpy((float*)(hb + c->off_v()) + t * D, vr, (size_t)D * 4);
        break;
      }
      case KvDType::F16: {
        uint16_t* kt = (uint16_t*)hb;
        uint16_t* vt = (uint16_t*)(hb + c->off_v()) + t * D;
        for (int64_t ch = 0; ch < D; ch++) kt[ch * KV_BLOCK + t] = fp32_to_fp16(kr[ch]);
        for (int64_t ch = 0; ch < D; ch++) vt[ch] = fp32_to_fp16(vr[ch]);
        break;
      }
      case KvDType::I8: {
        ((float*)(hb + c->off_kscale()))[t] = quant_i8((int8_t*)hb + t, kr, D, KV_BLOCK);
        ((float*)(hb + c->off_vscale()))[t] = quant_i8((int8_t*)(hb + c->off_v()) + t * D, vr, D, 1);
        break;
      }
    }
    float* mn = (float*)(hb + c->off_kmin());
    float* mx = (float*)(hb + c->off_kmax());
    for (int64_t ch = 0; ch < D; ch++) {
      const float x = k_at(c, hb, ch, t);
      if (t == 0) { mn[ch] = x; mx[ch] = x; }
      else { mn[ch] = std::fmin(mn[ch], x); mx[ch] = std::fmax(mx[ch], x); }
    }
  }
}

static void resummarize(KvCache* c, KvPage* pg) {
  const int64_t D = c->head_dim;
  for (int64_t h = 0; h < c->n_kv_head; h++) {
    uint8_t* hb = c->head(pg, h);
    float* mn = (float*)(hb + c->off_kmin());
    float* mx = (float*)(hb + c->off_kmax());
    for (int64_t ch = 0; ch < D; ch++) {
      float lo = INFINITY, hi = -INFINITY;
      for (int64_t t = 0; t < pg->n; t++) {
        const float x = k_at(c, hb, ch, t);
        lo = std::fmin(lo, x);
        hi = std::fmax(hi, x);
      }
      mn[ch] = pg->n ? lo : 0.0f;
      mx[ch] = pg->n ? hi : 0.0f;
    }
  }
}

// ---- cache API ----------------------------------------------------------------
static std::string dims_supported() { return "64, 80, 128"; }

Status kv_cache_create(KvCache** out, int64_t n_kv_head, int64_t head_dim, KvDType dtype) {
  *out = nullptr;
  if (n_kv_head < 1 || n_kv_head > 1024)
    return Status::range("nKvHead", "integer in [1, 1024]", std::to_string(n_kv_head));
  if (!attention_head_dim_supported(head_dim))
    return Status::unsupported("unsupported head_dim " + std::to_string(head_dim) + " (supported: " +
                               dims_supported() + ")");
  if (dtype != KvDType::F32 && dtype != KvDType::F16 && dtype != KvDType::I8)
    return Status::type("dtype", "one of f32, f16, int8", std::to_string((int)dtype));
  KvCache* c = new (std::nothrow) KvCache;
  if (!c) return Status::internal("KVCache: out of memory");
  c->n_kv_head = n_kv_head;
  c->head_dim = head_dim;
  c->dtype = dtype;
  c->elem_bytes = dtype == KvDType::F32 ? 4 : dtype == KvDType::F16 ? 2 : 1;
  c->head_bytes = (c->off_kmax() + head_dim * 4 + 63) & ~(int64_t)63;
  *out = c;
  return Status::Ok();
}

void kv_cache_free(KvCache* c) {
  if (!c) return;
  for (KvPage* p : c->pages) page_release(c, p);
  delete c;
}

static inline int32_t last_pos(const KvCache* c) {
  if (c->len == 0) return -1;
  const KvPage* p = c->pages.back();
  return p->pos[p->n - 1];
}

Status kv_cache_append(KvCache* c, const float* k, const float* v, const int32_t* pos, int64_t n) {
  if (n < 0) return Status::range("n", "integer >= 0", std::to_string(n));
  if (n == 0) return Status::Ok();
  int64_t prev = last_pos(c);
  for (int64_t i = 0; i < n; i++) {
    const int64_t p = pos[i];
    if (p < 0 || p > kMaxPos)
      return Status::range("positions[" + std::to_string(i) + "]", "integer in [0, " + std::to_string(kMaxPos) + "]",
                           std::to_string(p));
    if (p <= prev)
      return Status::range("positions[" + std::to_string(i) + "]",
                           "a position > " + std::to_string(prev) + " (positions strictly increase along the cache)",
                           std::to_string(p));
    prev = p;
  }
  // allocate every page first, so a failure leaves the cache unchanged
  const int64_t need = (c->len + n + KV_BLOCK - 1) / KV_BLOCK - (int64_t)c->pages.size();
  std::vector<KvPage*> fresh;
  for (int64_t i = 0; i < need; i++) {
    KvPage* p = page_new(c);
    if (!p) {
      for (KvPage* f : fresh) page_release(c, f);
      return Status::internal("KVCache: out of memory");
    }
    fresh.push_back(p);
  }
  if (c->len % KV_BLOCK != 0) {
    Status st = page_own(c, (int64_t)c->pages.size() - 1);
    if (!st.ok()) {
      for (KvPage* f : fresh) page_release(c, f);
      return st;
    }
  }
  c->pages.insert(c->pages.end(), fresh.begin(), fresh.end());
  const int64_t stride = c->n_kv_head * c->head_dim;
  for (int64_t i = 0; i < n; i++) {
    const int64_t j = c->len + i;
    KvPage* pg = c->pages[j / KV_BLOCK];
    const int64_t t = j % KV_BLOCK;
    write_token(c, pg, t, k + i * stride, v + i * stride);
    pg->pos[t] = pos[i];
    pg->n = (int32_t)t + 1;
  }
  c->len += n;
  return Status::Ok();
}

Status kv_cache_truncate(KvCache* c, int64_t n) {
  if (n < 0 || n > c->len)
    return Status::range("n", "integer in [0, length=" + std::to_string(c->len) + "]", std::to_string(n));
  const int64_t keep = (n + KV_BLOCK - 1) / KV_BLOCK;
  if (n % KV_BLOCK != 0 && c->pages[keep - 1]->n != n % KV_BLOCK) {
    FL_TRY(page_own(c, keep - 1));
    KvPage* pg = c->pages[keep - 1];
    pg->n = (int32_t)(n % KV_BLOCK);
    resummarize(c, pg);
  }
  for (int64_t i = keep; i < (int64_t)c->pages.size(); i++) page_release(c, c->pages[i]);
  c->pages.resize(keep);
  c->len = n;
  return Status::Ok();
}

Status kv_cache_fork(KvCache** out, const KvCache* src) {
  *out = nullptr;
  KvCache* c = new (std::nothrow) KvCache;
  if (!c) return Status::internal("KVCache: out of memory");
  c->n_kv_head = src->n_kv_head;
  c->head_dim = src->head_dim;
  c->dtype = src->dtype;
  c->len = src->len;
  c->elem_bytes = src->elem_bytes;
  c->head_bytes = src->head_bytes;
  c->pages = src->pages;
  for (KvPage* p : c->pages) p->refs.fetch_add(1);
  *out = c;
  return Status::Ok();
}

Status kv_cache_read(float* k, float* v, int32_t* pos, const KvCache* c) {
  const int64_t H = c->n_kv_head, D = c->head_dim;
  for (int64_t j = 0; j < c->len; j++) {
    const KvPage* pg = c->pages[j / KV_BLOCK];
    const int64_t t = j % KV_BLOCK;
    if (pos) pos[j] = pg->pos[t];
    for (int64_t h = 0; h < H; h++) {
      const uint8_t* hb = c->head(pg, h);
      for (int64_t ch = 0; ch < D; ch++) {
        if (k) k[(j * H + h) * D + ch] = k_at(c, hb, ch, t);
        if (v) v[(j * H + h) * D + ch] = v_at(c, hb, ch, t);
      }
    }
  }
  return Status::Ok();
}

int64_t kv_cache_bytes(const KvCache* c) { return (int64_t)c->pages.size() * page_bytes(c); }

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
    return Status::unsupported("unsupported head_dim " + std::to_string(head_dim) + " (supported: " + dims_supported() + ")");
  if (n_head < 1 || n_head % c->n_kv_head != 0)
    return Status::range("q.shape[1]", "a multiple of nKvHead=" + std::to_string(c->n_kv_head), std::to_string(n_head));
  const int64_t G = n_head / c->n_kv_head;
  if (G > 64) return Status::unsupported("attention: GQA groups above 64 query heads per KV head are not supported");
  for (int64_t i = 0; i < n_q; i++)
    if (qpos[i] < 0 || qpos[i] > kMaxPos)
      return Status::range("positions[" + std::to_string(i) + "]", "integer in [0, " + std::to_string(kMaxPos) + "]",
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
      // tile; one tile of lead measured ~3% short of a streaming read at decode), counting
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
    // at least 4 blocks a range (each range starts with an unprefetched tile: at 512 tokens,
    // 8 one-block ranges took 1.3 ms a token of a 22-layer model against 0.9 ms for 2), up to
    // 4 ranges a thread at long contexts, and one a thread when there are blocks for it
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
