// The machine's roofline: DRAM read / write / copy bandwidth and the FP32 FMA,
// int8 dot (VNNI) and BF16 dot peaks, each on 1..N threads of the pool. The
// bench reports every kernel as a fraction of these figures.
//
// Per-ISA loops live in csrc/cpu/{ref,avx2,avx512}/roofline.cpp (one thread
// each, no timing); csrc/core/roofline.cpp allocates, splits, times and takes
// medians. The best level the CPU supports measures (not FUSELM_ISA): the
// roofline is the machine's, whichever path a kernel was forced onto.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fuselm/status.h"

namespace fuselm {

// One ISA's loops. A null entry means the level cannot measure that figure
// (no BF16 dot before AVX-512 BF16).
struct RooflineLoops {
  const char* isa;
  // sums [p, p + bytes) with vector loads; the result keeps the loads alive
  uint64_t (*read)(const void* p, size_t bytes);
  // fills [p, p + bytes) with non-temporal (streaming) stores
  void (*write)(void* p, size_t bytes, uint64_t value);
  // loads [src, src + bytes) and streams it to dst
  void (*copy)(void* dst, const void* src, size_t bytes);
  // `iters` iterations of independent register-resident chains; the result keeps them alive
  double (*fma)(int64_t iters);
  double (*int8)(int64_t iters);
  double (*bf16)(int64_t iters);
  // operations one iteration performs (a multiply-add counts 2), and the instruction used
  double fma_ops, int8_ops, bf16_ops;
  const char *fma_instr, *int8_instr, *bf16_instr;
};

namespace ref { void fill_roofline(RooflineLoops& t); }
namespace avx2 { void fill_roofline(RooflineLoops& t); }
namespace avx512 { void fill_roofline(RooflineLoops& t); }

enum class RoofKind : int { Read = 0, Write = 1, Copy = 2, Fma = 3, Int8 = 4, Bf16 = 5, Count = 6 };
const char* roof_kind_name(RoofKind k);                // "read", "write", ...
bool roof_kind_parse(const char* s, RoofKind* out);

struct RoofFigure {
  double median = 0;  // GB/s for read/write/copy (bytes moved: copy counts read + write), else GOP/s
  double best = 0;
  int threads = 0;    // threads that ran
  int reps = 0;
  const char* isa = "none";    // the level whose loop measured it; "none" when the CPU lacks it
  const char* instr = "";      // compute kinds: the instruction, e.g. "vfmadd231ps zmm"
};

// Measures one figure on `threads` threads of the pool (clamped to the pool's
// size). Memory kinds stream a buffer of `buffer_bytes` (each thread its own
// slice; copy uses two such buffers); compute kinds run ~`target_ms` per rep.
// `reps` timed runs after one warm-up; median and best are reported.
Status roofline_measure(RoofKind kind, int threads, int64_t buffer_bytes, int reps, double target_ms, RoofFigure* out);

// Wall-clock seconds (steady clock) and the median of a small array (sorted in place).
double now_seconds();
double median_of(double* v, int n);

}  // namespace fuselm
