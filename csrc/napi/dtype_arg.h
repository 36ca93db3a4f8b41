// Dtypes cross the boundary one way only: as the table's integer id (DType, the GGML type id where
// GGML has the type; lib/dtype.ts DTYPES[name].id), never as a name.
#pragma once
#include <cmath>
#include <initializer_list>
#include <string>

#include "fuselm/blocks.h"
#include "napi/args.h"

namespace fuselm {
namespace napi {

// The dtype of id v (argument `name`), one of `allowed` (any dtype of the table when empty); anything
// else is a TypeError naming the allowed dtypes by name.
static inline DType dtype_of(const Args& a, const Napi::Value& v, const std::string& name,
                             std::initializer_list<DType> allowed = {}) {
  std::string list;
  bool first = true;
  for (const DTypeTraits& t : kDTypeTraits) {
    bool ok = allowed.size() == 0;
    for (DType d : allowed) ok = ok || d == t.id;
    if (!ok) continue;
    list += (first ? "" : ", ") + std::string(t.name) + "=" + std::to_string((int)t.id);
    first = false;
  }
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && d <= 1 << 20 && d == std::floor(d)) {
      const DTypeTraits* t = dtype_traits((int32_t)d);
      bool ok = t && allowed.size() == 0;
      for (DType x : allowed) ok = ok || (t && x == t->id);
      if (ok) return t->id;
    }
  }
  a.type_error(name, "a dtype id (one of " + list + ")", describe(v));
}

// The dtype id in argument i.
static inline DType dtype_arg(const Args& a, size_t i, const char* name, std::initializer_list<DType> allowed = {}) {
  return dtype_of(a, a.at(i), name, allowed);
}

// elements of a strided [rows, f] view: (rows-1)*stride + f, or UINT64_MAX on overflow
static inline int64_t span_elems(int64_t rows, int64_t stride, int64_t f) {
  if (rows <= 0 || f <= 0) return 0;
  const uint64_t m = mul_bytes({rows - 1, stride});
  if (m == UINT64_MAX || m > (uint64_t)INT64_MAX - (uint64_t)f) return -1;
  return (int64_t)m + f;
}

// the largest element count an argument may give (2^53 - 1: every such count is an exact JS number)
constexpr int64_t kMaxElems = 9007199254740991LL;

}  // namespace napi
}  // namespace fuselm
