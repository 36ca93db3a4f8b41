// The only place that turns a Status or a bad argument into a JavaScript error.
#include <cstdio>

#include "napi/args.h"

namespace fuselm {
namespace napi {

static std::string prefix(const char* fn) { return std::string(fn) + ": "; }

Napi::Error make_error(const Napi::Env& env, const Status& st, const char* fn) {
  const std::string msg = prefix(fn) + st.what();
  switch (st.code) {
    case Code::Type: return Napi::TypeError::New(env, msg);
    case Code::Range: return Napi::RangeError::New(env, msg);
    default: return Napi::Error::New(env, msg);
  }
}

void throw_if(const Napi::Env& env, const Status& st, const char* fn) {
  if (st.ok()) return;
  throw make_error(env, st, fn);
}

const int kAsyncTag = 0;
const int kSyncTag = 0;

void export_fn(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback cb, bool with_async) {
  exports.Set(name, Napi::Function::New(env, cb, name, const_cast<int*>(&kSyncTag)));
  if (with_async) {
    const std::string an = std::string(name) + "Async";
    exports.Set(an, Napi::Function::New(env, cb, an, const_cast<int*>(&kAsyncTag)));
  }
}

void Args::type_error(const std::string& arg, const std::string& expected, const std::string& got) const {
  throw Napi::TypeError::New(env_, prefix(fn_) + "Expected " + expected + " for " + arg + " but received " + got);
}
void Args::range_error(const std::string& arg, const std::string& expected, const std::string& got) const {
  throw Napi::RangeError::New(env_, prefix(fn_) + "Expected " + expected + " for " + arg + " but received " + got);
}

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    return buf;
  }
  if (v.IsString()) return "a string";
  if (v.IsTypedArray()) return "a TypedArray of " + std::to_string(v.As<Napi::TypedArray>().ByteLength()) + " bytes";
  if (v.IsArrayBuffer()) return "an ArrayBuffer of " + std::to_string(v.As<Napi::ArrayBuffer>().ByteLength()) + " bytes";
  if (v.IsDataView()) return "a DataView";
  if (v.IsArray()) return "an Array";
  if (v.IsFunction()) return "a function";
  if (v.IsBigInt()) return "a bigint";
  if (v.IsSymbol()) return "a symbol";
  return "an object";
}

bool buffer_extent(const Napi::Value& v, uint8_t** data, size_t* bytes, bool* detached) {
  *detached = false;
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    Napi::ArrayBuffer ab = ta.ArrayBuffer();
    if (ab.IsDetached()) { *detached = true; return true; }
    *data = static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset();
    *bytes = ta.ByteLength();
    return true;
  }
  if (v.IsDataView()) {
    Napi::DataView dv = v.As<Napi::DataView>();
    Napi::ArrayBuffer ab = dv.ArrayBuffer();
    if (ab.IsDetached()) { *detached = true; return true; }
    *data = static_cast<uint8_t*>(ab.Data()) + dv.ByteOffset();
    *bytes = dv.ByteLength();
    return true;
  }
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
    if (ab.IsDetached()) { *detached = true; return true; }
    *data = static_cast<uint8_t*>(ab.Data());
    *bytes = ab.ByteLength();
    return true;
  }
  return false;
}

Buf Args::buffer(size_t i, const char* name, uint64_t min_bytes, size_t align) const {
  Napi::Value v = info_[i];
  Buf b;
  bool detached;
  if (!buffer_extent(v, &b.data, &b.bytes, &detached)) type_error(name, "a TypedArray or ArrayBuffer", describe(v));
  if (detached) type_error(name, "a TypedArray or ArrayBuffer", "a detached buffer");
  if (min_bytes == UINT64_MAX) range_error(name, "a size that fits in memory", "dimensions whose product overflows");
  if (b.bytes < min_bytes)
    range_error(name, "a buffer of at least " + std::to_string(min_bytes) + " bytes", std::to_string(b.bytes) + " bytes");
  if (align > 1 && (reinterpret_cast<uintptr_t>(b.data) % align) != 0)
    range_error(name, "a buffer aligned to " + std::to_string(align) + " bytes", "a misaligned view");
  if (b.bytes == 0) b.data = nullptr;
  if (async_) keep_.push_back(Napi::Persistent(v));
  if (rec_) rec_->add_buffer(v, b.data, b.bytes);
  return b;
}

Buf Args::opt_buffer(size_t i, const char* name, uint64_t min_bytes, size_t align) const {
  Napi::Value v = info_[i];
  if (v.IsUndefined() || v.IsNull()) return Buf{};
  return buffer(i, name, min_bytes, align);
}

int64_t Args::integer(size_t i, const char* name, int64_t lo, int64_t hi) const {
  Napi::Value v = info_[i];
  std::string range = "integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!v.IsNumber()) type_error(name, range, describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < (double)lo || d > (double)hi) range_error(name, range, describe(v));
  return (int64_t)d;
}

double Args::number(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsNumber()) type_error(name, "a finite number", describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) range_error(name, "a finite number", describe(v));
  return d;
}

bool Args::boolean(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsBoolean()) type_error(name, "a boolean", describe(v));
  return v.As<Napi::Boolean>().Value();
}

std::string Args::string(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsString()) type_error(name, "a string", describe(v));
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int64_t> Args::int_array(size_t i, const char* name, size_t max_len, int64_t lo, int64_t hi) const {
  Napi::Value v = info_[i];
  if (!v.IsArray()) type_error(name, "an Array of integers", describe(v));
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > max_len) range_error(name, "at most " + std::to_string(max_len) + " entries", std::to_string(a.Length()));
  std::vector<int64_t> out(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value e = a.Get(k);
    std::string what = std::string(name) + "[" + std::to_string(k) + "]";
    std::string range = "integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    if (!e.IsNumber()) type_error(what, range, describe(e));
    double d = e.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d) || d < (double)lo || d > (double)hi) range_error(what, range, describe(e));
    out[k] = (int64_t)d;
  }
  return out;
}

}  // namespace napi
}  // namespace fuselm
