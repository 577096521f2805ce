// Full-integer (int8) ops with weights, windows and two operands, computed as TFLite's
// integer reference kernels compute them: integer sums over (q - zero_point) and
// fixed-point requantization, so results match LCE's interpreter to the last bit or, where
// its optimised kernels round otherwise, to one unit. The rest of the int8 ops are in
// ops_int8_glue.cpp.
#include "quantized.h"

namespace lce_native {

std::unique_ptr<Op> make_int8_glue_op(const std::string& type);

namespace {

// What turns a weighted op's integer sums into int8: the input's zero point (taken off
// every input value), per-channel biases and multipliers, the output's zero point and the
// fused activation's range.
struct Requantization {
  std::int32_t in_zero = 0, out_zero = 0;
  std::vector<Multiplier> multipliers;
  std::vector<std::int32_t> bias;
  std::pair<int, int> range{-128, 127};

  void prepare(Model& m, const Op& op, const Tensor& weights, int axis, int channels) {
    const Affine qi = affine(op, m.input(op, 0)), qo = affine(op, m.output(op, 0));
    in_zero = qi.zero_point;
    out_zero = qo.zero_point;
    multipliers = channel_multipliers(op, weights, axis, channels, qi.scale, qo.scale);
    bias = int_bias(m, op, 2, channels);
    range = activation_range(op, qo);
  }

  std::int8_t level(std::int64_t sum, int channel) const {
    return saturate(std::int64_t{requantize(narrow(sum), multipliers[channel])} + out_zero,
                    range.first, range.second);
  }
};

// -- weighted ops ---------------------------------------------------------------------------

// CONV_2D and DEPTHWISE_CONV_2D: sum over the window of w * (x - x_zero), outside taps
// contributing nothing, then requantized per output channel.
class ConvInt8 : public Op {
 public:
  explicit ConvInt8(bool depthwise) : depthwise_(depthwise) {}

  void prepare(Model& m) override {
    const auto [in, filter, out] = two_in_one(m, *this);
    affine(*this, in);
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
    window_taps(m, *this, win_, in.dim(0), 1);  // the window's products checked to fit
    rq_.prepare(m, *this, filter, depthwise_ ? 3 : 0, cout_);
  }

  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    const std::int8_t* x = in.data<std::int8_t>();
    const std::int8_t* w = m.tensor(inputs[1]).data<std::int8_t>();
    std::int8_t* y = m.tensor(outputs[0]).data<std::int8_t>();
    const Window& v = win_;
    const int rows = in.dim(0) * v.out_h * v.out_w, per_in = cout_ / cin_;
    m.pool().parallel_for(rows, 4, [&](int b, int e) {
      std::vector<std::int64_t> acc(cout_);
      for (int row = b; row < e; ++row) {
        std::copy(rq_.bias.begin(), rq_.bias.end(), acc.begin());
        for_each_inside_tap(v, row, [&](size_t pixel, int tap) {
          const std::int8_t* px = x + pixel * cin_;
          if (depthwise_) {
            const std::int8_t* pw = w + static_cast<size_t>(tap) * cout_;
            for (int o = 0; o < cout_; ++o) acc[o] += pw[o] * (px[o / per_in] - rq_.in_zero);
            return;
          }
          for (int o = 0; o < cout_; ++o) {
            const std::int8_t* pw = w + (static_cast<size_t>(o) * v.k_h * v.k_w + tap) * cin_;
            std::int64_t sum = 0;
            for (int c = 0; c < cin_; ++c) sum += pw[c] * (px[c] - rq_.in_zero);
            acc[o] += sum;
          }
        });
        std::int8_t* py = y + static_cast<size_t>(row) * cout_;
        for (int o = 0; o < cout_; ++o) py[o] = rq_.level(acc[o], o);
      }
    });
  }

 private:
  bool depthwise_;
  Window win_;
  int cin_ = 0, cout_ = 0;
  Requantization rq_;
};

class FullyConnectedInt8 : public Op {
 public:
  void prepare(Model& m) override {
    const auto [in, w, out] = two_in_one(m, *this);
    expect_rank(*this, w, 2);
    expect_constant(*this, w, "weights");
    if (opt_int(*this, "weights_format", 0) != 0) fail(*this, "shuffled weights are not supported");
    units_ = positive_dim(*this, w, 0, "units");
    depth_ = positive_dim(*this, w, 1, "depth");
    if (in.elements() % depth_ != 0) fail(*this, "input '" + in.name + "' is not rows of the depth");
    rows_ = static_cast<int>(in.elements() / depth_);
    if (out.elements() != static_cast<size_t>(rows_) * units_)
      fail(*this, "output '" + out.name + "' does not hold one row of units per input row");
    rq_.prepare(m, *this, w, 0, units_);
  }

