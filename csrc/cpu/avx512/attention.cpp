// AVX-512 attention kernels. K tiles are stored transposed ([D][64]), so the
// scores of 4 query rows against 64 keys accumulate in 16 zmm registers with
// broadcast FMAs and no horizontal reductions; f16 and int8 tiles convert to
// f32 in registers (vcvtph2ps, vpmovsxbd + vcvtdq2ps). Then the online-softmax
// update and P.V with the accumulators of up to four rows held in registers (over
// half a row of channels for 4 rows at D = 128). While it computes a tile it prefetches
// the next one the driver names (decode streams the KV cache from DRAM, so compute and
// loads overlap), with the T1 hint: into L2, which keeps closer to a plain streaming read
// than T0 (L1 fills compete with the tile's own loads).
// GCC 12 warns on its own _mm512_undefined_* inside the intrinsics headers (a known false positive)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <cmath>
#include <cstdint>

#include "fuselm/ops/attention_kernels.h"
#include "cpu/avx512/vec.h"
#include "cpu/attention_x86.h"

namespace fuselm {
namespace avx512 {

static inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
static inline __m512 load16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p)); }
static inline __m512 load16(const int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)p)));
}

// acc = acc * alpha + P V for rows r0 .. r0+R-1, over chunks of CW vectors of channels (4 rows:
// halves of the row at D = 128, the whole row at 64 and 80; fewer rows: the whole row), so each
// V element is loaded and converted once per R rows. Keys visible to none of the rows are
// skipped. pf (or null): the next tile's V, prefetched a key at a time alongside.
template <int D, class T, int R>
__attribute__((noinline)) static void pv_rows(const AttnTile& t, int64_t r0, const float* alpha, const void* pf) {
  constexpr int NV = D / 16;
  constexpr int CW = (R >= 3 && NV % 4 == 0) ? 4 : NV;
  const T* v = (const T*)t.v;
  uint64_t keys = 0;
  for (int r = 0; r < R; r++) keys |= t.mask[r0 + r];
  if (!keys) return;
  const float* p = t.scores + r0 * KV_BLOCK;
  const char* pv = (const char*)pf;
  for (int c0 = 0; c0 < NV; c0 += CW) {
    __m512 o[R][CW];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      const __m512 al = _mm512_set1_ps(alpha[r]);
      const float* a = t.acc + (r0 + r) * D + 16 * c0;
#pragma GCC unroll 8
      for (int j = 0; j < CW; j++) o[r][j] = _mm512_mul_ps(_mm512_loadu_ps(a + 16 * j), al);
    }
    for (uint64_t bits = keys; bits; bits &= bits - 1) {
      const int64_t k = __builtin_ctzll(bits);
      const T* vk = v + k * D + 16 * c0;
      if (pv) {
        const char* a = pv + (k * D + 16 * c0) * (int64_t)sizeof(T);
#pragma GCC unroll 8
        for (int i = 0; i < CW * 16 * (int)sizeof(T); i += 64) _mm_prefetch(a + i, _MM_HINT_T1);
      }
      __m512 w[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; r++) w[r] = _mm512_set1_ps(p[r * KV_BLOCK + k]);
#pragma GCC unroll 8
      for (int j = 0; j < CW; j++) {
        const __m512 vv = load16(vk + 16 * j);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) o[r][j] = _mm512_fmadd_ps(w[r], vv, o[r][j]);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
      for (int j = 0; j < CW; j++) _mm512_storeu_ps(t.acc + (r0 + r) * D + 16 * (c0 + j), o[r][j]);
  }
}

