// Full-integer (int8) ops, computed as TFLite's integer reference kernels compute them:
// int32 accumulators over (q - zero_point) and fixed-point requantization, so results
// match LCE's interpreter to the last bit or, where its XNNPACK delegate rounds in float
// (its requantization, QUANTIZE, MEAN, SOFTMAX), to one unit.
#include <array>
#include <cmath>
#include <cstring>

#include "ops_util.h"

namespace lce_native {
namespace {

// -- fixed-point arithmetic (TFLite's kernels/internal/common.h) ------------------------

// A real multiplier as a Q31 mantissa and a power-of-two exponent.
struct Multiplier {
  std::int32_t mantissa = 0;
  int shift = 0;
};

Multiplier quantize_multiplier(double real) {
  if (real == 0.0) return {};
  int shift = 0;
  const double q = std::frexp(real, &shift);
  auto fixed = static_cast<std::int64_t>(std::round(q * (1LL << 31)));
  if (fixed == (1LL << 31)) fixed /= 2, ++shift;
  if (shift < -31) return {};
  return {static_cast<std::int32_t>(fixed), shift};
}

std::int32_t rounding_doubling_high_mul(std::int32_t a, std::int32_t b) {
  if (a == b && a == std::numeric_limits<std::int32_t>::min())
    return std::numeric_limits<std::int32_t>::max();
  const std::int64_t ab = static_cast<std::int64_t>(a) * b;
  const std::int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
  return static_cast<std::int32_t>((ab + nudge) / (1LL << 31));
}

std::int32_t rounding_divide_by_pot(std::int32_t x, int exponent) {
  const std::int32_t mask = static_cast<std::int32_t>((1LL << exponent) - 1);
  const std::int32_t remainder = x & mask;
  const std::int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

std::int32_t requantize(std::int32_t x, Multiplier m) {
  const int left = m.shift > 0 ? m.shift : 0, right = m.shift > 0 ? 0 : -m.shift;
  return rounding_divide_by_pot(
      rounding_doubling_high_mul(static_cast<std::int32_t>(x * (1LL << left)), m.mantissa),
      right);
}

std::int8_t saturate(std::int32_t x, int lo, int hi) {
  return static_cast<std::int8_t>(std::min(std::max(x, lo), hi));
}

// A whole number held as a float (a rounded level plus its zero point), saturated to
// int8: inputs and scales come from the file, so it may be huge, infinite or NaN.
std::int8_t saturate_level(double level) {
  if (!(level >= -128.0)) return -128;  // NaN too
  return static_cast<std::int8_t>(std::min(level, 127.0));
}

// -- tensor checks ------------------------------------------------------------------------

void expect_int8(const Op& op, const Tensor& t) {
  expect_type(op, t, DType::kInt8, "int8 (every tensor of a quantized op is int8)");
  if (t.quant.scales.empty()) fail(op, "int8 tensor '" + t.name + "' has no scale");
}

// The one scale and zero point of an activation tensor (per-axis ones are for weights).
struct Affine {
  double scale;
  std::int32_t zero_point;
};
Affine affine(const Op& op, const Tensor& t) {
  expect_int8(op, t);
  if (t.quant.scales.size() != 1)
    fail(op, "tensor '" + t.name + "' has per-channel quantization (only weights may)");
  return {t.quant.scales[0], t.quant.zero_points[0]};
}

// The int8 range a fused activation leaves (TFLite's CalculateActivationRangeQuantized).
std::pair<int, int> activation_range(const Op& op, const Affine& out) {
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
std::vector<Multiplier> channel_multipliers(const Op& op, const Tensor& weights, int axis,
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
std::vector<std::int32_t> int_bias(Model& m, const Op& op, size_t index, int channels) {
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

// -- weighted ops ---------------------------------------------------------------------------

// CONV_2D and DEPTHWISE_CONV_2D: sum over the window of w * (x - x_zero), outside taps
// contributing nothing, then requantized per output channel.
class ConvInt8 : public Op {
 public:
  explicit ConvInt8(bool depthwise) : depthwise_(depthwise) {}

  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& filter = m.input(*this, 1);
    const Tensor& out = m.output(*this, 0);
    const Affine a_in = affine(*this, in), a_out = affine(*this, out);
    expect_rank(*this, in, 4);
    expect_rank(*this, filter, 4);
    expect_constant(*this, filter, "filter");
    cin_ = positive_dim(*this, in, 3, "channels");
    cout_ = positive_dim(*this, filter, depthwise_ ? 3 : 0, "output channels");
    if (depthwise_) {
      if (filter.dim(0) != 1 || cout_ % cin_ != 0)
        fail(*this, "filter '" + filter.name + "' is not [1, h, w, channels x multiplier]");
    } else if (filter.dim(3) != cin_) {
      fail(*this, "filter '" + filter.name + "' does not match the input's channels "
                  "(grouped int8 convolutions are not supported)");
    }
    win_ = make_window(*this, in.dim(1), in.dim(2), filter.dim(1), filter.dim(2),
                       opt_int(*this, "stride_h"), opt_int(*this, "stride_w"),
                       opt_int(*this, "dilation_h", 1), opt_int(*this, "dilation_w", 1),
                       opt_int(*this, "padding"));
    expect_shape(*this, out, {in.dim(0), win_.out_h, win_.out_w, cout_});
    window_taps(m, *this, win_, in.dim(0), 1);
    in_zero_ = a_in.zero_point;
    out_zero_ = a_out.zero_point;
    multipliers_ = channel_multipliers(*this, filter, depthwise_ ? 3 : 0, cout_, a_in.scale,
                                       a_out.scale);
    bias_ = int_bias(m, *this, 2, cout_);
    range_ = activation_range(*this, a_out);
  }

  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    const std::int8_t* x = in.data<std::int8_t>();
    const std::int8_t* w = m.tensor(inputs[1]).data<std::int8_t>();
    std::int8_t* y = m.tensor(outputs[0]).data<std::int8_t>();
    const Window& v = win_;
    const int rows = in.dim(0) * v.out_h * v.out_w, per_in = cout_ / cin_;
    m.pool().parallel_for(rows, 4, [&](int b, int e) {
      std::vector<std::int32_t> acc(cout_);
      for (int row = b; row < e; ++row) {
        const int n = row / (v.out_h * v.out_w), oy = (row / v.out_w) % v.out_h,
                  ox = row % v.out_w;
        std::copy(bias_.begin(), bias_.end(), acc.begin());
        for (int ky = 0; ky < v.k_h; ++ky) {
          const int iy = oy * v.stride_h - v.pad_top + ky * v.dil_h;
          if (iy < 0 || iy >= v.in_h) continue;
          for (int kx = 0; kx < v.k_w; ++kx) {
            const int ix = ox * v.stride_w - v.pad_left + kx * v.dil_w;
            if (ix < 0 || ix >= v.in_w) continue;
            const std::int8_t* px = x + ((static_cast<size_t>(n) * v.in_h + iy) * v.in_w + ix) * cin_;
            const int tap = ky * v.k_w + kx;
            if (depthwise_) {
              const std::int8_t* pw = w + static_cast<size_t>(tap) * cout_;
              for (int o = 0; o < cout_; ++o) acc[o] += pw[o] * (px[o / per_in] - in_zero_);
            } else {
              for (int o = 0; o < cout_; ++o) {
                const std::int8_t* pw = w + (static_cast<size_t>(o) * v.k_h * v.k_w + tap) * cin_;
                std::int32_t s = 0;
                for (int c = 0; c < cin_; ++c) s += pw[c] * (px[c] - in_zero_);
                acc[o] += s;
              }
            }
          }
        }
        std::int8_t* py = y + static_cast<size_t>(row) * cout_;
        for (int o = 0; o < cout_; ++o)
          py[o] = saturate(requantize(acc[o], multipliers_[o]) + out_zero_, range_.first,
                           range_.second);
      }
    });
  }

 private:
  bool depthwise_;
  Window win_;
  int cin_ = 0, cout_ = 0, in_zero_ = 0, out_zero_ = 0;
  std::vector<Multiplier> multipliers_;
  std::vector<std::int32_t> bias_;
  std::pair<int, int> range_{-128, 127};
};

class FullyConnectedInt8 : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& w = m.input(*this, 1);
    const Tensor& out = m.output(*this, 0);
    const Affine a_in = affine(*this, in), a_out = affine(*this, out);
    expect_rank(*this, w, 2);
    expect_constant(*this, w, "weights");
    if (opt_int(*this, "weights_format", 0) != 0) fail(*this, "shuffled weights are not supported");
    units_ = positive_dim(*this, w, 0, "units");
    depth_ = positive_dim(*this, w, 1, "depth");
    if (in.elements() % depth_ != 0) fail(*this, "input '" + in.name + "' is not rows of the depth");
    rows_ = static_cast<int>(in.elements() / depth_);
    if (out.elements() != static_cast<size_t>(rows_) * units_)
      fail(*this, "output '" + out.name + "' does not hold one row of units per input row");
    in_zero_ = a_in.zero_point;
    out_zero_ = a_out.zero_point;
    multipliers_ = channel_multipliers(*this, w, 0, units_, a_in.scale, a_out.scale);
    bias_ = int_bias(m, *this, 2, units_);
    range_ = activation_range(*this, a_out);
  }

  void run(Model& m) override {
    const std::int8_t* x = m.tensor(inputs[0]).data<std::int8_t>();
    const std::int8_t* w = m.tensor(inputs[1]).data<std::int8_t>();
    std::int8_t* y = m.tensor(outputs[0]).data<std::int8_t>();
    for (int r = 0; r < rows_; ++r) {
      const std::int8_t* px = x + static_cast<size_t>(r) * depth_;
      for (int u = 0; u < units_; ++u) {
        const std::int8_t* pw = w + static_cast<size_t>(u) * depth_;
        std::int32_t acc = bias_[u];
        for (int k = 0; k < depth_; ++k) acc += pw[k] * (px[k] - in_zero_);
        y[static_cast<size_t>(r) * units_ + u] =
            saturate(requantize(acc, multipliers_[u]) + out_zero_, range_.first, range_.second);
      }
    }
  }

 private:
  int units_ = 0, depth_ = 0, rows_ = 0, in_zero_ = 0, out_zero_ = 0;
  std::vector<Multiplier> multipliers_;
  std::vector<std::int32_t> bias_;
  std::pair<int, int> range_{-128, 127};
};

// -- element-wise -----------------------------------------------------------------------------

// ADD, SUB and MUL with NumPy broadcasting. ADD and SUB bring both inputs to a common
// scale at 2^20 resolution before summing (TFLite's left_shift of 20); MUL requantizes
// the product of the offset inputs once.
class ElementwiseInt8 : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& a = m.input(*this, 0);
    const Tensor& b = m.input(*this, 1);
    const Tensor& out = m.output(*this, 0);
    const Affine qa = affine(*this, a), qb = affine(*this, b), qo = affine(*this, out);
    steps_ = {broadcast_strides(*this, a, out.shape), broadcast_strides(*this, b, out.shape)};
    zero_ = {qa.zero_point, qb.zero_point, qo.zero_point};
    range_ = activation_range(*this, qo);
    if (type == "MUL") {
      product_ = quantize_multiplier(qa.scale * qb.scale / qo.scale);
      return;
    }
    const double twice_max = 2.0 * std::max(qa.scale, qb.scale);
    input_a_ = quantize_multiplier(qa.scale / twice_max);
    input_b_ = quantize_multiplier(qb.scale / twice_max);
    output_ = quantize_multiplier(twice_max / ((1 << kLeftShift) * qo.scale));
  }

