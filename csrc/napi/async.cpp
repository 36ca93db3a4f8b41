// The executor behind the `<name>Async` exports (see async.h): one thread, a
// FIFO of calls, and per JavaScript environment a thread-safe function that
// brings each finished call back to its thread to settle its promise.
#include "napi/async.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_set>

#include "napi/args.h"

namespace fuselm {
namespace napi {

namespace {

struct EnvState;

struct Job {
  AsyncCall call;
  Status st;
  EnvState* state;
  Napi::Promise::Deferred deferred;
  Job(Napi::Env env, AsyncCall&& c, EnvState* s) : call(std::move(c)), state(s), deferred(Napi::Promise::Deferred::New(env)) {}
};

void deliver(Napi::Env env, Napi::Function, EnvState* s, Job* job);
using Channel = Napi::TypedThreadSafeFunction<EnvState, Job, deliver>;

struct EnvState {
  Channel channel;
  int undelivered = 0;                // JavaScript thread: the channel keeps the loop alive while > 0
  bool closing = false;               // JavaScript thread: set by the environment's cleanup hook
  std::unordered_set<Job*> live;      // JavaScript thread: every job not yet delivered
  int on_executor = 0;                // guarded by the executor's mutex: queued or running
};

struct Executor {
  std::mutex mu;
  std::condition_variable wake, finished;
  std::deque<Job*> q;
  bool started = false;

  void push(Job* j) {
    std::lock_guard<std::mutex> lock(mu);
    j->state->on_executor++;
    q.push_back(j);
    if (!started) {
      started = true;
      std::thread([this] { loop(); }).detach();  // lives as long as the process: calls may come from any environment
    }
    wake.notify_one();
  }

  void loop() {
    for (;;) {
      Job* j;
      {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait(lock, [this] { return !q.empty(); });
        j = q.front();
        q.pop_front();
      }
      try {
        j->st = j->call.op();
      } catch (const std::bad_alloc&) {
        j->st = Status::internal("out of memory");
      } catch (...) {
        j->st = Status::internal("unexpected native exception");
      }
      EnvState* s = j->state;
      // fails only when the environment is closing: its cleanup hook then frees the job
      s->channel.NonBlockingCall(j);
      {
        std::lock_guard<std::mutex> lock(mu);
        s->on_executor--;
      }
      finished.notify_all();
    }
  }

  // blocks until no call of `s` is queued or running
  void drain(EnvState* s) {
    std::unique_lock<std::mutex> lock(mu);
    finished.wait(lock, [s] { return s->on_executor == 0; });
  }
};

Executor& executor() {
  static Executor* e = new Executor();  // leaked on purpose: its thread outlives static destructors
  return *e;
}

void deliver(Napi::Env env, Napi::Function, EnvState* s, Job* job) {
  if (env == nullptr || s == nullptr || s->closing) return;  // the cleanup hook owns (and freed) the job
  s->live.erase(job);
  Napi::HandleScope scope(env);
  try {
    if (job->call.settle) job->call.settle(env);
    if (job->st.ok()) {
      job->deferred.Resolve(job->call.result ? job->call.result(env) : env.Undefined());
    } else {
      job->deferred.Reject(make_error(env, job->st, job->call.fn).Value());
    }
  } catch (const Napi::Error& e) {
    job->deferred.Reject(e.Value());
  }
  delete job;
  if (--s->undelivered == 0) s->channel.Unref(env);
}

void keep_state(Napi::Env, EnvState*) {}  // the channel's finalizer owns the state

}  // namespace

Napi::Value queue_async(Napi::Env env, AsyncCall&& call) {
  EnvState* s = env.GetInstanceData<EnvState>();
  if (!s || s->closing) throw Napi::Error::New(env, std::string(call.fn) + ": the environment is shutting down");
  Job* job = new Job(env, std::move(call), s);
  Napi::Promise p = job->deferred.Promise();
  s->live.insert(job);
  if (s->undelivered++ == 0) s->channel.Ref(env);
  executor().push(job);
  return p;
}

void init_async(Napi::Env env, Napi::Object) {
  EnvState* s = new EnvState();
  s->channel = Channel::New(env, "fuselm.async", 0, 1, s, [](Napi::Env, void*, EnvState* st) { delete st; }, (void*)nullptr);
  s->channel.Unref(env);  // an idle addon does not keep the process alive
  env.SetInstanceData<EnvState, keep_state>(s);
  env.AddCleanupHook([s] {
    // a worker thread or the process is ending: let its running kernels finish (they
    // read its buffers), then drop what was never delivered
    executor().drain(s);
    s->closing = true;
    for (Job* j : s->live) delete j;
    s->live.clear();
    s->channel.Abort();
  });
}

}  // namespace napi
}  // namespace fuselm
