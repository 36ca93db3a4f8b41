// The pool's work split (ChunkLanes, fuselm/cpu.h): every item is claimed exactly once,
// a share takes its own contiguous lane in order before taking from the others.
#include <atomic>
#include <vector>

#include "tests/harness.h"

TEST(chunk_lanes_serial_order) {
  // one share claiming alone: its lane in order, then the next lanes from where they stand
  fuselm::ChunkLanes l;
  l.init(10, 3);  // lanes [0,3) [3,6) [6,10)
  std::vector<int64_t> got;
  for (int64_t i; (i = l.claim(1)) >= 0;) got.push_back(i);
  const std::vector<int64_t> want = {3, 4, 5, 6, 7, 8, 9, 0, 1, 2};
  CHECK(got == want);
  CHECK(l.claim(0) == -1);
  // more lanes than items, none, and over the cap
  l.init(2, 5);
  CHECK(l.claim(4) >= 0 && l.claim(4) >= 0 && l.claim(4) == -1);
  l.init(0, 2);
  CHECK(l.claim(0) == -1);
  l.init(1000, 1000);
  int n = 0;
  while (l.claim(999) >= 0) n++;
  CHECK(n == 1000);
}

TEST(chunk_lanes_pool_every_item_once) {
  for (int64_t n : {1, 2, 3, 17, 1000, 4097}) {
    for (int lanes : {1, 2, 3, 7}) {
      struct Ctx {
        fuselm::ChunkLanes l;
        std::vector<std::atomic<int>> hits;
        explicit Ctx(int64_t n) : hits((size_t)n) {}
      } c(n);
      c.l.init(n, lanes);
      fuselm::parallel_run(
          [](void* p, int ith, int) {
            Ctx* c = (Ctx*)p;
            for (int64_t i; (i = c->l.claim(ith)) >= 0;) c->hits[(size_t)i]++;
          },
          &c, lanes);
      bool once = true;
      for (auto& h : c.hits) once = once && h.load() == 1;
      CHECK(once);
    }
  }
}
