// The roofline driver: allocates and first-touches the buffers, splits them
// over the pool, times `reps` runs after a warm-up and keeps median and best.
// The loops themselves are per ISA (csrc/cpu/*/roofline.cpp).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuselm/cpu.h"
#include "fuselm/roofline.h"

namespace fuselm {

static const char* const kKindNames[] = {"read", "write", "copy", "fma", "int8", "bf16"};

const char* roof_kind_name(RoofKind k) {
  int i = (int)k;
  return i >= 0 && i < (int)RoofKind::Count ? kKindNames[i] : "unknown";
}

bool roof_kind_parse(const char* s, RoofKind* out) {
  for (int i = 0; i < (int)RoofKind::Count; i++)
    if (std::strcmp(s, kKindNames[i]) == 0) {
      *out = (RoofKind)i;
      return true;
    }
  return false;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median_of(double* v, int n) {
  if (n <= 0) return 0;
  std::sort(v, v + n);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The best level's loops: the roofline is the machine's, not the forced path's.
static const RooflineLoops& best_loops() {
  static const RooflineLoops* t = [] {
    static RooflineLoops l[ISA_COUNT];
    ref::fill_roofline(l[ISA_REF]);
    avx2::fill_roofline(l[ISA_AVX2]);
    avx512::fill_roofline(l[ISA_AVX512]);
    return l;
  }();
  return t[isa_supported()];
}

namespace {

struct Buffer {
  void* p = nullptr;
  ~Buffer() { std::free(p); }
  bool alloc(size_t bytes) {
    const size_t align = size_t(2) << 20;  // lets transparent huge pages back it
    p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
    return p != nullptr;
  }
};

struct alignas(64) Sink {
  double v;
};

struct Job {
  const RooflineLoops* loops;
  RoofKind kind;
  uint8_t* a;      // read / write target, copy source
  uint8_t* b;      // copy destination
  size_t slice;    // bytes per thread
  int64_t iters;   // compute kinds: iterations per thread
  bool touch;      // first touch instead of the measured loop
  Sink sink[1024];
};

void run_share(void* p, int ith, int) {
  Job& j = *(Job*)p;
  const size_t off = j.slice * (size_t)ith;
  if (j.touch) {
    std::memset(j.a + off, 1, j.slice);
    if (j.b) std::memset(j.b + off, 0, j.slice);
    return;
  }
  double r = 0;
  switch (j.kind) {
    case RoofKind::Read: r = (double)j.loops->read(j.a + off, j.slice); break;
    case RoofKind::Write: j.loops->write(j.a + off, j.slice, 0x0101010101010101ull + (uint64_t)ith); break;
    case RoofKind::Copy: j.loops->copy(j.b + off, j.a + off, j.slice); break;
    case RoofKind::Fma: r = j.loops->fma(j.iters); break;
    case RoofKind::Int8: r = j.loops->int8(j.iters); break;
    case RoofKind::Bf16: r = j.loops->bf16(j.iters); break;
    default: break;
  }
  j.sink[ith].v += r;
}

double timed(Job& job, int nth) {
  const double t0 = now_seconds();
  parallel_run(run_share, &job, nth);
  return now_seconds() - t0;
}

}  // namespace

Status roofline_measure(RoofKind kind, int threads, int64_t buffer_bytes, int reps, double target_ms, RoofFigure* out) {
  if ((int)kind < 0 || kind >= RoofKind::Count) return Status::range("kind", "one of read, write, copy, fma, int8, bf16", std::to_string((int)kind));
  if (threads < 1 || threads > 1024) return Status::range("threads", "integer in [1, 1024]", std::to_string(threads));
  const int64_t kMinBuf = int64_t(1) << 20, kMaxBuf = int64_t(1) << 36;
  if (buffer_bytes < kMinBuf || buffer_bytes > kMaxBuf)
    return Status::range("bufferBytes", "integer in [2^20, 2^36]", std::to_string(buffer_bytes));
  if (reps < 1 || reps > 1000) return Status::range("reps", "integer in [1, 1000]", std::to_string(reps));
  if (!(target_ms >= 1 && target_ms <= 10000)) return Status::range("targetMs", "a number in [1, 10000]", std::to_string(target_ms));

  const RooflineLoops& L = best_loops();
  const int nth = std::min(threads, n_threads());
  *out = RoofFigure{};
  out->threads = nth;
  out->reps = reps;
  out->isa = L.isa;
  const bool memory = kind == RoofKind::Read || kind == RoofKind::Write || kind == RoofKind::Copy;

  Job* job = new (std::nothrow) Job{};
  if (!job) return Status::internal("roofline: out of memory");
  struct Free { Job* j; ~Free() { delete j; } } free_job{job};
  job->loops = &L;
  job->kind = kind;

  double ops = 0;  // bytes or operations per timed run
  Buffer a, b;
  if (memory) {
    job->slice = (size_t)buffer_bytes / (size_t)nth / 4096 * 4096;
    if (job->slice == 0) return Status::range("bufferBytes", "at least 4096 bytes per thread", std::to_string(buffer_bytes));
    const size_t total = job->slice * (size_t)nth;
    if (!a.alloc(total) || (kind == RoofKind::Copy && !b.alloc(total)))
      return Status::internal("roofline: could not allocate " + std::to_string(total) + " bytes");
    job->a = (uint8_t*)a.p;
    job->b = (uint8_t*)b.p;
    job->touch = true;  // fault the pages in, each thread its own slice
    parallel_run(run_share, job, nth);
    job->touch = false;
    ops = (double)total * (kind == RoofKind::Copy ? 2 : 1);
  } else {
    double per_iter = kind == RoofKind::Fma ? L.fma_ops : kind == RoofKind::Int8 ? L.int8_ops : L.bf16_ops;
    const char* instr = kind == RoofKind::Fma ? L.fma_instr : kind == RoofKind::Int8 ? L.int8_instr : L.bf16_instr;
    bool have = kind == RoofKind::Fma ? L.fma != nullptr : kind == RoofKind::Int8 ? L.int8 != nullptr : L.bf16 != nullptr;
    if (!have) {
      out->isa = "none";
      out->reps = 0;
      return Status::Ok();
    }
    out->instr = instr;
    // calibrate on one thread: grow until a run takes a quarter of the target, then scale
    job->iters = 1 << 10;
    double t = 0;
    for (;;) {
      t = timed(*job, 1);
      if (t * 1e3 >= target_ms / 4 || job->iters >= (int64_t(1) << 40)) break;
      job->iters *= 4;
    }
    job->iters = std::max<int64_t>(1, (int64_t)((double)job->iters * (target_ms / 1e3) / std::max(t, 1e-9)));
    ops = per_iter * (double)job->iters * nth;
  }

  timed(*job, nth);  // warm-up
  double rate[1000];
  for (int r = 0; r < reps; r++) rate[r] = ops / timed(*job, nth) / 1e9;
  out->best = *std::max_element(rate, rate + reps);
  out->median = median_of(rate, reps);
  return Status::Ok();
}

}  // namespace fuselm
