// Scalar roofline loops: the floor every CPU has. 8-byte loads and stores,
// eight independent float multiply-add chains, eight int32 multiply-add chains.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuselm/roofline.h"

namespace fuselm {
namespace ref {

static uint64_t read(const void* p, size_t bytes) {
  const uint64_t* v = static_cast<const uint64_t*>(p);
  const size_t n = bytes / 8;
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += v[i];
    s1 += v[i + 1];
    s2 += v[i + 2];
    s3 += v[i + 3];
  }
  for (; i < n; i++) s0 += v[i];
  return s0 + s1 + s2 + s3;
}

static void write(void* p, size_t bytes, uint64_t value) {
  uint64_t* v = static_cast<uint64_t*>(p);
  for (size_t i = 0; i < bytes / 8; i++) v[i] = value;
}

static void copy(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }

static double fma(int64_t iters) {
  float a[8];
  for (int k = 0; k < 8; k++) a[k] = 0.5f + 0.01f * (float)k;
  const float m = 0.9999f, c = 1e-4f;
  for (int64_t i = 0; i < iters; i++) {
    for (int k = 0; k < 8; k++) a[k] = a[k] * m + c;
  }
  double s = 0;
  for (int k = 0; k < 8; k++) s += a[k];
  return s;
}

static double int8(int64_t iters) {
  int32_t a[8];
  for (int k = 0; k < 8; k++) a[k] = k;
  int32_t u = 3, s = -2;
  for (int64_t i = 0; i < iters; i++) {
    __asm__("" : "+r"(u));
    for (int k = 0; k < 8; k++) a[k] = (int32_t)((uint32_t)a[k] + (uint32_t)((u + k) * s));
  }
  double t = 0;
  for (int k = 0; k < 8; k++) t += a[k];
  return t;
}

void fill_roofline(RooflineLoops& t) {
  t.isa = "ref";
  t.read = read;
  t.write = write;
  t.copy = copy;
  t.fma = fma;
  t.int8 = int8;
  t.bf16 = nullptr;
  t.fma_ops = 8 * 2;
  t.int8_ops = 8 * 2;
  t.bf16_ops = 0;
  t.fma_instr = "scalar mul+add";
  t.int8_instr = "scalar imul+add";
  t.bf16_instr = "";
}

}  // namespace ref
}  // namespace fuselm
