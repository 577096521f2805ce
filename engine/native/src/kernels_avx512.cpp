// AVX-512 kernels (F/BW/DQ/VL + VPOPCNTDQ). Every function carries its own target
// attribute, so the rest of the binary stays runnable on CPUs without AVX-512; the set is
// only handed out after a CPU check.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <cstring>
#include <vector>

#include "common.h"

#define LCE_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vpopcntdq,fma,avx2,popcnt")))

namespace lce_native {
namespace {

#define LCE_GLUE_TARGET LCE_AVX512
#include "glue.inc"
#undef LCE_GLUE_TARGET

LCE_AVX512 void bitpack_avx512(const float* in, int rows, int channels, Word* out) {
  const int words = packed_words(channels);
  const __m512 zero = _mm512_setzero_ps();
  for (int r = 0; r < rows; ++r) {
    const float* src = in + static_cast<size_t>(r) * channels;
    Word* dst = out + static_cast<size_t>(r) * words;
    int c = 0;
    int w = 0;
    for (; c + kWordBits <= channels; c += kWordBits, ++w) {
      const __mmask16 lo = _mm512_cmp_ps_mask(_mm512_loadu_ps(src + c), zero, _CMP_LT_OQ);
      const __mmask16 hi = _mm512_cmp_ps_mask(_mm512_loadu_ps(src + c + 16), zero, _CMP_LT_OQ);
      dst[w] = static_cast<Word>(lo) | (static_cast<Word>(hi) << 16);
    }
    if (c < channels) {
      // Tail lanes load as 0.0, which packs as +1 (bit 0): LCE's channel padding.
      const int n = channels - c;
      const __mmask16 m_lo = static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1);
      const __mmask16 m_hi = static_cast<__mmask16>(n <= 16 ? 0 : (1u << (n - 16)) - 1);
      const __mmask16 lo =
          _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m_lo, src + c), zero, _CMP_LT_OQ);
      const __mmask16 hi =
          _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m_hi, src + c + 16), zero, _CMP_LT_OQ);
      dst[w] = static_cast<Word>(lo) | (static_cast<Word>(hi) << 16);
    }
  }
}

inline __mmask16 lane_mask(int channels_left) {
  return channels_left >= kLanes ? static_cast<__mmask16>(0xFFFF)
                                 : static_cast<__mmask16>((1u << channels_left) - 1);
}

// What the binary and float GEMM tiles do differently per input element: a binary step
// adds popcount(a XOR w), a float step a * w.
struct BinaryStep {
  using Elem = Word;
  using Vec = __m512i;
  LCE_AVX512 static Vec load(const Word* p) { return _mm512_loadu_si512(p); }
  LCE_AVX512 static Vec broadcast(Word x) { return _mm512_set1_epi32(static_cast<int>(x)); }
  LCE_AVX512 static Vec step(Vec a, Vec w, Vec acc) {
    return _mm512_add_epi32(acc, _mm512_popcnt_epi32(_mm512_xor_si512(a, w)));
  }
};

struct FloatStep {
  using Elem = float;
  using Vec = __m512;
  LCE_AVX512 static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  LCE_AVX512 static Vec broadcast(float x) { return _mm512_set1_ps(x); }
  LCE_AVX512 static Vec step(Vec a, Vec w, Vec acc) { return _mm512_fmadd_ps(a, w, acc); }
};

// The indirect GEMM's inner loops over taps and depth for an MR x (NR * 16) tile: each
// row's element is broadcast and stepped into the NR weight vectors of its block.
// Always inlined: `acc` must stay in registers.
template <class Step, int MR, int NR, class Args>
LCE_AVX512 __attribute__((always_inline)) inline void accumulate(
    const Args& g, int r0, int b0, typename Step::Vec (&acc)[MR][NR]) {
  using Elem = typename Step::Elem;
  const Elem* w[NR];
  for (int j = 0; j < NR; ++j) w[j] = g.w->block(b0 + j);
  const Elem* const* rows = g.ind + static_cast<size_t>(r0) * g.taps;
  for (int t = 0; t < g.taps; ++t) {
    const Elem* a[MR];
    for (int i = 0; i < MR; ++i) a[i] = rows[i * g.taps + t];
    for (int c = 0; c < g.depth; ++c) {
      const int k = t * g.depth + c;
      typename Step::Vec wv[NR];
      for (int j = 0; j < NR; ++j) wv[j] = Step::load(w[j] + k * kLanes);
      for (int i = 0; i < MR; ++i) {
        const auto av = Step::broadcast(a[i][c]);
        for (int j = 0; j < NR; ++j) acc[i][j] = Step::step(av, wv[j], acc[i][j]);
      }
    }
  }
}