  void run(Model& m) override {
    const std::int8_t* a = m.tensor(inputs[0]).data<std::int8_t>();
    const std::int8_t* b = m.tensor(inputs[1]).data<std::int8_t>();
    Tensor& out = m.tensor(outputs[0]);
    std::int8_t* y = out.data<std::int8_t>();
    const bool sub = type == "SUB", mul = type == "MUL";
    for_each_strided<2>(out.shape, steps_, {0, 0}, [&](size_t i, std::array<std::int64_t, 2> at) {
      const std::int32_t xa = a[at[0]] - zero_[0], xb = b[at[1]] - zero_[1];
      std::int32_t r;
      if (mul) {
        r = requantize(xa * xb, product_);
      } else {
        const std::int32_t sa = requantize(xa * (1 << kLeftShift), input_a_);
        const std::int32_t sb = requantize(xb * (1 << kLeftShift), input_b_);
        r = requantize(sub ? sa - sb : sa + sb, output_);
      }
      y[i] = saturate(r + zero_[2], range_.first, range_.second);
    });
  }

 private:
  static constexpr int kLeftShift = 20;
  std::array<Steps, 2> steps_;
  std::array<std::int32_t, 3> zero_{};
  Multiplier input_a_, input_b_, output_, product_;
  std::pair<int, int> range_{-128, 127};
};

