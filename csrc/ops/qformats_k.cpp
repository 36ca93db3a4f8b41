// Family `qgemm`: the repacking of IQ4_XS, Q3_K and Q2_K (blocks.h *X16) for csrc/ops/qgemm.cpp.
#include <cstring>

#include "cpu/qformats_k.h"
#include "fuselm/ops.h"

namespace fuselm {

namespace {

// Q3_K / Q2_K: the 2-bit parts of 256 codes into / out of qs[64] (ggml's order)
void put_q2bits(uint8_t* qs, const uint8_t* c) {
  std::memset(qs, 0, 64);
  for (int e = 0; e < QK_K; e++) qs[32 * (e / 128) + e % 32] |= (uint8_t)((c[e] & 3) << (2 * ((e % 128) / 32)));
}
// ... and into / out of the x16 vectors: ql[t % 16] bits 2 (t / 16) of dword t, row r
void put_x16_q2(uint8_t (*ql)[64], int r, const uint8_t* c) {
  for (int e = 0; e < QK_K; e++) {
    const int t = e / 4;
    uint8_t& v = ql[t % 16][4 * r + e % 4];
    v = (uint8_t)((v & ~(3 << (2 * (t / 16)))) | ((c[e] & 3) << (2 * (t / 16))));
  }
}

void pack_iq4_xs(block_iq4_xsx16* y, const block_iq4_xs* x, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      const block_iq4_xs& p = x[r * nb + b];
      y[b].d[r] = p.d;
      int8_t sc[8];
      qs::unpack_scales_iq4_xs(p, sc);
      for (int j = 0; j < 8; j++) y[b].sc[j][r] = sc[j];
      for (int i = 0; i < 128; i++) y[b].qs[i / 16][(i % 16) / 4][4 * r + i % 4] = p.qs[i];
    }
}
void unpack_iq4_xs(block_iq4_xs* x, const block_iq4_xsx16* y, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      block_iq4_xs& p = x[r * nb + b];
      p.d = y[b].d[r];
      int8_t sc[8];
      for (int j = 0; j < 8; j++) sc[j] = y[b].sc[j][r];
      qs::pack_scales_iq4_xs(p, sc);
      for (int i = 0; i < 128; i++) p.qs[i] = y[b].qs[i / 16][(i % 16) / 4][4 * r + i % 4];
    }
}

void pack_q3_K(block_q3_Kx16* y, const block_q3_K* x, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      const block_q3_K& p = x[r * nb + b];
      y[b].d[r] = p.d;
      int8_t sc[16];
      qs::unpack_scales_q3_K(p.scales, sc);
      for (int j = 0; j < 16; j++) y[b].sc[j][r] = sc[j];
      uint8_t c[QK_K];
      for (int e = 0; e < QK_K; e++) c[e] = (uint8_t)qs::q3_code(p, e);
      put_x16_q2(y[b].ql, r, c);
      for (int e = 0; e < QK_K; e++) {
        const int t = e / 4;
        uint8_t& v = y[b].qh[t % 8][4 * r + e % 4];
        v = (uint8_t)((v & ~(1 << (t / 8))) | ((c[e] >> 2) << (t / 8)));
      }
    }
}
void unpack_q3_K(block_q3_K* x, const block_q3_Kx16* y, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      block_q3_K& p = x[r * nb + b];
      p.d = y[b].d[r];
      int8_t sc[16];
      for (int j = 0; j < 16; j++) sc[j] = y[b].sc[j][r];
      qs::pack_scales_q3_K(p.scales, sc);
      uint8_t c[QK_K];
      for (int e = 0; e < QK_K; e++) c[e] = (uint8_t)qs::q3_Kx16_code(y[b], r, e);
      put_q2bits(p.qs, c);
      std::memset(p.hmask, 0, sizeof p.hmask);
      for (int e = 0; e < QK_K; e++) p.hmask[e % 32] |= (uint8_t)((c[e] >> 2) << (e / 32));
    }
}

void pack_q2_K(block_q2_Kx16* y, const block_q2_K* x, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      const block_q2_K& p = x[r * nb + b];
      y[b].d[r] = p.d;
      y[b].dmin[r] = p.dmin;
      for (int j = 0; j < 16; j++) y[b].scales[j][r] = p.scales[j];
      uint8_t c[QK_K];
      for (int e = 0; e < QK_K; e++) c[e] = (uint8_t)qs::q2bits(p.qs, e);
      put_x16_q2(y[b].ql, r, c);
    }
}
void unpack_q2_K(block_q2_K* x, const block_q2_Kx16* y, int64_t nb) {
  for (int64_t b = 0; b < nb; b++)
    for (int r = 0; r < kPackRows; r++) {
      block_q2_K& p = x[r * nb + b];
      p.d = y[b].d[r];
      p.dmin = y[b].dmin[r];
      for (int j = 0; j < 16; j++) p.scales[j] = y[b].scales[j][r];
      uint8_t c[QK_K];
      for (int e = 0; e < QK_K; e++) c[e] = (uint8_t)qs::kx16_q2(y[b].ql, r, e);
      put_q2bits(p.qs, c);
    }
}

}  // namespace

// One group of 16 rows of IQ4_XS / Q3_K / Q2_K <-> its x16 form; false for other formats.
bool repack_group_k(DType packed, void* dst, const void* src, int64_t nb, bool unpack) {
  switch (packed) {
    case DType::IQ4_XSX16:
      if (unpack) unpack_iq4_xs((block_iq4_xs*)dst, (const block_iq4_xsx16*)src, nb);
      else pack_iq4_xs((block_iq4_xsx16*)dst, (const block_iq4_xs*)src, nb);
      return true;
    case DType::Q3_KX16:
      if (unpack) unpack_q3_K((block_q3_K*)dst, (const block_q3_Kx16*)src, nb);
      else pack_q3_K((block_q3_Kx16*)dst, (const block_q3_K*)src, nb);
      return true;
    case DType::Q2_KX16:
      if (unpack) unpack_q2_K((block_q2_K*)dst, (const block_q2_Kx16*)src, nb);
      else pack_q2_K((block_q2_Kx16*)dst, (const block_q2_K*)src, nb);
      return true;
    default:
      return false;
  }
}

}  // namespace fuselm