// One MR x (NR * 16) tile of the binary GEMM, output transform included.
template <int MR, int NR>
LCE_AVX512 void bgemm_tile(const BgemmArgs& g, int r0, int b0) {
  __m512i acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_si512();
  accumulate<BinaryStep>(g, r0, b0, acc);
  if (g.out_packed != nullptr) {
    const int out_words = packed_words(g.channels_out);
    const int blocks = g.w->blocks();
    for (int i = 0; i < MR; ++i) {
      auto* halves = reinterpret_cast<std::uint16_t*>(g.out_packed +
                                                      static_cast<size_t>(r0 + i) * out_words);
      for (int j = 0; j < NR; ++j) {
        const int b = b0 + j;
        const __m512i thr = _mm512_loadu_si512(g.thresholds + b * kLanes);
        const __mmask16 bits = _mm512_cmpgt_epi32_mask(acc[i][j], thr) &
                               lane_mask(g.channels_out - b * kLanes);
        halves[b] = static_cast<std::uint16_t>(bits);
        if (b == blocks - 1 && (blocks & 1)) halves[b + 1] = 0;
      }
    }
    return;
  }
  const __m512i cmin = _mm512_set1_epi32(g.clamp_min);
  const __m512i cmax = _mm512_set1_epi32(g.clamp_max);
  const __m512 rlo = _mm512_set1_ps(g.residual_clamp.lo);
  const __m512 rhi = _mm512_set1_ps(g.residual_clamp.hi);
  for (int j = 0; j < NR; ++j) {
    const int o = (b0 + j) * kLanes;
    const __m512 mul = _mm512_loadu_ps(g.mul + o);
    const __m512 bias = _mm512_loadu_ps(g.bias + o);
    const __mmask16 m = lane_mask(g.channels_out - o);
    for (int i = 0; i < MR; ++i) {
      __m512i x = _mm512_slli_epi32(acc[i][j], 1);
      x = _mm512_max_epi32(_mm512_min_epi32(x, cmax), cmin);
      // Multiply then add (no FMA): the same two roundings as LCE's kernels.
      __m512 y = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(x), mul), bias);
      const size_t at = static_cast<size_t>(r0 + i) * g.channels_out + o;
      if (g.residual != nullptr) {
        y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, g.residual + at));
        y = _mm512_min_ps(rhi, _mm512_max_ps(rlo, y));
      }
      _mm512_mask_storeu_ps(g.out_float + at, m, y);
    }
  }
}

struct BgemmTile {
  template <int MR, int NR>
  LCE_AVX512 static void run(const BgemmArgs& g, int r0, int b0) { bgemm_tile<MR, NR>(g, r0, b0); }
};

// Rows in tiles of MR, then one at a time, for the NR blocks from block b.
template <class Tile, int MR, int NR, class Args>
LCE_AVX512 void gemm_rows(const Args& g, int r, int r_end, int b) {
  for (; r + MR <= r_end; r += MR) Tile::template run<MR, NR>(g, r, b);
  for (; r < r_end; ++r) Tile::template run<1, NR>(g, r, b);
}

// Four blocks of 16 channels at a time, then the last one to three with taller tiles: the
// tile sizes that fill the 32 vector registers without spilling.
template <class Tile, class Args>
LCE_AVX512 void gemm_blocks(const Args& g, int row_begin, int row_end) {
  const int blocks = g.w->blocks();
  int b = 0;
  for (; b + 4 <= blocks; b += 4) gemm_rows<Tile, 6, 4>(g, row_begin, row_end, b);
  switch (blocks - b) {
    case 3: gemm_rows<Tile, 6, 3>(g, row_begin, row_end, b); break;
    case 2: gemm_rows<Tile, 8, 2>(g, row_begin, row_end, b); break;
    case 1: gemm_rows<Tile, 8, 1>(g, row_begin, row_end, b); break;
    default: break;
  }
}

LCE_AVX512 void bgemm_avx512(const BgemmArgs& g, int row_begin, int row_end) {
  gemm_blocks<BgemmTile>(g, row_begin, row_end);
}

