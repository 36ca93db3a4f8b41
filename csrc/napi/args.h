// Argument unwrapping for the addon. Every value from JavaScript goes through
// these checks before any pointer is formed: kinds, detached buffers, integer
// ranges and byte extents. Never an unchecked info[i].As<T>().
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "fuselm/status.h"

namespace fuselm {
namespace napi {

// Throws the JS error for a Status (see errors.cpp). Returns only when ok.
void throw_if(const Napi::Env& env, const Status& st, const char* fn);

std::string describe(const Napi::Value& v);  // "a string", "undefined", "Float32Array(12)", ...

struct Buf {
  uint8_t* data = nullptr;
  size_t bytes = 0;
  template <class T> T* as() const { return reinterpret_cast<T*>(data); }
};

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn) : info_(info), env_(info.Env()), fn_(fn) {}
  Napi::Env env() const { return env_; }
  const char* fn() const { return fn_; }

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
};

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