// -- windows and reductions -------------------------------------------------------------------

// MAX_POOL_2D takes the largest value in the window; AVERAGE_POOL_2D the rounded mean of
// the taps inside the input. Both keep the input's scale.
class PoolInt8 : public Op {
 public:
  explicit PoolInt8(bool is_max) : is_max_(is_max) {}

  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    const Affine qi = affine(*this, in), qo = affine(*this, out);
    if (qi.scale != qo.scale || qi.zero_point != qo.zero_point)
      fail(*this, "output '" + out.name + "' is quantized unlike its input");
    win_ = pool_window(*this, in, out, {"filter_h", "filter_w", "stride_h", "stride_w"});
    range_ = activation_range(*this, qo);
  }

  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    const std::int8_t* x = in.data<std::int8_t>();
    std::int8_t* y = m.tensor(outputs[0]).data<std::int8_t>();
    const Window& v = win_;
    const int c = in.dim(3), rows = in.dim(0) * v.out_h * v.out_w;
    std::vector<std::int32_t> acc(c);
    for (int row = 0; row < rows; ++row) {
      const int n = row / (v.out_h * v.out_w), oy = (row / v.out_w) % v.out_h, ox = row % v.out_w;
      std::fill(acc.begin(), acc.end(), is_max_ ? -128 : 0);
      int count = 0;
      for (int ky = 0; ky < v.k_h; ++ky) {
        const int iy = oy * v.stride_h - v.pad_top + ky;
        if (iy < 0 || iy >= v.in_h) continue;
        for (int kx = 0; kx < v.k_w; ++kx) {
          const int ix = ox * v.stride_w - v.pad_left + kx;
          if (ix < 0 || ix >= v.in_w) continue;
          const std::int8_t* px = x + ((static_cast<size_t>(n) * v.in_h + iy) * v.in_w + ix) * c;
          ++count;
          for (int k = 0; k < c; ++k) acc[k] = is_max_ ? std::max<std::int32_t>(acc[k], px[k]) : acc[k] + px[k];
        }
      }
      std::int8_t* py = y + static_cast<size_t>(row) * c;
      for (int k = 0; k < c; ++k) {
        std::int32_t r = acc[k];
        if (!is_max_ && count > 0) r = r > 0 ? (r + count / 2) / count : (r - count / 2) / count;
        py[k] = saturate(r, range_.first, range_.second);
      }
    }
  }

 private:
  bool is_max_;
  Window win_;
  std::pair<int, int> range_{-128, 127};
};

