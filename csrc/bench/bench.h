// Native microbenchmarks: the roofline without Node, then each registered case
// (e.g. csrc/bench/bench_norm.cpp) as GB/s or GFLOP/s and a fraction of it.
// A family registers with FL_BENCH(name) { cases.push_back({...}); }.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace flbench {

struct Case {
  std::string name;   // e.g. "rmsnorm(f32,4096x4096)"
  std::string bound;  // "dram", "fma", "int8" or "bf16"
  double bytes;       // bytes one run moves
  double flops;       // operations one run performs
  std::function<void()> run;  // one kernel call; owns its buffers (capture shared_ptrs)
};

typedef void (*Family)(std::vector<Case>& cases);
std::vector<Family>& families();
struct Reg {
  explicit Reg(Family f) { families().push_back(f); }
};

#define FL_BENCH(name)                                      \
  static void bench_##name(std::vector<::flbench::Case>&);  \
  static ::flbench::Reg bench_reg_##name(bench_##name);     \
  static void bench_##name(std::vector<::flbench::Case>& cases)

}  // namespace flbench
