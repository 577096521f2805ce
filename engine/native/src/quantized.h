// What the int8 ops share: TFLite's fixed-point requantization, saturation, and the
// checks of quantized tensors (one scale and zero point per activation, per-channel
// weights).
#pragma once

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "ops_util.h"

namespace lce_native {

// -- fixed-point arithmetic (TFLite's kernels/internal/common.h) ------------------------

// A real multiplier as a Q31 mantissa and a power-of-two exponent.
struct Multiplier {
  std::int32_t mantissa = 0;
  int shift = 0;
};

inline Multiplier quantize_multiplier(double real) {
  if (real == 0.0 || !std::isfinite(real)) return {};  // a NaN alpha, say: the file's own
  int shift = 0;
  const double q = std::frexp(real, &shift);
  auto fixed = static_cast<std::int64_t>(std::round(q * (1LL << 31)));
  if (fixed == (1LL << 31)) fixed /= 2, ++shift;
  if (shift < -31) return {};
  // Past 2^30 every product saturates anyway; a larger shift would overflow (as TFLite).
  if (shift > 30) return {std::numeric_limits<std::int32_t>::max(), 30};
  return {static_cast<std::int32_t>(fixed), shift};
}

inline std::int32_t rounding_doubling_high_mul(std::int32_t a, std::int32_t b) {
  if (a == b && a == std::numeric_limits<std::int32_t>::min())
    return std::numeric_limits<std::int32_t>::max();
  const std::int64_t ab = static_cast<std::int64_t>(a) * b;
  const std::int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
  return static_cast<std::int32_t>((ab + nudge) / (1LL << 31));
}

inline std::int32_t rounding_divide_by_pot(std::int32_t x, int exponent) {
  const std::int32_t mask = static_cast<std::int32_t>((1LL << exponent) - 1);
  const std::int32_t remainder = x & mask;
  const std::int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

inline std::int32_t requantize(std::int32_t x, Multiplier m) {
  const int left = m.shift > 0 ? m.shift : 0, right = m.shift > 0 ? 0 : -m.shift;
  return rounding_divide_by_pot(
      rounding_doubling_high_mul(static_cast<std::int32_t>(x * (1LL << left)), m.mantissa),
      right);
}

// Sums are taken in 64 bits (a file's bias or shape may push 32 past their range); the
// fixed-point multiply takes them back in 32, and a level saturates to [lo, hi].
inline std::int32_t narrow(std::int64_t x) {
  const std::int64_t lo = std::numeric_limits<std::int32_t>::min();
  const std::int64_t hi = std::numeric_limits<std::int32_t>::max();
  return static_cast<std::int32_t>(std::min(std::max(x, lo), hi));
}

inline std::int8_t saturate(std::int64_t x, int lo, int hi) {
  return static_cast<std::int8_t>(std::min<std::int64_t>(std::max<std::int64_t>(x, lo), hi));
}

// A whole number held as a float (a rounded level plus its zero point), saturated to
// int8: inputs and scales come from the file, so it may be huge, infinite or NaN.
inline std::int8_t saturate_level(double level) {
  if (!(level >= -128.0)) return -128;  // NaN too
  return static_cast<std::int8_t>(std::min(level, 127.0));
}

// -- tensor checks ------------------------------------------------------------------------

inline void expect_int8(const Op& op, const Tensor& t) {
  expect_type(op, t, DType::kInt8, "int8 (every tensor of a quantized op is int8)");
  if (t.quant.scales.empty()) fail(op, "int8 tensor '" + t.name + "' has no scale");
}

// The one scale and zero point of an activation tensor (per-axis ones are for weights).
struct Affine {
  double scale;
  std::int32_t zero_point;
};
inline Affine affine(const Op& op, const Tensor& t) {
  expect_int8(op, t);
  if (t.quant.scales.size() != 1)
    fail(op, "tensor '" + t.name + "' has per-channel quantization (only weights may)");
  return {t.quant.scales[0], t.quant.zero_points[0]};
}

// Inputs 0 and 1 (data and weights, or two operands) and output 0 of an op.
struct TwoInOne {
  const Tensor& a;
  const Tensor& b;
  const Tensor& out;
};
inline TwoInOne two_in_one(Model& m, const Op& op) {
  return {m.input(op, 0), m.input(op, 1), m.output(op, 0)};
}

// Input 0 and output 0 of a one-in, one-out int8 op, with their scales and zero points.
struct Int8InOut {
  const Tensor& in;
  const Tensor& out;
  Affine qi, qo;
};
inline Int8InOut int8_in_out(Model& m, const Op& op) {
  const Tensor& in = m.input(op, 0);
  const Tensor& out = m.output(op, 0);
  return {in, out, affine(op, in), affine(op, out)};
}

// The same, for an op that moves values without rescaling them (pooling, padding).
inline Int8InOut same_scale_in_out(Model& m, const Op& op) {
  Int8InOut t = int8_in_out(m, op);
  if (t.qi.scale != t.qo.scale || t.qi.zero_point != t.qo.zero_point)
    fail(op, "output '" + t.out.name + "' is quantized unlike its input");
  return t;
}

// The int8 range a fused activation leaves (TFLite's CalculateActivationRangeQuantized).
inline std::pair<int, int> activation_range(const Op& op, const Affine& out) {
  const int code = opt_int(op, "fused_activation_function", 0);
  const auto q = [&](float v) {
    return static_cast<int>(saturate_level(std::round(v / static_cast<float>(out.scale)) + out.zero_point));
  };
  int lo = -128, hi = 127;
  if (code == 1) lo = std::max(lo, q(0.0f));
  if (code == 2) lo = std::max(lo, q(-1.0f)), hi = std::min(hi, q(1.0f));
  if (code == 3) lo = std::max(lo, q(0.0f)), hi = std::min(hi, q(6.0f));
  if (code < 0 || code > 3) fail(op, "fused activation " + std::to_string(code) + " is not supported");
  return {lo, hi};
}

// Per-output-channel requantization of a weighted op: input scale x weight scale / output.
inline std::vector<Multiplier> channel_multipliers(const Op& op, const Tensor& weights, int axis,
                                            int channels, double in_scale, double out_scale) {
  const auto& q = weights.quant;
  expect_int8(op, weights);
  if (q.scales.size() != 1 && (q.axis != axis || q.scales.size() != static_cast<size_t>(channels)))
    fail(op, "weights '" + weights.name + "' are not quantized per output channel");
  for (std::int32_t z : q.zero_points)
    if (z != 0) fail(op, "weights '" + weights.name + "' have a non-zero zero point");
  std::vector<Multiplier> m(channels);
  for (int c = 0; c < channels; ++c)
    m[c] = quantize_multiplier(in_scale * q.scales[q.scales.size() == 1 ? 0 : c] / out_scale);
  return m;
}

// A constant int32 bias with one entry per output channel, or zeros where it is left out.
inline std::vector<std::int32_t> int_bias(Model& m, const Op& op, size_t index, int channels) {
  std::vector<std::int32_t> bias(channels, 0);
  if (index >= op.inputs.size() || op.inputs[index] < 0) return bias;
  const Tensor& b = m.tensor(op.inputs[index]);
  expect_type(op, b, DType::kInt32, "an int32 bias");
  expect_constant(op, b, "bias");
  if (b.elements() != static_cast<size_t>(channels))
    fail(op, "bias '" + b.name + "' does not have one entry per output channel");
  std::copy(b.data<std::int32_t>(), b.data<std::int32_t>() + channels, bias.begin());
  return bias;
}

}  // namespace lce_native
