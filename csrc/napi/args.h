// Argument unwrapping for the addon. Every value from JavaScript goes through
// these checks before any pointer is formed: kinds, detached buffers, integer
// ranges and byte extents. Never an unchecked info[i].As<T>().
#pragma once
#include <napi.h>

#include <cmath>
#include <functional>
#include <cstdint>
#include <string>
#include <vector>

#include "fuselm/status.h"
#include "napi/async.h"
#include "napi/graph.h"

namespace fuselm {
namespace napi {

// Throws the JS error for a Status (see errors.cpp). Returns only when ok.
void throw_if(const Napi::Env& env, const Status& st, const char* fn);
// The JS error for a failed Status (TypeError, RangeError or Error), without throwing it.
Napi::Error make_error(const Napi::Env& env, const Status& st, const char* fn);

// The `data` of an export registered as `<name>Async`, and of its synchronous twin (see export_fn).
extern const int kAsyncTag;
extern const int kSyncTag;

std::string describe(const Napi::Value& v);  // "a string", "undefined", "Float32Array(12)", ...
// The bytes of a TypedArray, DataView or ArrayBuffer (false: none of those; *detached: a detached one).
bool buffer_extent(const Napi::Value& v, uint8_t** data, size_t* bytes, bool* detached);

struct Buf {
  uint8_t* data = nullptr;
  size_t bytes = 0;
  template <class T> T* as() const { return reinterpret_cast<T*>(data); }
};

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn)
      : info_(info), env_(info.Env()), fn_(fn), async_(info.Data() == &kAsyncTag),
        rec_(info.Data() == &kSyncTag ? recording_graph() : nullptr) {
    if (async_ && recording_graph()) recording_graph()->fail(std::string(fn) + " is an async call: a graph records synchronous kernel calls only");
  }
  Napi::Env env() const { return env_; }
  const char* fn() const { return fn_; }
  Napi::Value at(size_t i) const { return info_[i]; }  // argument i, unchecked (undefined past the end)
  // true in the `<name>Async` export: run() queues the op and returns a Promise
  bool async() const { return async_; }
  // the graph this call records into (a kernel export inside graphCapture), or null
  Graph* recording() const { return rec_; }

  // Runs the checked op: now, throwing its Status (sync export), or on the executor
  // thread, returning a Promise (async export; every buffer unwrapped by this Args, and
  // what keep() named, stays referenced until it settles). `op` must capture by value.
  // `settle` runs on the JavaScript thread after the op whatever its outcome; `result`
  // makes the return (resolved) value after a successful op (undefined when empty).
  // Inside a graph capture the op runs now and is also recorded (with its settle) for replay.
  template <class Op>
  Napi::Value run(Op&& op, std::function<void(Napi::Env)> settle = {},
                  std::function<Napi::Value(Napi::Env)> result = {}) {
    if (rec_) {
      std::function<Status()> f = std::forward<Op>(op);
      Status st = f();
      if (settle) settle(env_);
      if (st.ok()) rec_->record(fn_, std::move(f), std::move(settle));
      else rec_->fail(std::string(fn_) + " failed while recording: " + st.what());
      throw_if(env_, st, fn_);
      return result ? result(env_) : env_.Undefined();
    }
    if (!async_) {
      Status st = op();
      if (settle) settle(env_);
      throw_if(env_, st, fn_);
      return result ? result(env_) : env_.Undefined();
    }
    AsyncCall c;
    c.fn = fn_;
    c.op = std::forward<Op>(op);
    c.settle = std::move(settle);
    c.result = std::move(result);
    c.keep = std::move(keep_);
    return queue_async(env_, std::move(c));
  }
  // async export: holds argument i (an object the op uses, e.g. a handle) until the call settles
  void keep(size_t i) const { keep_value(info_[i]); }
  void keep_value(const Napi::Value& v) const {
    if (async_ && v.IsObject()) keep_.push_back(Napi::Persistent(v));
    if (rec_ && v.IsObject()) rec_->add_keep(v);
  }

  // exact argument count
  void count(size_t n) const {
    if (info_.Length() != n)
      type_error("arguments", std::to_string(n) + " arguments", std::to_string(info_.Length()));
  }
  // A TypedArray, DataView or ArrayBuffer; `min_bytes` must fit; `align` is the
  // element alignment the kernel reads with (1 for bytes).
  Buf buffer(size_t i, const char* name, uint64_t min_bytes, size_t align = 1) const;
  // Optional buffer: null/undefined gives an empty Buf.
  Buf opt_buffer(size_t i, const char* name, uint64_t min_bytes, size_t align = 1) const;
  int64_t integer(size_t i, const char* name, int64_t lo, int64_t hi) const;
  double number(size_t i, const char* name) const;  // finite
  bool boolean(size_t i, const char* name) const;
  std::string string(size_t i, const char* name) const;
  std::vector<int64_t> int_array(size_t i, const char* name, size_t max_len, int64_t lo, int64_t hi) const;

  [[noreturn]] void type_error(const std::string& arg, const std::string& expected, const std::string& got) const;
  [[noreturn]] void range_error(const std::string& arg, const std::string& expected, const std::string& got) const;

 private:
  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  const char* fn_;
  bool async_;
  Graph* rec_;
  mutable std::vector<Napi::Reference<Napi::Value>> keep_;
};

// Exports `name`, and with `with_async` also `<name>Async` (the same function, whose
// Args::run queues the op: see async.h).
void export_fn(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback cb, bool with_async);

// a*b*c... in bytes, or UINT64_MAX on overflow (callers compare against a buffer's length)
static inline uint64_t mul_bytes(std::initializer_list<int64_t> dims) {
  uint64_t r = 1;
  for (int64_t d : dims) {
    if (d < 0) return UINT64_MAX;
    if (d != 0 && r > UINT64_MAX / (uint64_t)d) return UINT64_MAX;
    r *= (uint64_t)d;
  }
  return r;
}

// One registry: each csrc/napi/<family>.cpp registers its exports at load.
typedef void (*InitFn)(Napi::Env env, Napi::Object exports);
struct Register {
  Register(InitFn fn);
};
#define FL_NAPI_REGISTER(name) \
  static void name(Napi::Env env, Napi::Object exports); \
  static ::fuselm::napi::Register name##_registered(name); \
  static void name(Napi::Env env, Napi::Object exports)

}  // namespace napi
}  // namespace fuselm
