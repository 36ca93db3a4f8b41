// CPU features, the active ISA level, and the persistent thread pool.
#pragma once
#include <atomic>
#include <cstdint>

namespace fuselm {

enum Isa : int { ISA_REF = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_COUNT = 3 };

struct CpuFeatures {
  bool avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16, avx512vbmi, avxvnni;
};

const CpuFeatures& cpu_features();
const char* isa_name(int isa);
// The best level this CPU supports (AVX-512 needs F/BW/VL/DQ/VNNI/BF16/VBMI; AVX2 needs FMA and F16C).
int isa_supported();
// The level kernels dispatch to now: FUSELM_ISA at load, or set_isa().
int active_isa();
// Returns false (and changes nothing) when the CPU lacks the level.
bool set_isa(int isa);

// ---- thread pool ---------------------------------------------------------
// One persistent pool. run() wakes the workers (spin, then sleep), runs
// fn(ctx, ith, nth) on nth threads including the caller, and returns when all
// are done. Calls are serialised; a kernel never creates threads.
typedef void (*TaskFn)(void* ctx, int ith, int nth);
int n_threads();
void set_threads(int n);
int physical_cores();
void parallel_run(TaskFn fn, void* ctx, int nth);

// parallel_for over [0, n) in chunks, at most n_threads() ways and with at
// least `grain` items per thread. F is called as f(begin, end, ith).
template <class F>
inline void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  int nth = n_threads();
  if (grain < 1) grain = 1;
  int64_t max_by_grain = (n + grain - 1) / grain;
  if (max_by_grain < nth) nth = (int)max_by_grain;
  if (nth <= 1) { f((int64_t)0, n, 0); return; }
  struct Ctx { F* f; int64_t n; } c{&f, n};
  parallel_run(
      [](void* p, int ith, int nth) {
        Ctx* c = (Ctx*)p;
        int64_t per = (c->n + nth - 1) / nth;
        int64_t b = per * ith, e = b + per < c->n ? b + per : c->n;
        if (b < e) (*c->f)(b, e, ith);
      },
      &c, nth);
}

// Work items [0, n) for a pool run, split into one contiguous lane per share: share s
// takes its lane's items in order, then takes from the other lanes (each from where it
// stands), so each thread streams one contiguous range of memory, and a thread that
// starts late (a loaded machine) finds its lane taken over instead of holding the
// others back. On this machine's DRAM two threads streaming one contiguous half each
// read 33.5 GB/s, two taking interleaved 72 KiB chunks from one counter 32 GB/s.
class ChunkLanes {
 public:
  static constexpr int kMax = 64;
  void init(int64_t n, int lanes) {
    if (lanes < 1) lanes = 1;
    if (lanes > kMax) lanes = kMax;
    if (lanes > n) lanes = n < 1 ? 1 : (int)n;
    lanes_ = lanes;
    for (int l = 0; l < lanes; l++) {
      lane_[l].next.store(n * l / lanes, std::memory_order_relaxed);
      lane_[l].end = n * (l + 1) / lanes;
    }
  }
  // The next item for share `ith` (its lane first), or -1 when none is left.
  int64_t claim(int ith) {
    for (int k = 0; k < lanes_; k++) {
      Lane& L = lane_[(ith + k) % lanes_];
      if (L.next.load(std::memory_order_relaxed) >= L.end) continue;
      const int64_t i = L.next.fetch_add(1, std::memory_order_relaxed);
      if (i < L.end) return i;
    }
    return -1;
  }

 private:
  struct alignas(64) Lane {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };
  Lane lane_[kMax];
  int lanes_ = 1;
};

// ---- dispatch ------------------------------------------------------------
// A kernel slot: the function and the ISA whose implementation filled it.
template <class Fn>
struct Kernel {
  Fn fn = nullptr;
  const char* isa = "none";
};
#define FL_IMPL(table, name, ns) \
  do {                           \
    (table).name.fn = &ns::name; \
    (table).name.isa = #ns;      \
  } while (0)

// A family's tables, one per ISA level, each filled cumulatively once at load:
// ref, then AVX2 overwrites what it implements, then AVX-512.
typedef void (*ReportFn)(const void* table, void (*emit)(const char* kernel, const char* isa, void* u), void* u);
void register_family(const char* family, const void* tables[ISA_COUNT], ReportFn report);
void report_kernels(void (*emit)(const char* family, const char* kernel, const char* isa, void* u), void* u);

template <class Table>
struct Dispatch {
  Table t[ISA_COUNT];
  Dispatch(const char* family, void (*ref)(Table&), void (*avx2)(Table&), void (*avx512)(Table&),
           ReportFn report) {
    ref(t[ISA_REF]);
    t[ISA_AVX2] = t[ISA_REF];
    if (avx2) avx2(t[ISA_AVX2]);
    t[ISA_AVX512] = t[ISA_AVX2];
    if (avx512) avx512(t[ISA_AVX512]);
    const void* ptrs[ISA_COUNT] = {&t[0], &t[1], &t[2]};
    register_family(family, ptrs, report);
  }
  const Table& operator()() const { return t[active_isa()]; }
};

}  // namespace fuselm
