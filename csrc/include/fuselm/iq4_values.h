// The 16 levels of the non-linear 4-bit formats IQ4_NL and IQ4_XS: a 4-bit code q
// stands for kIq4nlValues[q] (ggml-common.h kvalues_iq4nl; a fact of the format).
#pragma once
#include <cstdint>

namespace fuselm {

alignas(16) static constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

}  // namespace fuselm
