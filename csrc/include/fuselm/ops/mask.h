// Family `mask`: the grammar's allowed-token bitmask applied to logits.
#pragma once
#include <cstdint>
#include "fuselm/cpu.h"
#include "fuselm/status.h"

namespace fuselm {

// out[r, i] = x[r, i] where bit i of mask row r is set (word i / 32, bit i % 32), else -inf.
// x, out: f32 [rows, n] (out may be x); mask: u32 [rows, ceil(n / 32)]; bits past n are ignored.
Status mask_logits_f32(float* out, const float* x, const uint32_t* mask, int64_t rows, int64_t n);

// per-ISA kernel over elements [b, e) of one row, b a multiple of 32
struct MaskTable {
  Kernel<void (*)(float* out, const float* x, const uint32_t* mask, int64_t b, int64_t e)> mask_logits;
};

namespace ref { void fill_mask(MaskTable& t); }
namespace avx2 { void fill_mask(MaskTable& t); }
namespace avx512 { void fill_mask(MaskTable& t); }

}  // namespace fuselm
