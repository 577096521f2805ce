// Float ops with weights or windows: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, pooling.
#include "ops_util.h"

namespace lce_native {
namespace {

// The input, filter and output of CONV_2D and DEPTHWISE_CONV_2D, with the checks they
// share: float32 tensors, a constant 4-D filter.
struct ConvIO {
  const Tensor& in;
  const Tensor& filter;
  const Tensor& out;
};
ConvIO float_conv_io(Model& m, const Op& op) {
  const ConvIO t{m.input(op, 0), m.input(op, 1), m.output(op, 0)};
  expect_type(op, t.in, DType::kFloat32, "float32 (this op has no int8 kernel)");
  expect_type(op, t.filter, DType::kFloat32, "a float32 filter");
  expect_type(op, t.out, DType::kFloat32, "float32");
  expect_rank(op, t.in, 4);
  expect_rank(op, t.filter, 4);
  expect_constant(op, t.filter, "filter");
  return t;
}

// A float convolution's window: the filter's [.., h, w, ..] over the input's [n, h, w, c].
Window conv_window(const Op& op, const Tensor& in, const Tensor& filter) {
  return make_window(op, in.dim(1), in.dim(2), filter.dim(1), filter.dim(2),
                     opt_int(op, "stride_h"), opt_int(op, "stride_w"), opt_int(op, "dilation_h", 1),
                     opt_int(op, "dilation_w", 1), opt_int(op, "padding"));
}

// The float GEMM over rows read through `ind` (taps x depth floats each) into `out`.
SgemmArgs sgemm_args(const std::vector<const float*>& ind, int taps, int depth,
                     const PackedBlocks<float>& w, const std::vector<float>& bias, Clamp clamp,
                     float* out) {
  SgemmArgs g;
  g.ind = ind.data();
  g.taps = taps;
  g.depth = depth;
  g.k_size = w.k_size;
  g.w = &w;
  g.bias = bias.data();
  g.clamp = clamp;
  g.channels_out = w.channels;
  g.out = out;
  g.ldc = w.channels;
  return g;
}

std::vector<float> padded_bias(Model& m, const Op& op, int index, int channels) {
  std::vector<float> bias(static_cast<size_t>((channels + kLanes - 1) / kLanes) * kLanes, 0.0f);
  if (index < static_cast<int>(op.inputs.size()) && op.inputs[index] >= 0) {
    const Tensor& b = m.tensor(op.inputs[index]);
    if (b.type != DType::kFloat32 || !b.constant || b.elements() != static_cast<size_t>(channels))
      fail(op, "bias '" + b.name + "' must be a constant float32 vector of the output channels");
    std::copy(b.data<float>(), b.data<float>() + channels, bias.begin());
  }
  return bias;
}

class Conv2d : public Op {
 public:
  void prepare(Model& m) override {
    const auto [in, filter, out] = float_conv_io(m, *this);
    if (filter.dim(3) != in.dim(3)) fail(*this, "grouped float convolutions are not supported");
    cin_ = positive_dim(*this, in, 3, "input channels");
    cout_ = positive_dim(*this, filter, 0, "output channels");
    win_ = conv_window(*this, in, filter);
    expect_shape(*this, out, {in.dim(0), win_.out_h, win_.out_w, cout_});
    clamp_ = activation_clamp(*this, opt_int(*this, "fused_activation_function", 0));
    k_ = win_.k_h * win_.k_w * cin_;  // the filter's own size bounds it
    rows_ = in.dim(0) * win_.out_h * win_.out_w;
    m.charge(*this, (filter.elements() + 16 * static_cast<size_t>(k_)) * sizeof(float),
             "packed weights");
    weights_ = pack_blocks(filter.data<float>(), cout_, k_);
    bias_ = padded_bias(m, *this, 2, cout_);
    // A few-channel input (an image stem): the k_w taps of a kernel row lie side by side
    // in a width-padded copy of the input, so one table entry serves a whole kernel row
    // (7x fewer for a 7x7 stem) and each entry holds k_w * cin floats, not 3. The sums
    // keep their order, so outputs are bit-identical to the per-tap table's.
    row_runs_ = win_.dil_w == 1 && win_.k_w > 1 && cin_ * win_.k_w <= kMaxRunDepth;
    if (row_runs_) {
      Window runs = win_;
      runs.k_w = 1;  // one entry per kernel row
      window_taps(m, *this, runs, in.dim(0), sizeof(float*));
      padded_w_ = std::max(win_.in_w + win_.pad_left,
                           (win_.out_w - 1) * win_.stride_w + win_.k_w);
      padded_rows_ = in.dim(0) * win_.in_h;
      const size_t padded = static_cast<size_t>(padded_rows_) * padded_w_ * cin_ + kLanes;
      m.charge(*this, padded * sizeof(float), "the width-padded input");
      padded_.assign(padded, 0.0f);
      zeros_.assign(static_cast<size_t>(win_.k_w) * cin_ + kLanes, 0.0f);
      ind_ = row_run_table(in.dim(0));
      return;
    }
    window_taps(m, *this, win_, in.dim(0), sizeof(float*));
    zeros_.assign(cin_ + kLanes, 0.0f);  // slack: vector kernels read whole registers
    ind_ = make_indirection<float>(in.data<float>(), in.dim(0), win_, cin_, zeros_.data());
  }
  void run(Model& m) override {
    if (row_runs_) copy_into_padded(m.tensor(inputs[0]).data<float>());
    const int taps = row_runs_ ? win_.k_h : win_.k_h * win_.k_w;
    const int depth = row_runs_ ? win_.k_w * cin_ : cin_;
    const SgemmArgs g = sgemm_args(ind_, taps, depth, weights_, bias_, clamp_,
                                   m.tensor(outputs[0]).data<float>());
    const auto sgemm = m.kernels().sgemm;
    m.pool().parallel_for(rows_, 8, [&](int b, int e) { sgemm(g, b, e); });
  }

