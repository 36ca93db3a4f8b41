// Family `attention`, the KV cache: the page arena, copy-on-write pages, the
// per-dtype token store with its block summaries, and the cache API (create,
// append, truncate, fork, read, shift). Layout and semantics: fuselm/ops/kv_cache.h.
#include <sys/mman.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "fuselm/fp16.h"
#include "fuselm/ops.h"

namespace fuselm {

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
// pages of [64 KiB, kSlab / 2] come from the arena; smaller and larger ones from aligned_alloc
bool arena_sized(size_t bytes) { return bytes >= ((size_t)64 << 10) && bytes <= PageArena::kSlab / 2; }
PageArena& arena() {
  static PageArena* a = new PageArena();  // leaked on purpose: caches may outlive static destructors
  return *a;
}
}  // namespace

static KvPage* page_new(const KvCache* c) {
  KvPage* p = new (std::nothrow) KvPage;
  if (!p) return nullptr;
  const size_t bytes = (size_t)page_bytes(c);
  p->data = arena_sized(bytes) ? arena().get(bytes) : (uint8_t*)std::aligned_alloc(64, bytes);
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
    if (arena_sized(bytes)) arena().put(p->data, bytes);
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

// stores one head's K row (f32 [head_dim]) as token t, in the cache's dtype (the per-channel summary is not updated)
static void store_k(const KvCache* c, uint8_t* hb, int64_t t, const float* kr) {
  const int64_t D = c->head_dim;
  switch (c->dtype) {
    case KvDType::F32:
      for (int64_t ch = 0; ch < D; ch++) ((float*)hb)[ch * KV_BLOCK + t] = kr[ch];
      break;
    case KvDType::F16:
      for (int64_t ch = 0; ch < D; ch++) ((uint16_t*)hb)[ch * KV_BLOCK + t] = fp32_to_fp16(kr[ch]);
      break;
    case KvDType::I8:
      ((float*)(hb + c->off_kscale()))[t] = quant_i8((int8_t*)hb + t, kr, D, KV_BLOCK);
      break;
  }
}

static void store_v(const KvCache* c, uint8_t* hb, int64_t t, const float* vr) {
  const int64_t D = c->head_dim;
  uint8_t* vb = hb + c->off_v();
  switch (c->dtype) {
    case KvDType::F32: std::memcpy((float*)vb + t * D, vr, (size_t)D * 4); break;
    case KvDType::F16:
      for (int64_t ch = 0; ch < D; ch++) ((uint16_t*)vb)[t * D + ch] = fp32_to_fp16(vr[ch]);
      break;
    case KvDType::I8: ((float*)(hb + c->off_vscale()))[t] = quant_i8((int8_t*)vb + t * D, vr, D, 1); break;
  }
}

static void write_token(KvCache* c, KvPage* pg, int64_t t, const float* k, const float* v) {
  const int64_t D = c->head_dim;
  for (int64_t h = 0; h < c->n_kv_head; h++) {
    uint8_t* hb = c->head(pg, h);
    store_k(c, hb, t, k + h * D);
    store_v(c, hb, t, v + h * D);
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

Status kv_cache_create(KvCache** out, int64_t n_kv_head, int64_t head_dim, KvDType dtype) {
  *out = nullptr;
  if (n_kv_head < 1 || n_kv_head > 1024)
    return Status::range("nKvHead", "integer in [1, 1024]", std::to_string(n_kv_head));
  if (!attention_head_dim_supported(head_dim))
    return Status::unsupported("unsupported head_dim " + std::to_string(head_dim) + " (supported: " +
                               attention_head_dims_list() + ")");
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
    if (p < 0 || p > KV_MAX_POS)
      return Status::range("positions[" + std::to_string(i) + "]", "integer in [0, " + std::to_string(KV_MAX_POS) + "]",
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

// ---- context shift ------------------------------------------------------------
// token st of src stored as is (K, V and their int8 scales) into token dt of dst, every head
static void copy_token(const KvCache* c, KvPage* dst, int64_t dt, const KvPage* src, int64_t st, bool with_k) {
  const int64_t D = c->head_dim, e = c->elem_bytes;
  for (int64_t h = 0; h < c->n_kv_head; h++) {
    uint8_t* hd = c->head(dst, h);
    const uint8_t* hs = c->head(src, h);
    if (with_k) {
      for (int64_t ch = 0; ch < D; ch++)
        std::memcpy(hd + (ch * KV_BLOCK + dt) * e, hs + (ch * KV_BLOCK + st) * e, (size_t)e);
      if (c->dtype == KvDType::I8)
        ((float*)(hd + c->off_kscale()))[dt] = ((const float*)(hs + c->off_kscale()))[st];
    }
    std::memcpy(hd + c->off_v() + dt * D * e, hs + c->off_v() + st * D * e, (size_t)(D * e));
    if (c->dtype == KvDType::I8) ((float*)(hd + c->off_vscale()))[dt] = ((const float*)(hs + c->off_vscale()))[st];
  }
}

Status kv_cache_shift(KvCache* c, int64_t keep, int64_t discard, int64_t n_dims, int mode, float base,
                      const RopeScaling& sc) {
  if (!c) return Status::type("cache", "a KVCache", "null");
  if (keep < 0 || keep >= c->len)
    return Status::range("keep", "integer in [0, length - 1 = " + std::to_string(c->len - 1) + "]", std::to_string(keep));
  if (discard < 1 || discard > c->len - keep)
    return Status::range("discard", "integer in [1, length - keep = " + std::to_string(c->len - keep) + "]",
                         std::to_string(discard));
  const int64_t H = c->n_kv_head, D = c->head_dim, m = c->len - discard, moved = m - keep;
  // the rope arguments are checked before anything moves (no tokens: checks only)
  FL_TRY(rope_rotate_f32(nullptr, nullptr, nullptr, 0, H, D, n_dims, mode, base, sc));
  std::vector<float> k;
  std::vector<int32_t> back;
  try {
    k.resize((size_t)(moved * H * D));
    back.assign((size_t)moved, (int32_t)-discard);
  } catch (const std::bad_alloc&) {
    return Status::internal("KVCache: out of memory");
  }
  // the moved tokens' stored keys, dequantized, then rotated back by discard positions
  for (int64_t j = 0; j < moved; j++) {
    const int64_t s = keep + discard + j;
    const KvPage* pg = c->pages[s / KV_BLOCK];
    for (int64_t h = 0; h < H; h++)
      for (int64_t ch = 0; ch < D; ch++) k[(j * H + h) * D + ch] = k_at(c, c->head(pg, h), ch, s % KV_BLOCK);
  }
  FL_TRY(rope_rotate_f32(k.data(), k.data(), back.data(), moved, H, D, n_dims, mode, base, sc));
  // the new page table: the pages wholly before index keep stay (shared with forks); the rest are
  // written fresh, all allocated first so that a failure leaves the cache unchanged
  const int64_t p0 = keep / KV_BLOCK, np = (m + KV_BLOCK - 1) / KV_BLOCK;
  std::vector<KvPage*> pages(c->pages.begin(), c->pages.begin() + p0);
  for (int64_t i = p0; i < np; i++) {
    KvPage* p = page_new(c);
    if (!p) {
      for (int64_t f = p0; f < i; f++) page_release(c, pages[f]);
      return Status::internal("KVCache: out of memory");
    }
    pages.push_back(p);
  }
  for (int64_t j = p0 * KV_BLOCK; j < m; j++) {
    KvPage* dst = pages[j / KV_BLOCK];
    const int64_t dt = j % KV_BLOCK, s = j < keep ? j : j + discard;
    const KvPage* src = c->pages[s / KV_BLOCK];
    const int64_t st = s % KV_BLOCK;
    copy_token(c, dst, dt, src, st, j < keep);
    if (j >= keep)
      for (int64_t h = 0; h < H; h++) store_k(c, c->head(dst, h), dt, k.data() + ((j - keep) * H + h) * D);
    dst->pos[dt] = j < keep ? src->pos[st] : src->pos[st] - (int32_t)discard;
    dst->n = (int32_t)dt + 1;
  }
  for (int64_t i = p0; i < np; i++) resummarize(c, pages[i]);
  for (int64_t i = p0; i < (int64_t)c->pages.size(); i++) page_release(c, c->pages[i]);
  c->pages.swap(pages);
  c->len = m;
  return Status::Ok();
}

}  // namespace fuselm
