// AVX2 + FMA kernels for x86-64 CPUs without AVX-512 VPOPCNTDQ. Per-function target
// attributes keep the binary runnable on older CPUs; the set is handed out after a CPU check.
#include <immintrin.h>

#include <algorithm>
#include <limits>
#include <cstring>

#include "common.h"

#define LCE_AVX2 __attribute__((target("avx2,fma,popcnt")))

namespace lce_native {
namespace {

#define LCE_GLUE_TARGET LCE_AVX2
#include "glue.inc"
#undef LCE_GLUE_TARGET

LCE_AVX2 void bitpack_avx2(const float* in, int rows, int channels, Word* out) {
  const int words = packed_words(channels);
  const __m256 zero = _mm256_setzero_ps();
  for (int r = 0; r < rows; ++r) {
    const float* src = in + static_cast<size_t>(r) * channels;
    Word* dst = out + static_cast<size_t>(r) * words;
    int c = 0;
    int w = 0;
    for (; c + kWordBits <= channels; c += kWordBits, ++w) {
      Word bits = 0;
      for (int q = 0; q < 4; ++q) {
        const __m256 lt = _mm256_cmp_ps(_mm256_loadu_ps(src + c + 8 * q), zero, _CMP_LT_OQ);
        bits |= static_cast<Word>(_mm256_movemask_ps(lt)) << (8 * q);
      }
      dst[w] = bits;
    }
    if (c < channels) {
      Word bits = 0;
      for (int i = 0; c + i < channels; ++i) bits |= static_cast<Word>(src[c + i] < 0.0f) << i;
      dst[w] = bits;
    }
  }
}

// Byte-wise popcount by nibble lookup; byte counters are widened to int32 before they
// can overflow (at most 8 per step, so 31 steps fit in a byte).
template <int MR>
LCE_AVX2 void bgemm_tile(const BgemmArgs& g, int r0, int b) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                       1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256i acc32[MR][2];
  for (int i = 0; i < MR; ++i) acc32[i][0] = acc32[i][1] = _mm256_setzero_si256();
  const Word* const* rows = g.ind + static_cast<size_t>(r0) * g.taps;
  const Word* w = g.w->block(b);
  for (int k0 = 0; k0 < g.k_words; k0 += 31) {
    const int k1 = std::min(g.k_words, k0 + 31);
    __m256i acc8[MR][2];
    for (int i = 0; i < MR; ++i) acc8[i][0] = acc8[i][1] = _mm256_setzero_si256();
    for (int k = k0; k < k1; ++k) {
      const int t = k / g.depth, c = k % g.depth;
      const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * kLanes));
      const __m256i w1 =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k * kLanes + 8));
      for (int i = 0; i < MR; ++i) {
        const __m256i av = _mm256_set1_epi32(static_cast<int>(rows[i * g.taps + t][c]));
        for (int h = 0; h < 2; ++h) {
          const __m256i x = _mm256_xor_si256(av, h == 0 ? w0 : w1);
          const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(x, low4));
          const __m256i hi =
              _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low4));
          acc8[i][h] = _mm256_add_epi8(acc8[i][h], _mm256_add_epi8(lo, hi));
        }
      }
    }
    for (int i = 0; i < MR; ++i)
      for (int h = 0; h < 2; ++h)
        acc32[i][h] = _mm256_add_epi32(
            acc32[i][h], _mm256_madd_epi16(_mm256_maddubs_epi16(acc8[i][h], ones8), ones16));
  }
  alignas(32) std::int32_t acc[MR][kLanes];
  for (int i = 0; i < MR; ++i) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(acc[i]), acc32[i][0]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(acc[i] + 8), acc32[i][1]);
  }
  const int o0 = b * kLanes;
  const int n = std::min(kLanes, g.channels_out - o0);
  if (g.out_packed != nullptr) {
    const int out_words = packed_words(g.channels_out);
    const int blocks = g.w->blocks();
    for (int i = 0; i < MR; ++i) {
      auto* halves = reinterpret_cast<std::uint16_t*>(g.out_packed +
                                                      static_cast<size_t>(r0 + i) * out_words);
      std::uint16_t bits = 0;
      for (int l = 0; l < n; ++l)
        bits |= static_cast<std::uint16_t>(acc[i][l] > g.thresholds[o0 + l]) << l;
      halves[b] = bits;
      if (b == blocks - 1 && (blocks & 1)) halves[b + 1] = 0;
    }
    return;
  }
  for (int i = 0; i < MR; ++i) {
    const size_t at = static_cast<size_t>(r0 + i) * g.channels_out + o0;
    float* dst = g.out_float + at;
    for (int l = 0; l < n; ++l) {
      const std::int32_t x = std::min(std::max(2 * acc[i][l], g.clamp_min), g.clamp_max);
      float y = static_cast<float>(x) * g.mul[o0 + l] + g.bias[o0 + l];
      if (g.residual != nullptr) {
        y = y + g.residual[at + l];
        y = y < g.residual_clamp.lo ? g.residual_clamp.lo : y;
        y = y > g.residual_clamp.hi ? g.residual_clamp.hi : y;
      }
      dst[l] = y;
    }
  }
}