template <int MR, int NR>
LCE_AVX512 void sgemm_tile(const SgemmArgs& g, int r0, int b0) {
  __m512 acc[MR][NR];
  for (int j = 0; j < NR; ++j) {
    const __m512 bias =
        g.bias != nullptr ? _mm512_loadu_ps(g.bias + (b0 + j) * kLanes) : _mm512_setzero_ps();
    for (int i = 0; i < MR; ++i) acc[i][j] = bias;
  }
  accumulate<FloatStep>(g, r0, b0, acc);
  const __m512 lo = _mm512_set1_ps(g.clamp.lo);
  const __m512 hi = _mm512_set1_ps(g.clamp.hi);
  for (int j = 0; j < NR; ++j) {
    const int o = (b0 + j) * kLanes;
    const __mmask16 m = lane_mask(g.channels_out - o);
    for (int i = 0; i < MR; ++i) {
      const __m512 y = _mm512_min_ps(hi, _mm512_max_ps(lo, acc[i][j]));
      _mm512_mask_storeu_ps(g.out + static_cast<size_t>(r0 + i) * g.ldc + o, m, y);
    }
  }
}

struct SgemmTile {
  template <int MR, int NR>
  LCE_AVX512 static void run(const SgemmArgs& g, int r0, int b0) { sgemm_tile<MR, NR>(g, r0, b0); }
};

LCE_AVX512 void sgemm_avx512(const SgemmArgs& g, int row_begin, int row_end) {
  gemm_blocks<SgemmTile>(g, row_begin, row_end);
}

// Depthwise convolution through the indirection table: 16 channels per vector (masked
// tails) and four output pixels at a time, so four FMA chains run side by side.
template <int MR>
LCE_AVX512 void depthwise_tile(const DepthwiseArgs& g, int r0, __m512 lo, __m512 hi) {
  const int c = g.channels;
  const float* const* rows = g.ind + static_cast<size_t>(r0) * g.taps;
  for (int c0 = 0; c0 < c; c0 += kLanes) {
    const __mmask16 m = lane_mask(c - c0);
    __m512 acc[MR];
    const __m512 bias = _mm512_maskz_loadu_ps(m, g.bias + c0);
    for (int i = 0; i < MR; ++i) acc[i] = bias;
    for (int t = 0; t < g.taps; ++t) {
      const __m512 k = _mm512_maskz_loadu_ps(m, g.weights + static_cast<size_t>(t) * c + c0);
      for (int i = 0; i < MR; ++i)
        acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, rows[i * g.taps + t] + c0), k, acc[i]);
    }
    for (int i = 0; i < MR; ++i)
      _mm512_mask_storeu_ps(g.out + static_cast<size_t>(r0 + i) * c + c0, m,
                            _mm512_min_ps(hi, _mm512_max_ps(lo, acc[i])));
  }
}

LCE_AVX512 void depthwise_avx512(const DepthwiseArgs& g, int row_begin, int row_end) {
  const __m512 lo = _mm512_set1_ps(g.clamp.lo);
  const __m512 hi = _mm512_set1_ps(g.clamp.hi);
  int r = row_begin;
  for (; r + 4 <= row_end; r += 4) depthwise_tile<4>(g, r, lo, hi);
  for (; r < row_end; ++r) depthwise_tile<1>(g, r, lo, hi);
}

// Max / average pooling through the indirection table, four pixels per step.
template <int MR, bool kMax>
LCE_AVX512 void pool_tile(const PoolArgs& g, int r0, __m512 lo, __m512 hi) {
  const int c = g.channels;
  const float* const* rows = g.ind + static_cast<size_t>(r0) * g.taps;
  for (int c0 = 0; c0 < c; c0 += kLanes) {
    const __mmask16 m = lane_mask(c - c0);
    __m512 acc[MR];
    for (int i = 0; i < MR; ++i) acc[i] = _mm512_maskz_loadu_ps(m, rows[i * g.taps] + c0);
    for (int t = 1; t < g.taps; ++t) {
      for (int i = 0; i < MR; ++i) {
        const __m512 x = _mm512_maskz_loadu_ps(m, rows[i * g.taps + t] + c0);
        // max(x, acc) keeps acc when x is NaN, as TFLite's max pooling does.
        acc[i] = kMax ? _mm512_max_ps(x, acc[i]) : _mm512_add_ps(acc[i], x);
      }
    }
    for (int i = 0; i < MR; ++i) {
      __m512 y = acc[i];
      if (!kMax) y = _mm512_div_ps(y, _mm512_set1_ps(g.divisors[r0 + i]));
      _mm512_mask_storeu_ps(g.out + static_cast<size_t>(r0 + i) * c + c0, m,
                            _mm512_min_ps(hi, _mm512_max_ps(lo, y)));
    }
  }
}

