// The persistent thread pool. Workers spin briefly on an epoch counter after
// each task (a decode step issues hundreds of kernels back to back, and a
// futex wake costs more than most of them), then sleep on a futex.
//
// The shares of a run are claimed from a counter, by the workers and by the
// caller alike: the caller takes every share no worker has started, and waits
// only for shares that are running. On a loaded machine (two vCPUs that drop
// to one core's worth) a worker that is not scheduled costs nothing; waiting
// for it instead made each call wait a scheduler time slice (a 2-thread decode
// ran 40x slower than 1 thread under load).
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <immintrin.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fuselm/cpu.h"

namespace fuselm {

static long futex(std::atomic<uint32_t>* addr, int op, uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), op, val, nullptr, nullptr, 0);
}

int physical_cores() {
  static int n = [] {
    std::set<std::pair<int, int>> cores;
    for (int cpu = 0; cpu < 4096; cpu++) {
      std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      std::ifstream c(base + "core_id"), p(base + "physical_package_id");
      int core = -1, pkg = -1;
      if (!(c >> core)) break;
      p >> pkg;
      cores.insert({pkg, core});
    }
    int hw = (int)std::thread::hardware_concurrency();
    int phys = cores.empty() ? hw : (int)cores.size();
    if (phys < 1) phys = 1;
    return phys;
  }();
  return n;
}

namespace {

thread_local bool in_task = false;  // true on pool threads and inside a task: nested runs go serial

constexpr int kSpinIters = 1 << 16;  // ~50-100 us of pause before sleeping

struct Pool {
  std::vector<std::thread> workers;
  std::atomic<uint32_t> epoch{0};
  // the claim counter: (nth << 16) | next share, so that a claim reads the run's
  // share count in the same atomic step (shares >= nth: none left)
  std::atomic<uint32_t> next{0};
  std::atomic<int> done{0};  // shares finished
  std::atomic<int> sleepers{0};
  std::atomic<bool> stop{false};
  TaskFn fn = nullptr;
  void* ctx = nullptr;
  int nth = 1;   // the caller's copy; workers take it from `next`
  int size = 1;  // threads including the caller
  std::mutex run_mu;

  // `seen` is read by start() before the thread exists: a task posted before
  // the thread first runs must not be mistaken for the starting state.
  void worker(int w, uint32_t seen) {
    in_task = true;
    for (;;) {
      uint32_t e;
      int spins = 0;
      while ((e = epoch.load(std::memory_order_acquire)) == seen) {
        if (stop.load(std::memory_order_relaxed)) return;
        if (++spins < kSpinIters) {
          _mm_pause();
        } else {
          sleepers.fetch_add(1, std::memory_order_seq_cst);
          if (epoch.load(std::memory_order_seq_cst) == seen && !stop.load())
            futex(&epoch, FUTEX_WAIT_PRIVATE, seen);
          sleepers.fetch_sub(1, std::memory_order_seq_cst);
          spins = 0;
        }
      }
      seen = e;
      if (stop.load(std::memory_order_relaxed)) return;
      (void)w;
      claim();
    }
  }

  // Runs unclaimed shares until none is left. A claim that reads the counter
  // after a later run reset it belongs to that run: the reset is a release
  // store made after fn and ctx were set, so they are seen with it, and they
  // stay until that run's shares are all done.
  void claim() {
    for (;;) {
      const uint32_t v = next.fetch_add(1, std::memory_order_acq_rel);
      const int i = (int)(v & 0xFFFF), n = (int)(v >> 16);
      if (i >= n) return;
      fn(ctx, i, n);
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void start(int n) {
    size = n < 1 ? 1 : n;
    stop = false;
    const uint32_t e0 = epoch.load(std::memory_order_acquire);
    for (int w = 1; w < size; w++) workers.emplace_back([this, w, e0] { worker(w, e0); });
  }

  void shutdown() {
    stop = true;
    epoch.fetch_add(1, std::memory_order_seq_cst);
    futex(&epoch, FUTEX_WAKE_PRIVATE, 0x7fffffff);
    for (auto& t : workers) t.join();
    workers.clear();
  }

  ~Pool() { shutdown(); }
};

Pool& pool() {
  static Pool* p = [] {
    Pool* q = new Pool();  // leaked on purpose: workers must outlive static destructors
    int n = physical_cores();
    if (const char* env = std::getenv("FUSELM_THREADS")) {
      int v = std::atoi(env);
      if (v >= 1 && v <= 1024) n = v;
    }
    q->start(n);
    return q;
  }();
  return *p;
}

}  // namespace

int n_threads() { return pool().size; }

void set_threads(int n) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.run_mu);
  if (n < 1) n = 1;
  if (n == p.size) return;
  p.shutdown();
  p.start(n);
}

void parallel_run(TaskFn fn, void* ctx, int nth) {
  Pool& p = pool();
  if (nth <= 1 || in_task) {
    // nested or serial: run every share on this thread
    for (int i = 0; i < (nth < 1 ? 1 : nth); i++) fn(ctx, i, nth < 1 ? 1 : nth);
    return;
  }
  std::lock_guard<std::mutex> lock(p.run_mu);
  if (nth > p.size) nth = p.size;
  if (nth <= 1) { fn(ctx, 0, 1); return; }
  p.fn = fn;
  p.ctx = ctx;
  p.nth = nth;
  p.done.store(0, std::memory_order_relaxed);
  p.next.store((uint32_t)nth << 16, std::memory_order_release);
  p.epoch.fetch_add(1, std::memory_order_seq_cst);
  if (p.sleepers.load(std::memory_order_seq_cst) > 0) futex(&p.epoch, FUTEX_WAKE_PRIVATE, 0x7fffffff);
  in_task = true;
  p.claim();
  in_task = false;
  int spins = 0;
  while (p.done.load(std::memory_order_acquire) < nth) {
    if (++spins < kSpinIters) _mm_pause();
    else std::this_thread::yield();
  }
}

}  // namespace fuselm
