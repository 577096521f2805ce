// Helpers shared by the op implementations: option access, conv geometry, activations.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "model.h"

namespace lce_native {

inline int opt_int(const Op& op, const std::string& key) {
  auto it = op.options.find(key);
  if (it == op.options.end()) fail(op, "missing option '" + key + "'");
  return static_cast<int>(it->second);
}

inline int opt_int(const Op& op, const std::string& key, int fallback) {
  auto it = op.options.find(key);
  return it == op.options.end() ? fallback : static_cast<int>(it->second);
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

// padding: 0 = SAME, 1 = VALID (TFLite's Padding enum).
inline Window make_window(const Op& op, int in_h, int in_w, int k_h, int k_w, int stride_h,
                          int stride_w, int dil_h, int dil_w, int padding) {
  Window w;
  w.in_h = in_h, w.in_w = in_w, w.k_h = k_h, w.k_w = k_w;
  w.stride_h = stride_h, w.stride_w = stride_w, w.dil_h = dil_h, w.dil_w = dil_w;
  if (stride_h < 1 || stride_w < 1 || dil_h < 1 || dil_w < 1)
    fail(op, "strides and dilations must be >= 1");
  if (padding == 0) {
    w.out_h = (in_h + stride_h - 1) / stride_h;
    w.out_w = (in_w + stride_w - 1) / stride_w;
  } else if (padding == 1) {
    w.out_h = (in_h - w.eff_h() + stride_h) / stride_h;
    w.out_w = (in_w - w.eff_w() + stride_w) / stride_w;
  } else {
    fail(op, "unknown padding " + std::to_string(padding));
  }
  if (w.out_h < 1 || w.out_w < 1) fail(op, "the window is larger than the input");
  w.pad_top = std::max(0, ((w.out_h - 1) * stride_h + w.eff_h() - in_h) / 2);
  w.pad_left = std::max(0, ((w.out_w - 1) * stride_w + w.eff_w() - in_w) / 2);
  return w;
}

inline void expect_shape(const Op& op, const Tensor& t, const std::vector<int>& shape) {
  if (t.shape != shape) {
    std::string want, got;
    for (int d : shape) want += std::to_string(d) + ",";
    for (int d : t.shape) got += std::to_string(d) + ",";
    fail(op, "tensor '" + t.name + "' has shape [" + got + "] but the op computes [" + want +
                 "]");
  }
}

inline void expect_type(const Op& op, const Tensor& t, DType type, const char* what) {
  if (t.type != type) fail(op, std::string("tensor '") + t.name + "' must be " + what);
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
