// A dtype argument given by name ('f32', 'q4_0', ...), checked against a list.
#pragma once
#include <initializer_list>
#include <string>

#include "fuselm/blocks.h"
#include "napi/args.h"

namespace fuselm {
namespace napi {

// The dtype named by argument i; throws a TypeError naming the allowed list (or every
// dtype when `allowed` is empty) for anything else.
static inline DType dtype_arg(const Args& a, size_t i, const char* name, std::initializer_list<DType> allowed) {
  const std::string s = a.string(i, name);
  std::string list;
  bool first = true;
  for (const DTypeTraits& t : kDTypeTraits) {
    bool ok = allowed.size() == 0;
    for (DType d : allowed) ok = ok || d == t.id;
    if (!ok) continue;
    if (s == t.name) return t.id;
    list += (first ? "" : ", ") + std::string("'") + t.name + "'";
    first = false;
  }
  a.type_error(name, "one of " + list, "'" + s + "'");
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
