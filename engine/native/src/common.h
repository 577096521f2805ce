// Shared types of the native BNN engine: tensors, kernel arguments, dispatch table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lce_native {

using Word = std::uint32_t;  // one bitpacked word: 32 channels, LSB first, bit 1 = -1
constexpr int kWordBits = 32;
constexpr int kLanes = 16;  // output channels per packed-weight block

// Written so that no channel count a file can claim (up to INT_MAX) overflows.
inline int packed_words(int channels) {
  return channels <= 0 ? 0 : (channels - 1) / kWordBits + 1;
}

// kBool is one byte per element, 0 or 1 as written by an op (any non-zero byte reads true).
// kInt8 is TFLite's affine-quantized int8: real = scale * (q - zero_point).
enum class DType { kFloat32, kInt32, kInt64, kBool, kInt8 };

inline const char* dtype_name(DType type) {
  switch (type) {
    case DType::kFloat32: return "float32";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kBool: return "bool";
    case DType::kInt8: return "int8";
  }
  return "?";
}

// Output clamp of a fused activation (TFLite's ActivationFunctionType).
struct Clamp {
  float lo;
  float hi;
};

// Spatial geometry of a convolution or pooling window (TFLite's padding rules).
struct Window {
  int in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int k_h = 1, k_w = 1, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int pad_top = 0, pad_left = 0;

  int eff_h() const { return (k_h - 1) * dil_h + 1; }
  int eff_w() const { return (k_w - 1) * dil_w + 1; }
};

// Depthwise convolution with multiplier 1 over NHWC rows; weights are [tap][channel];
// at most 64 taps.
struct DepthwiseArgs {
  const float* in = nullptr;
  float* out = nullptr;
  Window w;
  int channels = 0;
  const float* weights = nullptr;
  const float* bias = nullptr;  // channels entries
  Clamp clamp{};
  // Indirection table as in SgemmArgs (outside taps point at zeros): rows x taps.
  const float* const* ind = nullptr;
  int taps = 0;
};

// Max or average pooling (average divides by the taps inside the input).
struct PoolArgs {
  const float* in = nullptr;
  float* out = nullptr;
  Window w;
  int channels = 0;
  bool is_max = true;
  Clamp clamp{};
  // Indirection table (rows x taps): outside taps point at -inf (max) or zeros (average);
  // divisors[row] is the number of inside taps.
  const float* const* ind = nullptr;
  int taps = 0;
  const float* divisors = nullptr;
};

// One output-channel-blocked weight matrix: block b holds k-major rows of 16 lanes.
// Element (k, o) sits at data[(o / 16) * k_size * 16 + k * 16 + o % 16]; lanes past the
// real channel count are zero.
template <typename T>
struct PackedBlocks {
  std::vector<T> data;
  int k_size = 0;
  int channels = 0;
  int blocks() const { return (channels + kLanes - 1) / kLanes; }
  const T* block(int b) const { return data.data() + static_cast<size_t>(b) * k_size * kLanes; }
};

// Binary GEMM with LCE's output transform: rows are output pixels, columns output channels.
// acc = popcount(row XOR weight) over k_words words.
// Rows are read through an indirection table: ind[row * taps + t] points at the `depth`
// words of tap t (an input pixel, or a zero row outside the image), so no im2col copy.
struct BgemmArgs {
  const Word* const* ind = nullptr;
  int taps = 1;
  int depth = 0;    // words per tap
  int k_words = 0;  // taps * depth
  const PackedBlocks<Word>* w = nullptr;
  int channels_out = 0;
  // Float output: y = float(clamp(2 * acc, clamp_min, clamp_max)) * mul[o] + bias[o].
  const float* mul = nullptr;
  const float* bias = nullptr;
  std::int32_t clamp_min = 0;
  std::int32_t clamp_max = 0;
  float* out_float = nullptr;  // rows x channels_out
  // Optional fused residual ADD after the transform: y = clamp(y + residual[r][o]).
  const float* residual = nullptr;
  Clamp residual_clamp{};
  // Bitpacked output: bit o = acc > thresholds[o].
  const std::int32_t* thresholds = nullptr;
  Word* out_packed = nullptr;  // rows x packed_words(channels_out)
};

// Float GEMM: out[r][o] = clamp(sum_k a[r][k] * w[k][o] + bias[o]).
struct SgemmArgs {
  const float* const* ind = nullptr;  // as in BgemmArgs: ind[row * taps + t] -> depth floats
  int taps = 1;
  int depth = 0;
  int k_size = 0;  // taps * depth
  const PackedBlocks<float>* w = nullptr;
  const float* bias = nullptr;  // may be null
  Clamp clamp{};
  int channels_out = 0;
  float* out = nullptr;
  int ldc = 0;
};

// The hot kernels, selected once per process by CPU features.
struct KernelSet {
  const char* name;
  // Bitpack `rows` rows of `channels` floats (x < 0 -> bit 1) into packed_words(channels) each.
  void (*bitpack)(const float* in, int rows, int channels, Word* out);
  // Rows [row_begin, row_end) of a binary GEMM.
  void (*bgemm)(const BgemmArgs& args, int row_begin, int row_end);
  // Rows [row_begin, row_end) of a float GEMM.
  void (*sgemm)(const SgemmArgs& args, int row_begin, int row_end);
  // Output rows [row_begin, row_end) (row = pixel index over batch, y, x).
  void (*depthwise)(const DepthwiseArgs& args, int row_begin, int row_end);
  void (*pool)(const PoolArgs& args, int row_begin, int row_end);
  // out[i] = clamp(a[i] + b[i]) for i in [begin, end).
  void (*add)(const float* a, const float* b, float* out, Clamp clamp, size_t begin, size_t end);
};

const KernelSet& portable_kernels();
const KernelSet* avx2_kernels();    // nullptr when the CPU lacks AVX2/FMA
const KernelSet* avx512_kernels();  // nullptr when the CPU lacks AVX-512 F/BW/VPOPCNTDQ
// "auto" picks the best the CPU has (portable when LCE_NAS_NATIVE_PORTABLE=1);
// "portable", "avx2", "avx512" force one and throw if the CPU lacks it.
const KernelSet& select_kernels(const std::string& request);

// Binary MACs per second of one core measured with register-only xor-popcount chains
// (AVX-512 VPOPCNTDQ; 0 when the CPU lacks it).
double popcount_peak_macs_per_s();
// Float MACs per second of one core measured with register-only FMA chains (AVX-512;
// 0 when the CPU lacks it).
double fma_peak_macs_per_s();

// Reference pieces shared by all kernel sets (portable C++).
void bitpack_portable(const float* in, int rows, int channels, Word* out);
void bgemm_portable(const BgemmArgs& args, int row_begin, int row_end);
void sgemm_portable(const SgemmArgs& args, int row_begin, int row_end);

// Fixed pool of worker threads; parallel_for splits [0, n) into contiguous chunks.
class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int size() const { return num_threads_; }
  // fn(begin, end) over chunks of [0, n); chunks never split `grain` boundaries.
  void parallel_for(int n, int grain, const std::function<void(int, int)>& fn);

 private:
  struct Impl;
  Impl* impl_ = nullptr;
  int num_threads_ = 1;
};

}  // namespace lce_native