template <bool kMax>
LCE_AVX512 void pool_rows(const PoolArgs& g, int row_begin, int row_end) {
  const __m512 lo = _mm512_set1_ps(g.clamp.lo);
  const __m512 hi = _mm512_set1_ps(g.clamp.hi);
  int r = row_begin;
  for (; r + 4 <= row_end; r += 4) pool_tile<4, kMax>(g, r, lo, hi);
  for (; r < row_end; ++r) pool_tile<1, kMax>(g, r, lo, hi);
}

LCE_AVX512 void pool_avx512(const PoolArgs& g, int row_begin, int row_end) {
  if (g.is_max) {
    pool_rows<true>(g, row_begin, row_end);
  } else {
    pool_rows<false>(g, row_begin, row_end);
  }
}

// Independent xor-popcount-add chains: the core's binary-MAC peak. The one operand that
// changes comes from a small L1-resident table, so nothing can be hoisted out of the loop.
LCE_AVX512 double popcount_peak_avx512(long long iterations, const Word* table) {
  constexpr int kChains = 8;  // 8 accumulators + 8 operands + temporaries fit in 32 zmm
  __m512i acc[kChains];
  __m512i x[kChains];
  for (int i = 0; i < kChains; ++i) {
    acc[i] = _mm512_setzero_si512();
    x[i] = _mm512_set1_epi32(0x5A5A5A5A + i);
  }
  for (long long n = 0; n < iterations; ++n) {
    const __m512i w = _mm512_loadu_si512(table + (n & 63) * kLanes);
    for (int i = 0; i < kChains; ++i)
      acc[i] = _mm512_add_epi32(acc[i], _mm512_popcnt_epi32(_mm512_xor_si512(x[i], w)));
  }
  __m512i sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm512_add_epi32(sum, acc[i]);
  // Lane by lane in double: the 16 lanes' total can pass INT_MAX, which the header's
  // int reduction (_mm512_reduce_add_epi32) would overflow.
  alignas(64) std::uint32_t lanes[kLanes];
  _mm512_store_si512(lanes, sum);
  double total = 512.0 * kChains;
  for (const std::uint32_t lane : lanes) total += lane;
  return total;
}

// Independent FMA chains on registers: the core's float-MAC peak. 12 accumulators cover
// the FMA latency (4 cycles) times its two ports with room to spare.
LCE_AVX512 double fma_peak_avx512(long long iterations) {
  constexpr int kChains = 12;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  // acc * a + b converges to b / (1 - a): the values stay finite at any iteration count.
  const __m512 a = _mm512_set1_ps(0.999f);
  const __m512 b = _mm512_set1_ps(1e-3f);
  for (long long n = 0; n < iterations; ++n) {
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  return static_cast<double>(_mm512_reduce_add_ps(sum));
}

// The best rate of several short trials of `trial` (which returns a value to keep alive):
// on a shared machine the slowest trials measure the neighbours, not the core.
template <typename Trial>
double best_rate(double operations_per_trial, Trial&& trial) {
  double best = 0.0;
  for (int t = 0; t < 25; ++t) {
    const auto start = std::chrono::steady_clock::now();
    const double sink = trial();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    volatile double keep = sink;  // the result must stay observable
    (void)keep;
    best = std::max(best, operations_per_trial / seconds);
  }
  return best;
}

}  // namespace

// Binary MACs per second of one core at the xor-popcount peak (0 without AVX-512).
double popcount_peak_macs_per_s() {
  if (avx512_kernels() == nullptr) return 0.0;
  constexpr long long kIterations = 2000000;
  std::vector<Word> table(64 * kLanes);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<Word>(i * 2654435761u);
  return best_rate(8.0 * 512.0 * static_cast<double>(kIterations),
                   [&] { return popcount_peak_avx512(kIterations, table.data()); });
}

// Float MACs per second of one core at the FMA peak (0 without AVX-512).
double fma_peak_macs_per_s() {
  if (avx512_kernels() == nullptr) return 0.0;
  constexpr long long kIterations = 1000000;
  return best_rate(12.0 * 16.0 * static_cast<double>(kIterations),
                   [] { return fma_peak_avx512(kIterations); });
}

const KernelSet* avx512_kernels() {
  static const KernelSet set{"avx512", bitpack_avx512, bgemm_avx512, sgemm_avx512,
                               depthwise_avx512, pool_avx512, add_glue};
  __builtin_cpu_init();
  const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("fma");
  return ok ? &set : nullptr;
}

}  // namespace lce_native