// MEAN over the spatial axes of an NHWC tensor (global average pooling), rounded to the
// nearest level of the output's scale.
class MeanInt8 : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    qi_ = affine(*this, in);
    qo_ = affine(*this, out);
    std::vector<std::int64_t> axes = const_ints(*this, m.input(*this, 1), "axes");
    for (auto& a : axes) a = a < 0 ? a + in.rank() : a;
    std::sort(axes.begin(), axes.end());
    if (in.rank() != 4 || axes != std::vector<std::int64_t>{1, 2})
      fail(*this, "int8 MEAN is supported over the spatial axes of an NHWC tensor only");
    if (out.elements() != static_cast<size_t>(in.dim(0)) * in.dim(3))
      fail(*this, "output '" + out.name + "' does not hold one value per image and channel");
  }

  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    const std::int8_t* x = in.data<std::int8_t>();
    std::int8_t* y = m.tensor(outputs[0]).data<std::int8_t>();
    const int batch = in.dim(0), pixels = in.dim(1) * in.dim(2), c = in.dim(3);
    const double to_out = qi_.scale / qo_.scale / pixels;
    std::vector<std::int32_t> acc(c);
    for (int n = 0; n < batch; ++n) {
      std::fill(acc.begin(), acc.end(), 0);
      for (int p = 0; p < pixels; ++p) {
        const std::int8_t* px = x + (static_cast<size_t>(n) * pixels + p) * c;
        for (int k = 0; k < c; ++k) acc[k] += px[k] - qi_.zero_point;
      }
      for (int k = 0; k < c; ++k)
        y[static_cast<size_t>(n) * c + k] =
            saturate_level(std::round(acc[k] * to_out) + qo_.zero_point);
    }
  }

 private:
  Affine qi_{}, qo_{};
};

