// Full-integer (int8) glue: SOFTMAX, the activations, QUANTIZE/DEQUANTIZE, CONCATENATION
// and PAD, as TFLite's integer kernels compute them (see ops_int8.cpp).
#include <array>
#include <cstring>

#include "quantized.h"

namespace lce_native {
namespace {

// SOFTMAX over the last axis, from the dequantized logits, to the output's scale.
class SoftmaxInt8 : public Op {
 public:
  void prepare(Model& m) override {
    const Int8InOut t = int8_in_out(m, *this);
    qi_ = t.qi;
    qo_ = t.qo;
    expect_shape(*this, t.out, t.in.shape);
    const Tensor& in = t.in;
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
    const auto [in, out, qi, qo] = int8_in_out(m, *this);
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
        const std::int64_t y =
            std::int64_t{requantize(x, x < 0 && !clamp ? leak : identity)} + qo.zero_point;
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
        y[i] = saturate(std::int64_t{requantize(x[i] - from_.zero_point, rescale_)} + to_.zero_point,
                        -128, 127);
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
    const auto [in, out, qi, qo] = same_scale_in_out(m, *this);
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

std::unique_ptr<Op> make_int8_glue_op(const std::string& type) {
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
