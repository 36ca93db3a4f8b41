// Recorded kernel sequences ("graphs", as in CUDA graph capture). A decode step is
// ~250 kernel calls of a few microseconds each; made one by one from JavaScript,
// each pays the wrapper's checks, the argument unwrapping and a fresh output
// tensor, about 10 us a call, which is 10-15% of a 1B-model token on 2 cores.
// A graph records those calls once, with every check done, as the closures that
// Args::run would have run (raw pointers into buffers it keeps referenced), and
// replays them in order in one native call, sync or on the executor thread.
//
// What changes between replays is the data in the recorded buffers (the caller
// writes the inputs, e.g. the token id and its position, into the buffers it
// recorded with) and the state of recorded handles (a KV cache grows). Every op
// re-checks its data invariants natively when it runs (ids in range, positions
// increasing): the JavaScript wrappers' checks ran at record time only. Before
// each replay the graph checks that every recorded buffer is still attached at
// the address it had, and that every handle it holds is still live.
//
// Recording: graphCapture(g, label, fn) calls fn with the graph as this thread's
// recorder; each kernel export (a function registered by export_fn) that runs
// inside also records its op. Capture is synchronous, so nothing else in the
// program can slip a call into a graph. An async export, or a recorded op that
// fails, breaks the graph: graphSeal then throws saying why.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fuselm/status.h"

namespace fuselm {
namespace napi {

// A handle a graph holds (a KV cache): checked before each replay, held for an
// async replay's duration (so synchronous calls on it refuse to race), released
// when the graph is freed.
struct GraphHold {
  std::function<Status()> check;
  std::function<void()> begin_async;
  std::function<void(Napi::Env)> end_async;
  std::function<void(Napi::Env)> release;
};

struct GraphOp {
  const char* fn;                          // the export's name, for errors
  int label;                               // index into Graph::labels
  std::function<Status()> op;
  std::function<void(Napi::Env)> settle;   // JavaScript thread, after each replay
};

struct Graph {
  std::vector<GraphOp> ops;
  std::vector<std::string> labels;
  int label = -1;                                // the capture in progress
  struct Buffer {
    Napi::Reference<Napi::Value> ref;
    const uint8_t* data;
    size_t bytes;
  };
  std::vector<Buffer> buffers;                   // distinct (address, length) pairs
  std::vector<Napi::Reference<Napi::Value>> keep;
  std::vector<GraphHold> holds;
  std::string broken;                            // why the recording is unusable (empty: it is not)
  bool sealed = false;
  int running = 0;                               // async replays not yet settled
  bool free_later = false;                       // freed while running: the last replay frees it

  void add_buffer(const Napi::Value& v, const uint8_t* data, size_t bytes);
  void add_keep(const Napi::Value& v);
  void record(const char* fn, std::function<Status()>&& op, std::function<void(Napi::Env)>&& settle);
  void fail(const std::string& why);
};

// The graph recording on this thread (a capture in progress), or null.
Graph* recording_graph();

}  // namespace napi
}  // namespace fuselm