// SOFTMAX over the last axis, from the dequantized logits, to the output's scale.
class SoftmaxInt8 : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    qi_ = affine(*this, in);
    qo_ = affine(*this, out);
    expect_shape(*this, out, in.shape);
    depth_ = positive_dim(*this, in, -1, "classes");
    beta_ = opt_float(*this, "beta", 1.0f);
  }

  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    const std::int8_t* x = in.data<std::int8_t>();
    std::int8_t* y = m.tensor(outputs[0]).data<std::int8_t>();
    std::vector<double> e(depth_);
    for (size_t r = 0; r < in.elements() / depth_; ++r) {
      const std::int8_t* px = x + r * depth_;
      const int top = *std::max_element(px, px + depth_);
      double sum = 0.0;
      for (int k = 0; k < depth_; ++k)
        sum += e[k] = std::exp(beta_ * qi_.scale * (px[k] - top));
      for (int k = 0; k < depth_; ++k)
        y[r * depth_ + k] = saturate_level(std::round(e[k] / sum / qo_.scale) + qo_.zero_point);
    }
  }

 private:
  Affine qi_{}, qo_{};
  int depth_ = 1;
  float beta_ = 1.0f;
};

// Activations on their own (RELU, LOGISTIC, TANH, ...): a table of the 256 results.
// The clamps and LEAKY_RELU rescale as TFLite's integer kernels do (a fixed-point
// multiplier, then the clamp's levels); the curves take the function of the dequantized
// value, rounded at the output's scale, as TFLite builds its int8 lookup tables.
class UnaryInt8 : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    const Affine qi = affine(*this, in), qo = affine(*this, out);
    if (in.elements() != out.elements()) fail(*this, "input and output differ in size");
    const float alpha = opt_float(*this, "alpha", 0.2f);
    const float in_scale = static_cast<float>(qi.scale);
    const float inverse = static_cast<float>(1.0 / qo.scale);
    const bool clamp = type.rfind("RELU", 0) == 0;
    const Multiplier identity = quantize_multiplier(qi.scale / qo.scale);
    const Multiplier leak = quantize_multiplier(qi.scale * alpha / qo.scale);
    const auto level = [&](float v) {
      return static_cast<int>(saturate_level(std::round(v * inverse) + qo.zero_point));
    };
    for (int q = -128; q <= 127; ++q) {
      const std::int32_t x = q - qi.zero_point;
      if (clamp || type == "LEAKY_RELU") {
        const std::int32_t y = requantize(x, x < 0 && !clamp ? leak : identity) + qo.zero_point;
        int lo = -128, hi = 127;
        if (type != "LEAKY_RELU") lo = std::max(lo, level(type == "RELU_N1_TO_1" ? -1.0f : 0.0f));
        if (type == "RELU6") hi = std::min(hi, level(6.0f));
        if (type == "RELU_N1_TO_1" || type == "RELU_0_TO_1") hi = std::min(hi, level(1.0f));
        table_[q + 128] = saturate(y, lo, hi);
        continue;
      }
      const float y = apply(in_scale * static_cast<float>(x));
      table_[q + 128] = saturate_level(std::round(y * inverse) + qo.zero_point);
    }
  }

  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    const std::int8_t* x = in.data<std::int8_t>();
    std::int8_t* y = m.tensor(outputs[0]).data<std::int8_t>();
    for (size_t i = 0; i < in.elements(); ++i) y[i] = table_[x[i] + 128];
  }

 private:
  float apply(float v) const {
    if (type == "LOGISTIC") return 1.0f / (1.0f + std::exp(-v));
    if (type == "TANH") return std::tanh(v);
    return v * std::min(std::max(v + 3.0f, 0.0f), 6.0f) / 6.0f;  // HARD_SWISH
  }

  std::array<std::int8_t, 256> table_{};
};