struct BgemmTile {
  template <int MR>
  LCE_AVX2 static void run(const BgemmArgs& g, int r0, int b) { bgemm_tile<MR>(g, r0, b); }
};

// Block by block of 16 channels, rows in tiles of MR, then one at a time.
template <class Tile, int MR, class Args>
LCE_AVX2 void gemm_blocks(const Args& g, int row_begin, int row_end) {
  for (int b = 0; b < g.w->blocks(); ++b) {
    int r = row_begin;
    for (; r + MR <= row_end; r += MR) Tile::template run<MR>(g, r, b);
    for (; r < row_end; ++r) Tile::template run<1>(g, r, b);
  }
}

LCE_AVX2 void bgemm_avx2(const BgemmArgs& g, int row_begin, int row_end) {
  gemm_blocks<BgemmTile, 4>(g, row_begin, row_end);
}

template <int MR>
LCE_AVX2 void sgemm_tile(const SgemmArgs& g, int r0, int b) {
  __m256 acc[MR][2];
  const int o0 = b * kLanes;
  for (int h = 0; h < 2; ++h) {
    const __m256 bias =
        g.bias != nullptr ? _mm256_loadu_ps(g.bias + o0 + 8 * h) : _mm256_setzero_ps();
    for (int i = 0; i < MR; ++i) acc[i][h] = bias;
  }
  const float* const* rows = g.ind + static_cast<size_t>(r0) * g.taps;
  const float* w = g.w->block(b);
  for (int t = 0; t < g.taps; ++t) {
    const float* a[MR];
    for (int i = 0; i < MR; ++i) a[i] = rows[i * g.taps + t];
    for (int c = 0; c < g.depth; ++c) {
      const int k = t * g.depth + c;
      const __m256 w0 = _mm256_loadu_ps(w + k * kLanes);
      const __m256 w1 = _mm256_loadu_ps(w + k * kLanes + 8);
      for (int i = 0; i < MR; ++i) {
        const __m256 av = _mm256_set1_ps(a[i][c]);
        acc[i][0] = _mm256_fmadd_ps(av, w0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(av, w1, acc[i][1]);
      }
    }
  }
  const __m256 lo = _mm256_set1_ps(g.clamp.lo);
  const __m256 hi = _mm256_set1_ps(g.clamp.hi);
  const int n = std::min(kLanes, g.channels_out - o0);
  for (int i = 0; i < MR; ++i) {
    float* dst = g.out + static_cast<size_t>(r0 + i) * g.ldc + o0;
    alignas(32) float tmp[kLanes];
    _mm256_store_ps(tmp, _mm256_min_ps(hi, _mm256_max_ps(lo, acc[i][0])));
    _mm256_store_ps(tmp + 8, _mm256_min_ps(hi, _mm256_max_ps(lo, acc[i][1])));
    std::memcpy(dst, tmp, sizeof(float) * n);
  }
}

struct SgemmTile {
  template <int MR>
  LCE_AVX2 static void run(const SgemmArgs& g, int r0, int b) { sgemm_tile<MR>(g, r0, b); }
};

LCE_AVX2 void sgemm_avx2(const SgemmArgs& g, int row_begin, int row_end) {
  gemm_blocks<SgemmTile, 6>(g, row_begin, row_end);
}

}  // namespace

const KernelSet* avx2_kernels() {
  static const KernelSet set{"avx2", bitpack_avx2, bgemm_avx2, sgemm_avx2,
                               depthwise_glue, pool_glue, add_glue};
  __builtin_cpu_init();
  const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                  __builtin_cpu_supports("popcnt");
  return ok ? &set : nullptr;
}

}  // namespace lce_native
