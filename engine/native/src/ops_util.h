// Helpers shared by the op implementations: option access, conv geometry, activations.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "model.h"

namespace lce_native {

// An integer option; NaN, fractions of huge values and numbers past int range are refused
// (casting them would be undefined behaviour).
inline int option_as_int(const Op& op, const std::string& key, double value) {
  if (!(value >= -2147483648.0 && value <= 2147483647.0))
    fail(op, "option '" + key + "' = " + std::to_string(value) + " is out of range");
  return static_cast<int>(value);
}

inline int opt_int(const Op& op, const std::string& key) {
  auto it = op.options.find(key);
  if (it == op.options.end()) fail(op, "missing option '" + key + "'");
  return option_as_int(op, key, it->second);
}

inline int opt_int(const Op& op, const std::string& key, int fallback) {
  auto it = op.options.find(key);
  return it == op.options.end() ? fallback : option_as_int(op, key, it->second);
}

inline float opt_float(const Op& op, const std::string& key, float fallback) {
  auto it = op.options.find(key);
  return it == op.options.end() ? fallback : static_cast<float>(it->second);
}

// TFLite's fused activations (ActivationFunctionType) as a clamp.
inline Clamp activation_clamp(const Op& op, int code) {
  const float inf = std::numeric_limits<float>::infinity();
  switch (code) {
    case 0: return {-inf, inf};
    case 1: return {0.0f, inf};
    case 2: return {-1.0f, 1.0f};
    case 3: return {0.0f, 6.0f};
    default: fail(op, "fused activation " + std::to_string(code) + " is not supported");
  }
}

inline float clampf(float x, Clamp c) { return std::min(std::max(x, c.lo), c.hi); }

// Largest window side or stride accepted: far beyond any real model, small enough that
// every window product below stays exact in 64 bits.
constexpr std::int64_t kMaxWindow = 1 << 16;
constexpr std::int64_t kMaxDilatedWindow = 1 << 24;

// padding: 0 = SAME, 1 = VALID (TFLite's Padding enum).
inline Window make_window(const Op& op, int in_h, int in_w, int k_h, int k_w, int stride_h,
                          int stride_w, int dil_h, int dil_w, int padding) {
  Window w;
  w.in_h = in_h, w.in_w = in_w, w.k_h = k_h, w.k_w = k_w;
  w.stride_h = stride_h, w.stride_w = stride_w, w.dil_h = dil_h, w.dil_w = dil_w;
  if (stride_h < 1 || stride_w < 1 || dil_h < 1 || dil_w < 1)
    fail(op, "strides and dilations must be >= 1");
  if (k_h < 1 || k_w < 1) fail(op, "the window must be at least 1x1");
  if (in_h < 1 || in_w < 1) fail(op, "the input has no pixels");
  for (std::int64_t v : {k_h, k_w, stride_h, stride_w, dil_h, dil_w})
    if (v > kMaxWindow) fail(op, "window, stride or dilation over " + std::to_string(kMaxWindow));
  // 64-bit arithmetic: (k - 1) * dilation and the padding sums overflow int otherwise.
  const std::int64_t eff_h = (std::int64_t{k_h} - 1) * dil_h + 1;
  const std::int64_t eff_w = (std::int64_t{k_w} - 1) * dil_w + 1;
  // Kernels index taps as oy * stride - pad + ky * dilation in int: keep each term small.
  if (eff_h > kMaxDilatedWindow || eff_w > kMaxDilatedWindow)
    fail(op, "the dilated window is over " + std::to_string(kMaxDilatedWindow) + " pixels");
  std::int64_t out_h = 0, out_w = 0;
  if (padding == 0) {
    out_h = (std::int64_t{in_h} + stride_h - 1) / stride_h;
    out_w = (std::int64_t{in_w} + stride_w - 1) / stride_w;
  } else if (padding == 1) {
    out_h = eff_h > in_h ? 0 : (in_h - eff_h + stride_h) / stride_h;
    out_w = eff_w > in_w ? 0 : (in_w - eff_w + stride_w) / stride_w;
  } else {
    fail(op, "unknown padding " + std::to_string(padding));
  }
  if (out_h < 1 || out_w < 1) fail(op, "the window is larger than the input");
  w.out_h = static_cast<int>(out_h);
  w.out_w = static_cast<int>(out_w);
  const std::int64_t pad_h = ((out_h - 1) * stride_h + eff_h - in_h) / 2;
  const std::int64_t pad_w = ((out_w - 1) * stride_w + eff_w - in_w) / 2;
  w.pad_top = static_cast<int>(std::max<std::int64_t>(0, pad_h));
  w.pad_left = static_cast<int>(std::max<std::int64_t>(0, pad_w));
  return w;
}

// Pixels times taps of a window over `batch` images: the size of its indirection table,
// charged against the model's memory cap (a 65536x65536 window is refused here).
inline size_t window_taps(Model& m, const Op& op, const Window& w, int batch,
                          size_t entry_bytes) {
  const size_t limit = kDefaultMaxBytes * 4;
  const size_t taps = checked_mul(op, static_cast<size_t>(w.k_h), static_cast<size_t>(w.k_w),
                                  limit, "the window");
  size_t rows = checked_mul(op, static_cast<size_t>(batch), static_cast<size_t>(w.out_h), limit,
                            "the output");
  rows = checked_mul(op, rows, static_cast<size_t>(w.out_w), limit, "the output");
  const size_t entries = checked_mul(op, rows, taps, limit, "the window table");
  m.charge(op, checked_mul(op, entries, entry_bytes, limit, "the window table"),
           "the window table");
  return taps;
}

inline void expect_shape(const Op& op, const Tensor& t, const std::vector<int>& shape) {
  if (t.shape != shape) {
    std::string want, got;
    for (int d : shape) want += (want.empty() ? "" : ",") + std::to_string(d);
    for (int d : t.shape) got += (got.empty() ? "" : ",") + std::to_string(d);
    fail(op, "tensor '" + t.name + "' has shape [" + got + "] but the op computes [" + want +
                 "]");
  }
}

inline void expect_type(const Op& op, const Tensor& t, DType type, const char* what) {
  if (t.type != type) fail(op, std::string("tensor '") + t.name + "' must be " + what);
}

inline void expect_rank(const Op& op, const Tensor& t, int rank) {
  if (t.rank() != rank)
    fail(op, "tensor '" + t.name + "' has rank " + std::to_string(t.rank()) + ", the op needs " +
                 std::to_string(rank));
}

inline void expect_constant(const Op& op, const Tensor& t, const char* what) {
  if (!t.constant) fail(op, std::string(what) + " '" + t.name + "' must be a constant");
}

// Per-axis steps, in elements, through a tensor's memory (0 on a broadcast axis,
// negative on a reversed one).
using Steps = std::vector<std::int64_t>;

// The row-major strides of `shape`, in elements.
inline Steps strides_of(const std::vector<int>& shape) {
  Steps strides(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

// f(i, at, n) for every row of an output of `shape` (its innermost axis, n elements from
// element i on), in row-major order, where at[k] = start[k] + sum_d idx_d * steps[k][d] is
// the element of input k that the row's first element maps to: broadcasting, transposes
// and strided slices are all such walks. Whole rows let the caller's loop vectorise.
template <size_t N, typename F>
void for_each_strided_row(const std::vector<int>& shape, const std::array<Steps, N>& steps,
                          std::array<std::int64_t, N> at, F&& f) {
  const int rank = static_cast<int>(shape.size());
  const int n = rank == 0 ? 1 : shape[rank - 1];
  size_t rows = 1;
  for (int d = 0; d + 1 < rank; ++d) rows *= static_cast<size_t>(shape[d]);
  if (n == 0) return;
  std::vector<int> idx(rank, 0);
  for (size_t r = 0; r < rows; ++r) {
    f(r * static_cast<size_t>(n), at, n);
    for (int d = rank - 2; d >= 0; --d) {
      for (size_t k = 0; k < N; ++k) at[k] += steps[k][d];
      if (++idx[d] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) at[k] -= steps[k][d] * shape[d];
      idx[d] = 0;
    }
  }
}

// Strides of `t` seen through NumPy broadcasting to `shape` (0 where broadcast).
inline Steps broadcast_strides(const Op& op, const Tensor& t, const std::vector<int>& shape) {
  const int rank = static_cast<int>(shape.size());
  Steps strides(rank, 0);
  std::int64_t stride = 1;
  for (int i = t.rank() - 1, j = rank - 1; i >= 0; --i, --j) {
    if (j < 0) fail(op, "input has a higher rank than the output");
    if (t.shape[i] == shape[j]) {
      strides[j] = stride;
    } else if (t.shape[i] != 1) {
      fail(op, "shapes cannot be broadcast");
    }
    stride *= t.shape[i];
  }
  return strides;
}

// The step of each input along the innermost axis of a walk (0 for a rank-0 output).
template <size_t N>
std::array<std::int64_t, N> inner_steps(const std::array<Steps, N>& steps) {
  std::array<std::int64_t, N> inner{};
  for (size_t k = 0; k < N; ++k) inner[k] = steps[k].empty() ? 0 : steps[k].back();
  return inner;
}

// f(i, at) for every element i of an output of `shape`: the row walk, element by element.
template <size_t N, typename F>
void for_each_strided(const std::vector<int>& shape, const std::array<Steps, N>& steps,
                      std::array<std::int64_t, N> at, F&& f) {
  const std::array<std::int64_t, N> inner = inner_steps(steps);
  for_each_strided_row<N>(shape, steps, at, [&](size_t i, std::array<std::int64_t, N> a, int n) {
    for (int j = 0; j < n; ++j) {
      f(i + static_cast<size_t>(j), a);
      for (size_t k = 0; k < N; ++k) a[k] += inner[k];
    }
  });
}

// A constant int32 or int64 tensor's values (shapes, axes, paddings, slice bounds).
inline std::vector<std::int64_t> const_ints(const Op& op, const Tensor& t, const char* what) {
  expect_constant(op, t, what);
  if (t.type != DType::kInt32 && t.type != DType::kInt64)
    fail(op, std::string(what) + " '" + t.name + "' must be integers");
  std::vector<std::int64_t> v(t.elements());
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = t.type == DType::kInt64 ? t.data<std::int64_t>()[i] : t.data<std::int32_t>()[i];
  return v;
}

// A dimension the op divides by or loops over per element: at least 1.
inline int positive_dim(const Op& op, const Tensor& t, int i, const char* what) {
  const int d = t.dim(i);
  if (d < 1) fail(op, "tensor '" + t.name + "' has " + what + " " + std::to_string(d));
  return d;
}

// f(pixel, tap) for each tap of output `row`'s window that lies inside the input, where
// `pixel` is the input pixel's index in NHW order: outside taps add nothing.
template <typename F>
void for_each_inside_tap(const Window& v, int row, F&& f) {
  const int n = row / (v.out_h * v.out_w), oy = (row / v.out_w) % v.out_h, ox = row % v.out_w;
  for (int ky = 0; ky < v.k_h; ++ky) {
    const int iy = oy * v.stride_h - v.pad_top + ky * v.dil_h;
    if (iy < 0 || iy >= v.in_h) continue;
    for (int kx = 0; kx < v.k_w; ++kx) {
      const int ix = ox * v.stride_w - v.pad_left + kx * v.dil_w;
      if (ix < 0 || ix >= v.in_w) continue;
      f((static_cast<size_t>(n) * v.in_h + iy) * v.in_w + ix, ky * v.k_w + kx);
    }
  }
}


// A pooling window over a 4-D input read from the op's options, whose names differ between
// TFLite and LCE ({filter h, filter w, stride h, stride w}); the output keeps the channels.
inline Window pool_window(const Op& op, const Tensor& in, const Tensor& out,
                          const std::array<const char*, 4>& keys) {
  expect_rank(op, in, 4);
  const Window w = make_window(op, in.dim(1), in.dim(2), opt_int(op, keys[0]), opt_int(op, keys[1]),
                               opt_int(op, keys[2]), opt_int(op, keys[3]), 1, 1,
                               opt_int(op, "padding"));
  expect_shape(op, out, {in.dim(0), w.out_h, w.out_w, in.dim(3)});
  return w;
}

// Weights given as w(o, k) packed into the GEMM kernels' (k, o) blocks of kLanes output
// channels, zero past `channels`.
template <typename T>
PackedBlocks<T> pack_blocks(const T* w_ok, int channels, int k_size) {
  PackedBlocks<T> p;
  p.k_size = k_size;
  p.channels = channels;
  p.data.assign(static_cast<size_t>(p.blocks()) * k_size * kLanes, T{});
  for (int o = 0; o < channels; ++o)
    for (int k = 0; k < k_size; ++k)
      p.data[(static_cast<size_t>(o / kLanes) * k_size + k) * kLanes + o % kLanes] =
          w_ok[static_cast<size_t>(o) * k_size + k];
  return p;
}

// Indirection table for an indirect GEMM: entry [row * taps + tap] points at the `depth`
// elements of the input pixel under that tap, or at `zero` where the tap is outside.
// Tensor storage never moves, so the table is built once at prepare time.
template <typename T>
std::vector<const T*> make_indirection(const T* in, int batch, const Window& w, int depth,
                                       const T* zero) {
  const int taps = w.k_h * w.k_w;
  std::vector<const T*> ind(static_cast<size_t>(batch) * w.out_h * w.out_w * taps);
  size_t i = 0;
  for (int n = 0; n < batch; ++n)
    for (int oy = 0; oy < w.out_h; ++oy)
      for (int ox = 0; ox < w.out_w; ++ox)
        for (int ky = 0; ky < w.k_h; ++ky)
          for (int kx = 0; kx < w.k_w; ++kx) {
            const int iy = oy * w.stride_h - w.pad_top + ky * w.dil_h;
            const int ix = ox * w.stride_w - w.pad_left + kx * w.dil_w;
            const bool inside = iy >= 0 && iy < w.in_h && ix >= 0 && ix < w.in_w;
            ind[i++] = inside ? in + ((static_cast<size_t>(n) * w.in_h + iy) * w.in_w + ix) * depth
                              : zero;
          }
  return ind;
}

}  // namespace lce_native