 private:
  // Most floats one kernel row may span for the row-run table (k_w * cin).
  static constexpr int kMaxRunDepth = 64;

  // Entry [row * k_h + ky]: the kernel row ky of output pixel `row` in the padded copy
  // (whose column c is input column c - pad_left), or a zero row above or below the image.
  std::vector<const float*> row_run_table(int batch) const {
    std::vector<const float*> ind(static_cast<size_t>(batch) * win_.out_h * win_.out_w *
                                  win_.k_h);
    size_t i = 0;
    for (int n = 0; n < batch; ++n)
      for (int oy = 0; oy < win_.out_h; ++oy)
        for (int ox = 0; ox < win_.out_w; ++ox)
          for (int ky = 0; ky < win_.k_h; ++ky) {
            const int iy = oy * win_.stride_h - win_.pad_top + ky * win_.dil_h;
            const size_t column = static_cast<size_t>(ox) * win_.stride_w;
            ind[i++] = iy >= 0 && iy < win_.in_h
                           ? padded_.data() +
                                 ((static_cast<size_t>(n) * win_.in_h + iy) * padded_w_ + column) *
                                     cin_
                           : zeros_.data();
          }
    return ind;
  }

  // The input's rows into the padded copy; its pad columns stay zero from prepare.
  void copy_into_padded(const float* in) {
    const size_t row = static_cast<size_t>(win_.in_w) * cin_;
    for (size_t r = 0; r < static_cast<size_t>(padded_rows_); ++r)
      std::copy(in + r * row, in + (r + 1) * row,
                padded_.data() + (r * padded_w_ + win_.pad_left) * cin_);
  }