  void run(Model& m) override {
    const std::int8_t* x = m.tensor(inputs[0]).data<std::int8_t>();
    const std::int8_t* w = m.tensor(inputs[1]).data<std::int8_t>();
    std::int8_t* y = m.tensor(outputs[0]).data<std::int8_t>();
    for (int r = 0; r < rows_; ++r) {
      const std::int8_t* px = x + static_cast<size_t>(r) * depth_;
      for (int u = 0; u < units_; ++u) {
        const std::int8_t* pw = w + static_cast<size_t>(u) * depth_;
        std::int64_t acc = rq_.bias[u];
        for (int k = 0; k < depth_; ++k) acc += pw[k] * (px[k] - rq_.in_zero);
        y[static_cast<size_t>(r) * units_ + u] = rq_.level(acc, u);
      }
    }
  }

 private:
  int units_ = 0, depth_ = 0, rows_ = 0;
  Requantization rq_;
};

// -- element-wise -----------------------------------------------------------------------------

// ADD, SUB and MUL with NumPy broadcasting. ADD and SUB bring both inputs to a common
// scale at 2^20 resolution before summing (TFLite's left_shift of 20); MUL requantizes
// the product of the offset inputs once.
class ElementwiseInt8 : public Op {
 public:
  void prepare(Model& m) override {
    const auto [a, b, out] = two_in_one(m, *this);
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
        r = requantize(narrow(sub ? std::int64_t{sa} - sb : std::int64_t{sa} + sb), output_);
      }
      y[i] = saturate(std::int64_t{r} + zero_[2], range_.first, range_.second);
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
    const auto [in, out, qi, qo] = same_scale_in_out(m, *this);
    win_ = pool_window(*this, in, out, {"filter_h", "filter_w", "stride_h", "stride_w"});
    range_ = activation_range(*this, qo);
  }

  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    const std::int8_t* x = in.data<std::int8_t>();
    std::int8_t* y = m.tensor(outputs[0]).data<std::int8_t>();
    const Window& v = win_;
    const int c = in.dim(3), rows = in.dim(0) * v.out_h * v.out_w;
    std::vector<std::int64_t> acc(c);
    for (int row = 0; row < rows; ++row) {
      std::fill(acc.begin(), acc.end(), is_max_ ? -128 : 0);
      int count = 0;
      for_each_inside_tap(v, row, [&](size_t pixel, int) {
        const std::int8_t* px = x + pixel * c;
        ++count;
        for (int k = 0; k < c; ++k)
          acc[k] = is_max_ ? std::max<std::int64_t>(acc[k], px[k]) : acc[k] + px[k];
      });
      std::int8_t* py = y + static_cast<size_t>(row) * c;
      for (int k = 0; k < c; ++k) {
        std::int64_t r = acc[k];
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
    const Int8InOut t = int8_in_out(m, *this);
    const Tensor &in = t.in, &out = t.out;
    qi_ = t.qi;
    qo_ = t.qo;
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
    std::vector<std::int64_t> acc(c);
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

}  // namespace

std::unique_ptr<Op> make_int8_op(const std::string& type) {
  if (type == "CONV_2D") return std::make_unique<ConvInt8>(false);
  if (type == "DEPTHWISE_CONV_2D") return std::make_unique<ConvInt8>(true);
  if (type == "FULLY_CONNECTED") return std::make_unique<FullyConnectedInt8>();
  if (type == "ADD" || type == "SUB" || type == "MUL") return std::make_unique<ElementwiseInt8>();
  if (type == "MAX_POOL_2D") return std::make_unique<PoolInt8>(true);
  if (type == "AVERAGE_POOL_2D") return std::make_unique<PoolInt8>(false);
  if (type == "MEAN") return std::make_unique<MeanInt8>();
  return make_int8_glue_op(type);
}

}  // namespace lce_native
