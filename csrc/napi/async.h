// Native async calls: a kernel's `<name>Async` export checks its arguments on
// the JavaScript thread exactly as the synchronous export does, then runs the
// op on the addon's executor thread and returns a Promise. The event loop runs
// while the kernel does (a model's forward pass awaits its heavy kernels, so
// timers and I/O keep going during a long prefill).
//
// One executor thread per process, first in first out: async calls run in the
// order they were made, like a CUDA stream, so a caller may issue dependent
// calls without awaiting each. The executor is the thread pool's caller, so a
// kernel still uses every pool thread. The buffers of a pending call are held
// by references until it settles; they must not be transferred or resized
// meanwhile (the contract of Node's own async I/O into a buffer).
#pragma once
#include <napi.h>

#include <functional>
#include <vector>

#include "fuselm/status.h"

namespace fuselm {
namespace napi {

struct AsyncCall {
  const char* fn = "";
  // runs on the executor thread; its Status rejects the promise as the sync call would throw
  std::function<Status()> op;
  // JavaScript thread, after the op: cleanup that must run whatever the outcome
  std::function<void(Napi::Env)> settle;
  // JavaScript thread, after a successful op: the resolved value (undefined when empty)
  std::function<Napi::Value(Napi::Env)> result;
  // keeps the arguments' objects alive until the call settles
  std::vector<Napi::Reference<Napi::Value>> keep;
};

// Queues the call; returns its Promise. Call on the JavaScript thread.
Napi::Value queue_async(Napi::Env env, AsyncCall&& call);

// Per-environment set-up (the completion channel); called once from the addon's Init.
void init_async(Napi::Env env, Napi::Object exports);

}  // namespace napi
}  // namespace fuselm
