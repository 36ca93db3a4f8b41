// CPU feature detection, the active ISA level, and the kernel report.
#include <cpuid.h>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "fuselm/cpu.h"

namespace fuselm {

static uint64_t xgetbv0() {
  uint32_t a, d;
  __asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
  return ((uint64_t)d << 32) | a;
}

static CpuFeatures detect() {
  CpuFeatures f;
  std::memset(&f, 0, sizeof f);
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool avx = c & (1u << 28);
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool ymm_os = (xcr0 & 6) == 6;
  const bool zmm_os = (xcr0 & 0xe6) == 0xe6;
  if (!ymm_os) return f;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = b & (1u << 5);
  if (zmm_os) {
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vbmi = c & (1u << 1);
    f.avx512vnni = c & (1u << 11);
  }
  unsigned a1, b1, c1, d1;
  __cpuid_count(7, 1, a1, b1, c1, d1);
  f.avxvnni = a1 & (1u << 4);
  if (zmm_os) f.avx512bf16 = a1 & (1u << 5);
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const char* isa_name(int isa) {
  switch (isa) {
    case ISA_REF: return "ref";
    case ISA_AVX2: return "avx2";
    case ISA_AVX512: return "avx512";
    default: return "unknown";
  }
}

int isa_supported() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni && f.avx512bf16 && f.avx512vbmi &&
      f.avx2 && f.fma && f.f16c)
    return ISA_AVX512;
  if (f.avx2 && f.fma && f.f16c) return ISA_AVX2;
  return ISA_REF;
}

static int initial_isa() {
  int best = isa_supported();
  const char* env = std::getenv("FUSELM_ISA");
  if (!env || !*env) return best;
  int want = -1;
  for (int i = 0; i < ISA_COUNT; i++)
    if (std::strcmp(env, isa_name(i)) == 0) want = i;
  // An unknown or unsupported request keeps the best level; lib/native.ts
  // reads FUSELM_ISA too and throws a readable error before any kernel runs.
  if (want < 0 || want > best) return best;
  return want;
}

static int& isa_slot() {
  static int isa = initial_isa();
  return isa;
}

int active_isa() { return isa_slot(); }

bool set_isa(int isa) {
  if (isa < 0 || isa >= ISA_COUNT || isa > isa_supported()) return false;
  isa_slot() = isa;
  return true;
}

// ---- kernel report --------------------------------------------------------
struct Family {
  const char* name;
  const void* tables[ISA_COUNT];
  ReportFn report;
};
static std::vector<Family>& families() {
  static std::vector<Family> v;
  return v;
}

void register_family(const char* family, const void* tables[ISA_COUNT], ReportFn report) {
  Family f{family, {tables[0], tables[1], tables[2]}, report};
  families().push_back(f);
}

void report_kernels(void (*emit)(const char*, const char*, const char*, void*), void* u) {
  struct Ctx {
    const char* fam;
    void (*emit)(const char*, const char*, const char*, void*);
    void* u;
  };
  for (const Family& f : families()) {
    Ctx c{f.name, emit, u};
    f.report(
        f.tables[active_isa()],
        [](const char* k, const char* isa, void* p) {
          Ctx* c = (Ctx*)p;
          c->emit(c->fam, k, isa, c->u);
        },
        &c);
  }
}

}  // namespace fuselm