template <int D, class T>
static void tile(const AttnTile& t) {
  const T* kt = (const T*)t.kt;
  const int64_t M = t.M;
  const int64_t Mpad = (M + 3) & ~(int64_t)3;
  // 1. scores, 4 rows x 64 keys at a time
  for (int64_t r0 = 0; r0 < Mpad; r0 += 4) {
    uint64_t any = 0;
    for (int64_t r = r0; r < r0 + 4 && r < M; r++) any |= t.mask[r];
    if (!any) continue;
    __m512 a[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
      for (int j = 0; j < 4; j++) a[r][j] = _mm512_setzero_ps();
    const float* q = t.q + r0 * D;
    // the first row group pulls the next tile's K in, one channel row (64 keys) per channel
    const char* pk = r0 == 0 ? (const char*)t.pf_kt : nullptr;
    for (int c = 0; c < D; c++) {
      const T* kc = kt + (int64_t)c * KV_BLOCK;
      if (pk) {
#pragma GCC unroll 4
        for (int i = 0; i < (int)sizeof(T); i++) _mm_prefetch(pk + (int64_t)c * KV_BLOCK * (int)sizeof(T) + 64 * i, _MM_HINT_T1);
      }
      const __m512 k0 = load16(kc), k1 = load16(kc + 16), k2 = load16(kc + 32), k3 = load16(kc + 48);
#pragma GCC unroll 4
      for (int r = 0; r < 4; r++) {
        const __m512 qb = _mm512_set1_ps(q[r * D + c]);
        a[r][0] = _mm512_fmadd_ps(qb, k0, a[r][0]);
        a[r][1] = _mm512_fmadd_ps(qb, k1, a[r][1]);
        a[r][2] = _mm512_fmadd_ps(qb, k2, a[r][2]);
        a[r][3] = _mm512_fmadd_ps(qb, k3, a[r][3]);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
      for (int j = 0; j < 4; j++) {
        __m512 s = a[r][j];
        if (t.kscale) s = _mm512_mul_ps(s, _mm512_loadu_ps(t.kscale + 16 * j));
        _mm512_storeu_ps(t.scores + (r0 + r) * KV_BLOCK + 16 * j, s);
      }
  }
  // 2. online softmax per row: scores become p (times vscale for int8)
  float alpha[64 * 8];  // M <= 512
  for (int64_t r = 0; r < M; r++)
    alpha[r] = x86::attn_softmax_row<V16f>(t.scores + r * KV_BLOCK, t.mask[r], t.m + r, t.l + r, t.softcap, t.vscale);
  // 3. acc = acc * alpha + P V, up to 4 rows at a time
  for (int64_t r0 = 0; r0 < M; r0 += 4) {
    const void* pv = r0 == 0 ? t.pf_v : nullptr;
    switch (M - r0 >= 4 ? 4 : M - r0) {
      case 4: pv_rows<D, T, 4>(t, r0, alpha + r0, pv); break;
      case 3: pv_rows<D, T, 3>(t, r0, alpha + r0, pv); break;
      case 2: pv_rows<D, T, 2>(t, r0, alpha + r0, pv); break;
      default: pv_rows<D, T, 1>(t, r0, alpha + r0, pv); break;
    }
  }
}

static void attn_tile_f32(const AttnTile& t) { FL_DISPATCH_HEAD_DIM(t.D, tile<D, float>(t)); }
static void attn_tile_f16(const AttnTile& t) { FL_DISPATCH_HEAD_DIM(t.D, tile<D, uint16_t>(t)); }
static void attn_tile_i8(const AttnTile& t) { FL_DISPATCH_HEAD_DIM(t.D, tile<D, int8_t>(t)); }

static void score_blocks(float* scores, const float* q, int64_t G, int64_t D, const float* const* summ, int64_t nb) {
  // Each block's summary (2 x D floats, min then max) sits in its own KV page:
  // scattered 1 KiB reads that the hardware prefetcher does not see coming, so
  // every line of the block PF ahead is prefetched explicitly.
  constexpr int64_t PF = 6;
  for (int64_t b = 0; b < nb && b < PF; b++)
    for (int64_t o = 0; o < 2 * D; o += 16) _mm_prefetch((const char*)(summ[b] + o), _MM_HINT_T0);
  for (int64_t b = 0; b < nb; b++) {
    const float* mn = summ[b];
    const float* mx = summ[b] + D;
    if (b + PF < nb)
      for (int64_t o = 0; o < 2 * D; o += 16) _mm_prefetch((const char*)(summ[b + PF] + o), _MM_HINT_T0);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int64_t c = 0; c < D; c += 16) {
      const __m512 lo = _mm512_loadu_ps(mn + c), hi = _mm512_loadu_ps(mx + c);
      int64_t g = 0;
      for (; g + 2 <= G; g += 2) {
        const __m512 q0 = _mm512_loadu_ps(q + g * D + c), q1 = _mm512_loadu_ps(q + (g + 1) * D + c);
        a0 = _mm512_add_ps(a0, _mm512_max_ps(_mm512_mul_ps(q0, lo), _mm512_mul_ps(q0, hi)));
        a1 = _mm512_add_ps(a1, _mm512_max_ps(_mm512_mul_ps(q1, lo), _mm512_mul_ps(q1, hi)));
      }
      if (g < G) {
        const __m512 q0 = _mm512_loadu_ps(q + g * D + c);
        a0 = _mm512_add_ps(a0, _mm512_max_ps(_mm512_mul_ps(q0, lo), _mm512_mul_ps(q0, hi)));
      }
    }
    scores[b] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  }
}

void fill_attention(AttentionTable& t) {
  FL_IMPL(t, attn_tile_f32, avx512);
  FL_IMPL(t, attn_tile_f16, avx512);
  FL_IMPL(t, attn_tile_i8, avx512);
  FL_IMPL(t, score_blocks, avx512);
}

}  // namespace avx512
}  // namespace fuselm