// -- conversions and layout -------------------------------------------------------------------

// QUANTIZE (float32 -> int8, or int8 -> int8 at another scale) and DEQUANTIZE (int8 ->
// float32), element by element.
class Convert : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    if (in.elements() != out.elements()) fail(*this, "input and output differ in size");
    if (type == "DEQUANTIZE") {
      expect_type(*this, out, DType::kFloat32, "float32");
      from_ = affine(*this, in);
      return;
    }
    to_ = affine(*this, out);
    if (in.type == DType::kInt8) {
      from_ = affine(*this, in);
      rescale_ = quantize_multiplier(from_.scale / to_.scale);
    } else {
      expect_type(*this, in, DType::kFloat32, "float32 or int8");
    }
  }

  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    Tensor& out = m.tensor(outputs[0]);
    const size_t n = in.elements();
    if (type == "DEQUANTIZE") {
      const std::int8_t* x = in.data<std::int8_t>();
      float* y = out.data<float>();
      for (size_t i = 0; i < n; ++i)
        y[i] = static_cast<float>(from_.scale * (x[i] - from_.zero_point));
      return;
    }
    std::int8_t* y = out.data<std::int8_t>();
    if (in.type == DType::kInt8) {
      const std::int8_t* x = in.data<std::int8_t>();
      for (size_t i = 0; i < n; ++i)
        y[i] = saturate(requantize(x[i] - from_.zero_point, rescale_) + to_.zero_point, -128, 127);
      return;
    }
    const float* x = in.data<float>();
    const float scale = static_cast<float>(to_.scale);
    for (size_t i = 0; i < n; ++i) y[i] = saturate_level(std::round(x[i] / scale) + to_.zero_point);
  }

 private:
  Affine from_{1.0, 0}, to_{1.0, 0};
  Multiplier rescale_;
};

// CONCATENATION of int8 tensors, which TFLite takes only at the output's scale and
// zero point: rows are copied.
class ConcatenationInt8 : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& out = m.output(*this, 0);
    const Affine qo = affine(*this, out);
    axis_ = opt_int(*this, "axis");
    if (axis_ < 0) axis_ += out.rank();
    if (axis_ < 0 || axis_ >= out.rank()) fail(*this, "bad axis");
    if (opt_int(*this, "fused_activation_function", 0) != 0)
      fail(*this, "a fused activation on an int8 concatenation is not supported");
    int total = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = m.input(*this, i);
      const Affine q = affine(*this, t);
      if (q.scale != qo.scale || q.zero_point != qo.zero_point)
        fail(*this, "input '" + t.name + "' is quantized unlike the output");
      if (t.rank() != out.rank()) fail(*this, "input '" + t.name + "' differs in rank");
      for (int d = 0; d < out.rank(); ++d)
        if (d != axis_ && t.dim(d) != out.dim(d))
          fail(*this, "input '" + t.name + "' differs from the output off the axis");
      total += t.dim(axis_);
    }
    if (total != out.dim(axis_)) fail(*this, "inputs do not add up to the output's axis");
  }

  void run(Model& m) override {
    Tensor& out = m.tensor(outputs[0]);
    size_t outer = 1, inner = 1;
    for (int d = 0; d < axis_; ++d) outer *= out.dim(d);
    for (int d = axis_ + 1; d < out.rank(); ++d) inner *= out.dim(d);
    const size_t out_row = out.dim(axis_) * inner;
    size_t offset = 0;
    for (int id : inputs) {
      const Tensor& t = m.tensor(id);
      const size_t row = t.dim(axis_) * inner;
      for (size_t o = 0; o < outer; ++o)
        std::memcpy(out.data<std::int8_t>() + o * out_row + offset,
                    t.data<std::int8_t>() + o * row, row);
      offset += row;
    }
  }

 private:
  int axis_ = 0;
};

