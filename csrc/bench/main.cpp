// fuselm_bench: the machine's roofline (and the registered kernel cases) as
// JSON on stdout, without Node, e.g. on a GPU machine.
//   fuselm_bench [--threads N] [--buffer-mb M] [--reps R] [--filter S] [--roofline-only]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench.h"
#include "fuselm/cpu.h"
#include "fuselm/roofline.h"

namespace flbench {
std::vector<Family>& families() {
  static std::vector<Family> v;
  return v;
}
}  // namespace flbench

using namespace fuselm;

static void usage() {
  std::fprintf(stderr, "usage: fuselm_bench [--threads N] [--buffer-mb M] [--reps R] [--filter S] [--roofline-only]\n");
}

int main(int argc, char** argv) {
  int threads = 0, reps = 5;
  long long buffer_mb = 512;
  const char* filter = "";
  bool roofline_only = false;
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    auto next = [&](void) -> const char* {
      if (i + 1 >= argc) { usage(); std::exit(2); }
      return argv[++i];
    };
    if (!std::strcmp(a, "--threads")) threads = std::atoi(next());
    else if (!std::strcmp(a, "--buffer-mb")) buffer_mb = std::atoll(next());
    else if (!std::strcmp(a, "--reps")) reps = std::atoi(next());
    else if (!std::strcmp(a, "--filter")) filter = next();
    else if (!std::strcmp(a, "--roofline-only")) roofline_only = true;
    else { usage(); return 2; }
  }
  if (threads > 0) set_threads(threads);
  const int nth = n_threads();
  std::vector<int> counts = {1};
  if (nth > 1) counts.push_back(nth);

  std::printf("{\n  \"isa\": \"%s\", \"bestIsa\": \"%s\", \"threads\": %d, \"physicalCores\": %d,\n", isa_name(active_isa()),
              isa_name(isa_supported()), nth, physical_cores());
  std::printf("  \"roofline\": {\"bufferBytes\": %lld, \"figures\": [\n", buffer_mb << 20);
  double read_bw = 0, peak[3] = {0, 0, 0};  // fma, int8, bf16 at nth threads
  bool first = true;
  for (int k = 0; k < (int)RoofKind::Count; k++) {
    for (int t : counts) {
      RoofFigure f;
      Status st = roofline_measure((RoofKind)k, t, buffer_mb << 20, reps, 20, &f);
      if (!st.ok()) {
        std::fprintf(stderr, "fuselm_bench: %s\n", st.what().c_str());
        return 1;
      }
      const bool mem = k <= (int)RoofKind::Copy;
      std::printf("%s    {\"kind\": \"%s\", \"threads\": %d, \"median\": %.3f, \"best\": %.3f, \"unit\": \"%s\", \"isa\": \"%s\", \"instr\": \"%s\"}",
                  first ? "" : ",\n", roof_kind_name((RoofKind)k), f.threads, f.median, f.best,
                  mem ? "GB/s" : k == (int)RoofKind::Int8 ? "GOP/s" : "GFLOP/s", f.isa, f.instr);
      first = false;
      if (t == counts.back()) {
        if (k == (int)RoofKind::Read) read_bw = f.median;
        if (k >= (int)RoofKind::Fma) peak[k - (int)RoofKind::Fma] = f.median;
      }
    }
  }
  std::printf("\n  ]},\n  \"kernels\": [");
  first = true;
  if (!roofline_only) {
    std::vector<flbench::Case> cases;
    for (auto fam : flbench::families()) fam(cases);
    for (auto& c : cases) {
      if (*filter && c.name.find(filter) == std::string::npos) continue;
      c.run();  // warm-up (first touch)
      std::vector<double> ms;
      for (int r = 0; r < reps; r++) {
        double t0 = now_seconds();
        c.run();
        ms.push_back((now_seconds() - t0) * 1e3);
      }
      double m = median_of(ms.data(), (int)ms.size());
      double gbs = c.bytes / (m * 1e6), gflops = c.flops / (m * 1e6);
      double roof = c.bound == "dram" ? read_bw : c.bound == "fma" ? peak[0] : c.bound == "int8" ? peak[1] : peak[2];
      double frac = roof > 0 ? (c.bound == "dram" ? gbs : gflops) / roof : 0;
      std::printf("%s\n    {\"name\": \"%s\", \"bound\": \"%s\", \"ms\": %.4f, \"gbs\": %.3f, \"gflops\": %.3f, \"fraction\": %.4f}",
                  first ? "" : ",", c.name.c_str(), c.bound.c_str(), m, gbs, gflops, frac);
      first = false;
    }
  }
  std::printf("\n  ]\n}\n");
  return 0;
}
