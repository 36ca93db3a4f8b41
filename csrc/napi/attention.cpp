// N-API for family `attention`: the KV cache handle (an External owning a
// native KvCache, freed by dispose or, failing that, by the GC finalizer) and
// the attention calls. Native bytes are reported to V8 with AdjustExternalMemory.
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "fuselm/ops.h"
#include "napi/args.h"
#include "napi/dtype_arg.h"
#include "napi/rope_arg.h"

namespace fuselm {
namespace napi {

namespace {

// JavaScript thread only (async calls are queued and settled there).
struct Box {
  KvCache* c = nullptr;
  int pending = 0;         // async calls on this cache not yet settled (async graph replays included)
  int graphs = 0;          // graphs that recorded a call on it (napi/graph.h)
  bool free_later = false; // disposed while calls were pending or graphs held it: freed when the last lets go
  bool collected = false;  // the handle was collected while graphs held it: the last graph deletes the box
};
std::mutex boxes_mu;
std::unordered_set<Box*>& boxes() {
  static std::unordered_set<Box*> s;
  return s;
}

void report_memory(Napi::Env env) {
  int64_t& d = kv_memory_delta();
  if (d != 0) Napi::MemoryManagement::AdjustExternalMemory(env, d);
  d = 0;
}

Napi::Value wrap(Napi::Env env, KvCache* c) {
  Box* b = new Box;
  b->c = c;
  {
    std::lock_guard<std::mutex> lock(boxes_mu);
    boxes().insert(b);
  }
  return Napi::External<Box>::New(env, b, [](Napi::Env env, Box* b) {
    {
      std::lock_guard<std::mutex> lock(boxes_mu);
      boxes().erase(b);
    }
    if (b->c) {
      kv_cache_free(b->c);
      b->c = nullptr;
      report_memory(env);
    }
    // finalizers run in any order when the environment ends: a graph that holds the box still releases it
    if (b->graphs > 0) b->collected = true;
    else delete b;
  });
}

Box* box_arg(const Napi::CallbackInfo& info, const Args& a, size_t i) {
  Napi::Value v = info[i];
  if (!v.IsExternal()) a.type_error("cache", "a KVCache", describe(v));
  Box* b = v.As<Napi::External<Box>>().Data();
  std::lock_guard<std::mutex> lock(boxes_mu);
  if (!boxes().count(b)) a.type_error("cache", "a KVCache", "another external value");
  return b;
}

KvCache* cache_arg(const Napi::CallbackInfo& info, const Args& a, size_t i) {
  Box* b = box_arg(info, a, i);
  if (!b->c || b->free_later) throw Napi::Error::New(a.env(), std::string(a.fn()) + ": Expected a live KVCache for cache but received a disposed KVCache");
  // a synchronous call would race the executor; async calls queue behind the pending ones (FIFO)
  if (b->pending > 0 && !a.async())
    throw Napi::Error::New(a.env(), std::string(a.fn()) + ": the KVCache has a pending async call (an awaited attentionAsync or appendAsync); await it first");
  return b->c;
}

// frees a disposed cache once no async call is pending and no graph holds it
void free_if_done(Napi::Env env, Box* b) {
  if (b->pending == 0 && b->graphs == 0 && b->free_later && b->c) {
    kv_cache_free(b->c);
    b->c = nullptr;
    report_memory(env);
  }
}

// An async call on the cache in argument i: counted until it settles, so that dispose
// waits for it and synchronous calls refuse to race it. The sync call gets a no-op. A call
// recorded into a graph makes the graph hold the cache: replays check that it is live,
// an async replay pins it as an async call does, and dispose leaves it to the graph.
std::function<void(Napi::Env)> pin(const Napi::CallbackInfo& info, const Args& a, size_t i) {
  if (Graph* g = a.recording()) {
    Box* b = box_arg(info, a, i);
    a.keep(i);
    b->graphs++;
    g->holds.push_back(GraphHold{
        [b] {
          return b->c && !b->free_later ? Status::Ok()
                                        : Status::range("cache", "a live KVCache (one the graph recorded)", "a disposed KVCache");
        },
        [b] { b->pending++; },
        [b](Napi::Env env) {
          b->pending--;
          free_if_done(env, b);
        },
        [b](Napi::Env env) {
          if (--b->graphs == 0 && b->collected) delete b;
          else free_if_done(env, b);
        }});
    return {};
  }
  if (!a.async()) return {};
  Box* b = box_arg(info, a, i);
  a.keep(i);
  b->pending++;
  return [b](Napi::Env env) {
    b->pending--;
    free_if_done(env, b);
  };
}

}  // namespace

// kvCreate(nKvHead, headDim, dtype id: f32, f16 or i8 (the KV cache's 'int8')) -> handle
static Napi::Value KvCreate(const Napi::CallbackInfo& info) {
  Args a(info, "KVCache");
  a.count(3);
  int64_t h = a.integer(0, "nKvHead", 1, 1024);
  int64_t d = a.integer(1, "headDim", 1, 65536);
  const DType dt = dtype_arg(a, 2, "dtype", {DType::F32, DType::F16, DType::I8});
  const KvDType dtype = dt == DType::F32 ? KvDType::F32 : dt == DType::F16 ? KvDType::F16 : KvDType::I8;
  KvCache* c = nullptr;
  throw_if(a.env(), kv_cache_create(&c, h, d, dtype), a.fn());
  return wrap(a.env(), c);
}

// kvAppend(handle, k, v, positions: Int32Array, n)
static Napi::Value KvAppend(const Napi::CallbackInfo& info) {
  Args a(info, "KVCache.append");
  a.count(5);
  KvCache* c = cache_arg(info, a, 0);
  int64_t n = a.integer(4, "n", 0, INT32_MAX);
  Buf k = a.buffer(1, "k", mul_bytes({n, c->n_kv_head, c->head_dim, 4}), 4);
  Buf v = a.buffer(2, "v", mul_bytes({n, c->n_kv_head, c->head_dim, 4}), 4);
  Buf pos = a.buffer(3, "positions", mul_bytes({n, 4}), 4);
  // the pages' bytes are counted on the thread that runs the op, and reported to V8 here
  auto delta = std::make_shared<int64_t>(0);
  auto unpin = pin(info, a, 0);
  return a.run(
      [=] {
        Status st = kv_cache_append(c, k.as<float>(), v.as<float>(), pos.as<int32_t>(), n);
        *delta = kv_memory_delta();
        kv_memory_delta() = 0;
        return st;
      },
      [=](Napi::Env env) {
        if (*delta != 0) Napi::MemoryManagement::AdjustExternalMemory(env, *delta);
        if (unpin) unpin(env);
      });
}

static Napi::Value KvTruncate(const Napi::CallbackInfo& info) {
  Args a(info, "KVCache.truncate");
  a.count(2);
  KvCache* c = cache_arg(info, a, 0);
  int64_t n = a.integer(1, "n", 0, INT64_C(1) << 40);
  Status st = kv_cache_truncate(c, n);
  report_memory(a.env());
  throw_if(a.env(), st, a.fn());
  return a.env().Undefined();
}

// kvShift(handle, keep, discard, nDims, mode, base, freqScale, extFactor, attnFactor, betaFast, betaSlow,
//         origCtx, freqFactors | null): the context shift (fuselm/ops/kv_cache.h; attnFactor has no effect)
static Napi::Value KvShift(const Napi::CallbackInfo& info) {
  Args a(info, "KVCache.shift");
  a.count(13);
  KvCache* c = cache_arg(info, a, 0);
  const int64_t keep = a.integer(1, "keep", 0, INT64_C(1) << 40);
  const int64_t discard = a.integer(2, "discard", 1, INT64_C(1) << 40);
  const int64_t n_dims = a.integer(3, "nDims", 2, c->head_dim);
  const int mode = (int)a.integer(4, "mode", 0, 2);
  const float base = (float)a.number(5, "base");
  RopeScaling sc = rope_scaling_arg(a, 6);
  Buf ff = a.opt_buffer(12, "freqFactors", mul_bytes({n_dims / 2, 4}), 4);
  sc.freq_factors = ff.data ? ff.as<float>() : nullptr;
  Status st = kv_cache_shift(c, keep, discard, n_dims, mode, base, sc);
  report_memory(a.env());
  throw_if(a.env(), st, a.fn());
  return a.env().Undefined();
}

static Napi::Value KvFork(const Napi::CallbackInfo& info) {
  Args a(info, "KVCache.fork");
  a.count(1);
  KvCache* c = cache_arg(info, a, 0);
  KvCache* f = nullptr;
  throw_if(a.env(), kv_cache_fork(&f, c), a.fn());
  return wrap(a.env(), f);
}

static Napi::Value KvFree(const Napi::CallbackInfo& info) {
  Args a(info, "KVCache.dispose");
  a.count(1);
  Box* b = box_arg(info, a, 0);
  if (b->pending > 0 || b->graphs > 0) {
    b->free_later = true;  // the last pending call (or graph) frees it
  } else if (b->c) {
    kv_cache_free(b->c);
    b->c = nullptr;
    report_memory(a.env());
  }
  return a.env().Undefined();
}

// kvInfo(handle) -> [length, bytes, lastPosition]
static Napi::Value KvInfo(const Napi::CallbackInfo& info) {
  Args a(info, "KVCache");
  a.count(1);
  KvCache* c = cache_arg(info, a, 0);
  Napi::Array r = Napi::Array::New(a.env(), 3);
  r.Set(0u, Napi::Number::New(a.env(), (double)c->len));
  r.Set(1u, Napi::Number::New(a.env(), (double)kv_cache_bytes(c)));
  double last = -1;
  if (c->len) last = c->pages.back()->pos[c->pages.back()->n - 1];
  r.Set(2u, Napi::Number::New(a.env(), last));
  return r;
}

// kvRead(handle, k | null, v | null, positions | null)
static Napi::Value KvRead(const Napi::CallbackInfo& info) {
  Args a(info, "KVCache.read");
  a.count(4);
  KvCache* c = cache_arg(info, a, 0);
  Buf k = a.opt_buffer(1, "k", mul_bytes({c->len, c->n_kv_head, c->head_dim, 4}), 4);
  Buf v = a.opt_buffer(2, "v", mul_bytes({c->len, c->n_kv_head, c->head_dim, 4}), 4);
  Buf pos = a.opt_buffer(3, "positions", mul_bytes({c->len, 4}), 4);
  throw_if(a.env(), kv_cache_read(k.as<float>(), v.as<float>(), pos.as<int32_t>(), c), a.fn());
  return a.env().Undefined();
}

// the option tail shared by attention and attentionSelect:
//   scale, softcap, windowed, window, sinks, mask | null, maskRows, maskCols, topK, tokenBudget
static AttentionParams params(const Args& a, size_t i, int64_t nb) {
  AttentionParams p;
  p.scale = (float)a.number(i, "scale");
  p.softcap = (float)a.number(i + 1, "softcap");
  p.windowed = a.boolean(i + 2, "windowed");
  p.window = a.integer(i + 3, "window", 0, INT32_MAX);
  p.sinks = a.integer(i + 4, "sinks", 0, INT32_MAX);
  p.mask_rows = a.integer(i + 6, "maskRows", 0, INT32_MAX);
  p.mask_cols = a.integer(i + 7, "maskCols", 0, INT32_MAX);
  Buf mask = a.opt_buffer(i + 5, "blockMask", mul_bytes({p.mask_rows, p.mask_cols}), 1);
  p.block_mask = mask.as<uint8_t>();
  if (!p.block_mask) p.mask_rows = p.mask_cols = 0;
  (void)nb;
  p.top_k = a.integer(i + 8, "topKBlocks", -1, INT32_MAX);
  p.token_budget = a.integer(i + 9, "tokenBudget", -1, INT32_MAX);
  return p;
}

// attention(out, q, positions, nQ, nHead, headDim, cache, <params x10>, stats: Float64Array(4) | null)
static Napi::Value Attention(const Napi::CallbackInfo& info) {
  Args a(info, "attention");
  a.count(18);
  KvCache* c = cache_arg(info, a, 6);
  int64_t nq = a.integer(3, "nQ", 0, INT32_MAX);
  int64_t nh = a.integer(4, "nHead", 1, 65536);
  int64_t d = a.integer(5, "headDim", 1, 65536);
  Buf out = a.buffer(0, "out", mul_bytes({nq, nh, d, 4}), 4);
  Buf q = a.buffer(1, "q", mul_bytes({nq, nh, d, 4}), 4);
  Buf pos = a.buffer(2, "positions", mul_bytes({nq, 4}), 4);
  AttentionParams p = params(a, 7, (int64_t)c->pages.size());
  Buf st = a.opt_buffer(17, "stats", 4 * 8, 8);
  auto unpin = pin(info, a, 6);
  return a.run(
      [=] {
        AttentionStats s;
        Status r = attention_f32(out.as<float>(), q.as<float>(), pos.as<int32_t>(), nq, nh, d, c, p, &s);
        if (r.ok() && st.data) {
          double* o = st.as<double>();
          o[0] = (double)s.blocks;
          o[1] = (double)s.tokens;
          o[2] = (double)s.bytes;
          o[3] = (double)s.selected;
        }
        return r;
      },
      unpin);
}

// attentionSelectK(cache, <params x10>) -> k
static Napi::Value AttentionSelectK(const Napi::CallbackInfo& info) {
  Args a(info, "attentionSelect");
  a.count(11);
  KvCache* c = cache_arg(info, a, 0);
  AttentionParams p = params(a, 1, (int64_t)c->pages.size());
  int64_t k = 0;
  throw_if(a.env(), attention_select_k(&k, c, p), a.fn());
  return Napi::Number::New(a.env(), (double)k);
}

// attentionSelect(sel: Int32Array [nQ, nKv, k], k, q, positions, nQ, nHead, headDim, cache, <params x10>)
static Napi::Value AttentionSelect(const Napi::CallbackInfo& info) {
  Args a(info, "attentionSelect");
  a.count(18);
  KvCache* c = cache_arg(info, a, 7);
  int64_t k = a.integer(1, "k", 0, INT32_MAX);
  int64_t nq = a.integer(4, "nQ", 0, INT32_MAX);
  int64_t nh = a.integer(5, "nHead", 1, 65536);
  int64_t d = a.integer(6, "headDim", 1, 65536);
  Buf sel = a.buffer(0, "sel", mul_bytes({nq, c->n_kv_head, k, 4}), 4);
  Buf q = a.buffer(2, "q", mul_bytes({nq, nh, d, 4}), 4);
  Buf pos = a.buffer(3, "positions", mul_bytes({nq, 4}), 4);
  AttentionParams p = params(a, 8, (int64_t)c->pages.size());
  throw_if(a.env(), attention_select(sel.as<int32_t>(), k, q.as<float>(), pos.as<int32_t>(), nq, nh, d, c, p), a.fn());
  return a.env().Undefined();
}

FL_NAPI_REGISTER(init_attention) {
  exports.Set("kvCreate", Napi::Function::New(env, KvCreate, "kvCreate"));
  export_fn(env, exports, "kvAppend", KvAppend, true);
  exports.Set("kvTruncate", Napi::Function::New(env, KvTruncate, "kvTruncate"));
  exports.Set("kvShift", Napi::Function::New(env, KvShift, "kvShift"));
  exports.Set("kvFork", Napi::Function::New(env, KvFork, "kvFork"));
  exports.Set("kvFree", Napi::Function::New(env, KvFree, "kvFree"));
  exports.Set("kvInfo", Napi::Function::New(env, KvInfo, "kvInfo"));
  exports.Set("kvRead", Napi::Function::New(env, KvRead, "kvRead"));
  export_fn(env, exports, "attention", Attention, true);
  exports.Set("attentionSelectK", Napi::Function::New(env, AttentionSelectK, "attentionSelectK"));
  exports.Set("attentionSelect", Napi::Function::New(env, AttentionSelect, "attentionSelect"));
}

}  // namespace napi
}  // namespace fuselm
