// N-API for recorded kernel sequences (see graph.h): graphCreate, graphCapture,
// graphSeal, graphRun / graphRunAsync, graphLabels, graphFree.
#include "napi/graph.h"

#include <chrono>
#include <mutex>
#include <unordered_set>

#include "napi/args.h"

namespace fuselm {
namespace napi {

namespace {

thread_local Graph* g_recording = nullptr;

// JavaScript thread only, like attention.cpp's boxes: a graph is reached through its box,
// which outlives a freed graph (g == null) until the handle is collected.
struct GraphBox {
  Graph* g = nullptr;
};
std::mutex boxes_mu;
std::unordered_set<GraphBox*>& boxes() {
  static std::unordered_set<GraphBox*> s;
  return s;
}

void release(Napi::Env env, Graph* g) {
  for (GraphHold& h : g->holds)
    if (h.release) h.release(env);
  delete g;
}

GraphBox* box_arg(const Args& a, const Napi::Value& v) {
  if (!v.IsExternal()) a.type_error("graph", "a graph handle", describe(v));
  GraphBox* b = v.As<Napi::External<GraphBox>>().Data();
  std::lock_guard<std::mutex> lock(boxes_mu);
  if (!boxes().count(b)) a.type_error("graph", "a graph handle", "another external value");
  return b;
}

Graph* live_arg(const Args& a, const Napi::Value& v) {
  GraphBox* b = box_arg(a, v);
  if (!b->g || b->g->free_later) throw Napi::Error::New(a.env(), std::string(a.fn()) + ": Expected a live graph for graph but received a freed graph");
  return b->g;
}

}  // namespace

Graph* recording_graph() { return g_recording; }

void Graph::add_buffer(const Napi::Value& v, const uint8_t* data, size_t bytes) {
  if (!data) return;
  for (const Buffer& b : buffers)
    if (b.data == data && b.bytes == bytes) return;
  buffers.push_back(Buffer{Napi::Persistent(v), data, bytes});
}

void Graph::add_keep(const Napi::Value& v) { keep.push_back(Napi::Persistent(v)); }

void Graph::record(const char* fn, std::function<Status()>&& op, std::function<void(Napi::Env)>&& settle) {
  ops.push_back(GraphOp{fn, label, std::move(op), std::move(settle)});
}

void Graph::fail(const std::string& why) {
  if (broken.empty()) broken = why;
}

// graphCreate() -> handle
static Napi::Value GraphCreate(const Napi::CallbackInfo& info) {
  Args a(info, "graphCreate");
  a.count(0);
  GraphBox* b = new GraphBox;
  b->g = new Graph;
  {
    std::lock_guard<std::mutex> lock(boxes_mu);
    boxes().insert(b);
  }
  return Napi::External<GraphBox>::New(a.env(), b, [](Napi::Env env, GraphBox* b) {
    {
      std::lock_guard<std::mutex> lock(boxes_mu);
      boxes().erase(b);
    }
    // a running graph's handle is referenced by its pending call, so it is not running here
    if (b->g) release(env, b->g);
    delete b;
  });
}

// graphCapture(graph, label, fn) -> fn's result; the kernel calls fn makes are recorded under `label`
static Napi::Value GraphCapture(const Napi::CallbackInfo& info) {
  Args a(info, "graphCapture");
  a.count(3);
  Graph* g = live_arg(a, info[0]);
  const std::string label = a.string(1, "label");
  if (!info[2].IsFunction()) a.type_error("fn", "a function", describe(info[2]));
  if (g->sealed) throw Napi::Error::New(a.env(), "graphCapture: the graph is sealed; record a new one");
  if (g_recording) throw Napi::Error::New(a.env(), "graphCapture: a capture is already running on this thread (captures do not nest)");
  int at = -1;
  for (size_t i = 0; i < g->labels.size(); i++)
    if (g->labels[i] == label) at = (int)i;
  if (at < 0) {
    at = (int)g->labels.size();
    g->labels.push_back(label);
  }
  struct Scope {
    Graph* g;
    Scope(Graph* g_, int l) : g(g_) { g_recording = g_; g_->label = l; }
    ~Scope() { g_recording = nullptr; g->label = -1; }
  } scope(g, at);
  try {
    return info[2].As<Napi::Function>().Call({});
  } catch (const Napi::Error& e) {
    g->fail("a captured call threw: " + std::string(e.Message()));
    throw;
  }
}

// graphSeal(graph) -> number of ops; throws when the recording is unusable
static Napi::Value GraphSeal(const Napi::CallbackInfo& info) {
  Args a(info, "graphSeal");
  a.count(1);
  Graph* g = live_arg(a, info[0]);
  if (g_recording == g) throw Napi::Error::New(a.env(), "graphSeal: called inside the graph's own capture");
  if (!g->broken.empty()) throw Napi::Error::New(a.env(), "graphSeal: the recording is unusable: " + g->broken);
  g->sealed = true;
  return Napi::Number::New(a.env(), (double)g->ops.size());
}

// graphLabels(graph) -> the label of each op, in order
static Napi::Value GraphLabels(const Napi::CallbackInfo& info) {
  Args a(info, "graphLabels");
  a.count(1);
  Graph* g = live_arg(a, info[0]);
  Napi::Array r = Napi::Array::New(a.env(), g->ops.size());
  for (size_t i = 0; i < g->ops.size(); i++) r.Set((uint32_t)i, g->labels[(size_t)g->ops[i].label]);
  return r;
}

static Napi::Value run_ops(Args& a, Graph* g, Buf t, bool async, GraphBox* box);

// graphRun(graph, timings: Float64Array(ops) | null): replays the ops in order (the async
// twin on the executor thread); `timings` gets each op's milliseconds
static Napi::Value GraphRun(const Napi::CallbackInfo& info) {
  Args a(info, "graphRun");
  a.count(2);
  if (a.recording() || g_recording) throw Napi::Error::New(a.env(), "graphRun: called inside a graph capture");
  Graph* g = live_arg(a, info[0]);
  if (!g->sealed) throw Napi::Error::New(a.env(), "graphRun: the graph is not sealed (call graphSeal after recording)");
  if (g->running > 0 && !a.async())
    throw Napi::Error::New(a.env(), "graphRun: the graph has a pending async replay; await it first");
  Buf t = a.opt_buffer(1, "timings", mul_bytes({(int64_t)g->ops.size(), 8}), 8);
  // every recorded buffer where it was, every held handle live
  for (const Graph::Buffer& b : g->buffers) {
    uint8_t* data = nullptr;
    size_t bytes = 0;
    bool detached = false;
    Napi::Value v = b.ref.Value();
    if (!buffer_extent(v, &data, &bytes, &detached) || detached || data != b.data || bytes != b.bytes)
      throw Napi::Error::New(a.env(), "graphRun: a buffer the graph recorded was detached or resized since; record the graph again");
  }
  for (const GraphHold& h : g->holds) {
    if (!h.check) continue;
    Status st = h.check();
    if (!st.ok()) throw_if(a.env(), st, a.fn());
  }
  if (a.async()) {
    a.keep(0);
    g->running++;
    for (GraphHold& h : g->holds)
      if (h.begin_async) h.begin_async();
  }
  const bool async = a.async();
  GraphBox* box = box_arg(a, info[0]);
  try {
    return run_ops(a, g, t, async, box);
  } catch (...) {
    // not queued (the environment is shutting down): undo the async pins
    if (async) {
      for (GraphHold& h : g->holds)
        if (h.end_async) h.end_async(a.env());
      g->running--;
    }
    throw;
  }
}

static Napi::Value run_ops(Args& a, Graph* g, Buf t, bool async, GraphBox* box) {
  return a.run(
      [g, t] {
        double* ms = t.as<double>();
        for (size_t i = 0; i < g->ops.size(); i++) {
          const GraphOp& o = g->ops[i];
          const auto t0 = std::chrono::steady_clock::now();
          Status st = o.op();
          if (ms) ms[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
          if (!st.ok()) {
            st.message = "op " + std::to_string(i) + " (" + o.fn + "): " + st.what();
            return st;
          }
        }
        return Status::Ok();
      },
      [g, box, async](Napi::Env env) {
        for (GraphOp& o : g->ops)
          if (o.settle) o.settle(env);
        if (!async) return;
        for (GraphHold& h : g->holds)
          if (h.end_async) h.end_async(env);
        if (--g->running == 0 && g->free_later) {
          box->g = nullptr;
          release(env, g);
        }
      });
}

// graphFree(graph): drops the recording's references and holds (after a pending replay settles)
static Napi::Value GraphFree(const Napi::CallbackInfo& info) {
  Args a(info, "graphFree");
  a.count(1);
  GraphBox* b = box_arg(a, info[0]);
  if (g_recording && g_recording == b->g) throw Napi::Error::New(a.env(), "graphFree: called inside the graph's own capture");
  if (!b->g || b->g->free_later) return a.env().Undefined();
  if (b->g->running > 0) {
    b->g->free_later = true;
  } else {
    release(a.env(), b->g);
    b->g = nullptr;
  }
  return a.env().Undefined();
}

FL_NAPI_REGISTER(init_graph) {
  exports.Set("graphCreate", Napi::Function::New(env, GraphCreate, "graphCreate"));
  exports.Set("graphCapture", Napi::Function::New(env, GraphCapture, "graphCapture"));
  exports.Set("graphSeal", Napi::Function::New(env, GraphSeal, "graphSeal"));
  exports.Set("graphLabels", Napi::Function::New(env, GraphLabels, "graphLabels"));
  export_fn(env, exports, "graphRun", GraphRun, true);
  exports.Set("graphFree", Napi::Function::New(env, GraphFree, "graphFree"));
}

}  // namespace napi
}  // namespace fuselm