// PAD and PADV2 of an int8 tensor: the border holds the zero point (a real 0), or PADV2's
// constant.
class PadInt8 : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    const Affine qi = affine(*this, in), qo = affine(*this, out);
    if (qi.scale != qo.scale || qi.zero_point != qo.zero_point)
      fail(*this, "output '" + out.name + "' is quantized unlike its input");
    const std::vector<std::int64_t> pads = const_ints(*this, m.input(*this, 1), "paddings");
    if (pads.size() != static_cast<size_t>(in.rank()) * 2) fail(*this, "paddings do not fit the rank");
    std::vector<int> shape(in.rank());
    before_.resize(in.rank());
    for (int d = 0; d < in.rank(); ++d) {
      const std::int64_t most = std::numeric_limits<int>::max();
      const std::int64_t before = pads[2 * d], after = pads[2 * d + 1];
      if (before < 0 || after < 0 || before > most || after > most ||
          in.dim(d) + before + after > most)
        fail(*this, "paddings must be non-negative and keep the size an int");
      const std::int64_t size = in.dim(d) + before + after;
      before_[d] = static_cast<int>(pads[2 * d]);
      shape[d] = static_cast<int>(size);
    }
    expect_shape(*this, out, shape);
    fill_ = static_cast<std::int8_t>(qo.zero_point);
    if (inputs.size() > 2 && inputs[2] >= 0) {
      // TFLite requires PADV2's constant to share the output's quantization.
      const Tensor& v = m.tensor(inputs[2]);
      expect_constant(*this, v, "pad value");
      expect_type(*this, v, DType::kInt8, "int8");
      if (v.elements() != 1) fail(*this, "pad value '" + v.name + "' is not one value");
      fill_ = v.data<std::int8_t>()[0];
    }
  }

  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    Tensor& out = m.tensor(outputs[0]);
    std::memset(out.ptr, static_cast<unsigned char>(fill_), out.bytes());
    const Steps out_steps = strides_of(out.shape);
    std::int64_t start = 0;
    for (int d = 0; d < in.rank(); ++d) start += before_[d] * out_steps[d];
    std::int8_t* y = out.data<std::int8_t>() + start;
    const std::int8_t* x = in.data<std::int8_t>();
    for_each_strided<1>(in.shape, {out_steps}, {0},
                        [&](size_t i, std::array<std::int64_t, 1> at) { y[at[0]] = x[i]; });
  }

 private:
  std::vector<int> before_;
  std::int8_t fill_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_int8_op(const std::string& type) {
  if (type == "CONV_2D") return std::make_unique<ConvInt8>(false);
  if (type == "DEPTHWISE_CONV_2D") return std::make_unique<ConvInt8>(true);
  if (type == "FULLY_CONNECTED") return std::make_unique<FullyConnectedInt8>();
  if (type == "ADD" || type == "SUB" || type == "MUL") return std::make_unique<ElementwiseInt8>();
  if (type == "MAX_POOL_2D") return std::make_unique<PoolInt8>(true);
  if (type == "AVERAGE_POOL_2D") return std::make_unique<PoolInt8>(false);
  if (type == "MEAN") return std::make_unique<MeanInt8>();
  if (type == "SOFTMAX") return std::make_unique<SoftmaxInt8>();
  if (type == "QUANTIZE" || type == "DEQUANTIZE") return std::make_unique<Convert>();
  if (type == "CONCATENATION") return std::make_unique<ConcatenationInt8>();
  if (type == "PAD" || type == "PADV2") return std::make_unique<PadInt8>();
  for (const char* unary : {"RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH",
                            "LEAKY_RELU", "HARD_SWISH"})
    if (type == unary) return std::make_unique<UnaryInt8>();
  return nullptr;
}

}  // namespace lce_native