  Window win_;
  int cin_ = 0, cout_ = 0, k_ = 0, rows_ = 0, padded_w_ = 0, padded_rows_ = 0;
  bool row_runs_ = false;
  Clamp clamp_{};
  PackedBlocks<float> weights_;
  std::vector<float> bias_, zeros_, padded_;
  std::vector<const float*> ind_;
};

class DepthwiseConv2d : public Op {
 public:
  void prepare(Model& m) override {
    const auto [in, filter, out] = float_conv_io(m, *this);
    if (filter.dim(0) != 1) fail(*this, "filter '" + filter.name + "' must be [1,h,w,c]");
    // Zero input channels would divide by zero below.
    cin_ = positive_dim(*this, in, 3, "input channels");
    cout_ = positive_dim(*this, filter, 3, "output channels");
    if (cout_ % cin_ != 0) fail(*this, "output channels must be a multiple of input channels");
    mult_ = cout_ / cin_;
    win_ = conv_window(*this, in, filter);
    expect_shape(*this, out, {in.dim(0), win_.out_h, win_.out_w, cout_});
    clamp_ = activation_clamp(*this, opt_int(*this, "fused_activation_function", 0));
    m.charge(*this, filter.bytes(), "weights");
    weights_.assign(filter.data<float>(), filter.data<float>() + filter.elements());
    bias_ = padded_bias(m, *this, 2, cout_);
    zeros_.assign(cin_ + kLanes, 0.0f);
    if (mult_ == 1) {
      window_taps(m, *this, win_, in.dim(0), sizeof(float*));
      ind_ = make_indirection<float>(in.data<float>(), in.dim(0), win_, cin_, zeros_.data());
    }
  }
  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    float* out = m.tensor(outputs[0]).data<float>();
    const float* src = in.data<float>();
    const int rows = in.dim(0) * win_.out_h * win_.out_w;
    // The vector kernels take up to 64 taps (8x8); larger windows use the plain loops.
    if (mult_ == 1 && win_.k_h * win_.k_w <= 64) {
      DepthwiseArgs g;
      g.in = src;
      g.out = out;
      g.w = win_;
      g.channels = cout_;
      g.weights = weights_.data();
      g.bias = bias_.data();
      g.clamp = clamp_;
      g.ind = ind_.data();
      g.taps = win_.k_h * win_.k_w;
      const auto kernel = m.kernels().depthwise;
      m.pool().parallel_for(rows, 8, [&](int b, int e) { kernel(g, b, e); });
      return;
    }
    m.pool().parallel_for(rows, 8, [&](int b, int e) { rows_range(src, out, b, e); });
  }

 private:
  void rows_range(const float* src, float* out, int row_begin, int row_end) const {
    for (int row = row_begin; row < row_end; ++row) {
      float* dst = out + static_cast<size_t>(row) * cout_;
      std::copy(bias_.begin(), bias_.begin() + cout_, dst);
      for_each_inside_tap(win_, row, [&](size_t pixel, int tap) {
        const float* p = src + pixel * cin_;
        const float* w = weights_.data() + static_cast<size_t>(tap) * cout_;
        if (mult_ == 1) {
          for (int c = 0; c < cout_; ++c) dst[c] += p[c] * w[c];
        } else {
          for (int c = 0; c < cout_; ++c) dst[c] += p[c / mult_] * w[c];
        }
      });
      for (int c = 0; c < cout_; ++c) dst[c] = clampf(dst[c], clamp_);
    }
  }

