// A minimal native test harness: TEST(name) registers a case, CHECK records a
// failure with its location, and main() runs every case on every ISA level.
#pragma once
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "fuselm/ops.h"

namespace fltest {

struct Case {
  const char* name;
  void (*fn)();
};
std::vector<Case>& cases();
extern int failures;
extern const char* current;
struct Reg {
  Reg(const char* n, void (*f)()) { cases().push_back({n, f}); }
};

#define TEST(name)                                  \
  static void test_##name();                        \
  static ::fltest::Reg reg_##name(#name, test_##name); \
  static void test_##name()

#define CHECK(cond)                                                                                  \
  do {                                                                                               \
    if (!(cond)) {                                                                                   \
      ::fltest::failures++;                                                                          \
      std::fprintf(stderr, "FAIL %s [isa=%s] %s:%d: %s\n", ::fltest::current,                        \
                   ::fuselm::isa_name(::fuselm::active_isa()), __FILE__, __LINE__, #cond);            \
    }                                                                                                \
  } while (0)

#define CHECK_LE(a, b)                                                                               \
  do {                                                                                               \
    double _a = (a), _b = (b);                                                                       \
    if (!(_a <= _b)) {                                                                               \
      ::fltest::failures++;                                                                          \
      std::fprintf(stderr, "FAIL %s [isa=%s] %s:%d: %s = %g > %s = %g\n", ::fltest::current,         \
                   ::fuselm::isa_name(::fuselm::active_isa()), __FILE__, __LINE__, #a, _a, #b, _b);   \
    }                                                                                                \
  } while (0)

// run fn once per ISA level this CPU supports
void for_each_isa(const std::function<void(int)>& fn);

// seeded xorshift data
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
  float uniform() { return (float)((next() >> 11) * (1.0 / 9007199254740992.0)); }
  float normal() {
    double u1 = (next() >> 11) * (1.0 / 9007199254740992.0) + 1e-300, u2 = (next() >> 11) * (1.0 / 9007199254740992.0);
    return (float)(std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
};

}  // namespace fltest