  Window win_;
  int cin_ = 0, cout_ = 0, mult_ = 1;
  Clamp clamp_{};
  std::vector<float> weights_, bias_, zeros_;
  std::vector<const float*> ind_;
};

class FullyConnected : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& w = m.input(*this, 1);
    const Tensor& out = m.output(*this, 0);
    expect_type(*this, in, DType::kFloat32, "float32 (this op has no int8 kernel)");
    expect_type(*this, w, DType::kFloat32, "float32 weights");
    expect_type(*this, out, DType::kFloat32, "float32");
    expect_rank(*this, w, 2);
    expect_constant(*this, w, "weights");
    if (opt_int(*this, "weights_format", 0) != 0) fail(*this, "shuffled weights not supported");
    k_ = positive_dim(*this, w, 1, "depth");
    cout_ = positive_dim(*this, w, 0, "output channels");
    if (in.elements() % k_ != 0)
      fail(*this, "input '" + in.name + "' size is not a multiple of the weights' depth");
    rows_ = static_cast<int>(in.elements() / k_);
    if (out.elements() != static_cast<size_t>(rows_) * cout_)
      fail(*this, "output '" + out.name + "' does not have rows x output channels elements");
    m.charge(*this, (w.elements() + 16 * static_cast<size_t>(k_)) * sizeof(float) +
                        static_cast<size_t>(rows_) * sizeof(float*),
             "packed weights");
    clamp_ = activation_clamp(*this, opt_int(*this, "fused_activation_function", 0));
    weights_ = pack_blocks(w.data<float>(), cout_, k_);
    bias_ = padded_bias(m, *this, 2, cout_);
    for (int r = 0; r < rows_; ++r) ind_.push_back(in.data<float>() + static_cast<size_t>(r) * k_);
  }
  void run(Model& m) override {
    const SgemmArgs g =
        sgemm_args(ind_, 1, k_, weights_, bias_, clamp_, m.tensor(outputs[0]).data<float>());
    m.kernels().sgemm(g, 0, rows_);
  }

 private:
  int k_ = 0, cout_ = 0, rows_ = 0;
  Clamp clamp_{};
  PackedBlocks<float> weights_;
  std::vector<float> bias_;
  std::vector<const float*> ind_;
};

class Pool2d : public Op {
 public:
  explicit Pool2d(bool is_max) : is_max_(is_max) {}
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    expect_type(*this, in, DType::kFloat32, "float32 (this op has no int8 kernel)");
    expect_type(*this, out, DType::kFloat32, "float32");
    win_ = pool_window(*this, in, out, {"filter_h", "filter_w", "stride_h", "stride_w"});
    clamp_ = activation_clamp(*this, opt_int(*this, "fused_activation_function", 0));
    const int c = positive_dim(*this, in, 3, "channels");
    // Tap counts overflow and tables explode on damaged window sizes: charged first.
    window_taps(m, *this, win_, in.dim(0), sizeof(float*) + sizeof(float));
    fill_.assign(c + kLanes, is_max_ ? -std::numeric_limits<float>::infinity() : 0.0f);
    ind_ = make_indirection<float>(in.data<float>(), in.dim(0), win_, c, fill_.data());
    const int taps = win_.k_h * win_.k_w;
    divisors_.resize(ind_.size() / taps);
    for (size_t r = 0; r < divisors_.size(); ++r) {
      int inside = 0;
      for (int t = 0; t < taps; ++t) inside += ind_[r * taps + t] != fill_.data();
      divisors_[r] = static_cast<float>(std::max(1, inside));
    }
  }
  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    PoolArgs g;
    g.ind = ind_.data();
    g.taps = win_.k_h * win_.k_w;
    g.divisors = divisors_.data();
    g.in = in.data<float>();
    g.out = m.tensor(outputs[0]).data<float>();
    g.w = win_;
    g.channels = in.dim(3);
    g.is_max = is_max_;
    g.clamp = clamp_;
    const auto kernel = m.kernels().pool;
    const int rows = in.dim(0) * win_.out_h * win_.out_w;
    m.pool().parallel_for(rows, 8, [&](int b, int e) { kernel(g, b, e); });
  }

 private:
  bool is_max_;
  Window win_;
  Clamp clamp_{};
  std::vector<float> fill_, divisors_;
  std::vector<const float*> ind_;
};

}  // namespace

std::unique_ptr<Op> make_float_op(const std::string& type) {
  if (type == "CONV_2D") return std::make_unique<Conv2d>();
  if (type == "DEPTHWISE_CONV_2D") return std::make_unique<DepthwiseConv2d>();
  if (type == "FULLY_CONNECTED") return std::make_unique<FullyConnected>();
  if (type == "MAX_POOL_2D") return std::make_unique<Pool2d>(true);
  if (type == "AVERAGE_POOL_2D") return std::make_unique<Pool2d>(false);
  return nullptr;
}

}  // namespace lce_native
