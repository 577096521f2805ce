// Element-wise, shape and reduction ops: the "glue" between convolutions.
#include <array>
#include <cmath>
#include <cstring>

#include "ops_util.h"

namespace lce_native {
namespace {

// Far beyond any real model; keeps padded sizes exact in int.
constexpr std::int64_t kMaxPad = 1 << 24;

void expect_float(const Op& op, const Tensor& t) {
  expect_type(op, t, DType::kFloat32, "float32 (this op has no int8 kernel)");
}

// The float32 input 0 and output 0 of a one-in, one-out op, checked.
struct InOut {
  const Tensor& in;
  const Tensor& out;
};
InOut float_in_out(Model& m, const Op& op) {
  const InOut t{m.input(op, 0), m.output(op, 0)};
  expect_float(op, t.in);
  expect_float(op, t.out);
  return t;
}

// The broadcast strides of a two-input op's float inputs; its output must be `out_type`.
std::array<Steps, 2> float_pair_strides(Model& m, const Op& op, DType out_type) {
  const Tensor& a = m.input(op, 0);
  const Tensor& b = m.input(op, 1);
  const Tensor& out = m.output(op, 0);
  expect_float(op, a);
  expect_float(op, b);
  if (out_type == DType::kFloat32) {
    expect_float(op, out);
  } else {
    expect_type(op, out, out_type, dtype_name(out_type));
  }
  return {broadcast_strides(op, a, out.shape), broadcast_strides(op, b, out.shape)};
}

// One row of out = f(a, b): inputs that step by 1 or stay put (same shapes, per-channel
// or per-pixel scales, scalars) get plain loops the compiler vectorises.
template <class F, class Store>
void binary_row(F f, const float* a, std::int64_t sa, const float* b, std::int64_t sb, int n,
                Store store) {
  if (sa == 1 && sb == 1) {
    for (int j = 0; j < n; ++j) store(j, f(a[j], b[j]));
  } else if (sa == 1 && sb == 0) {
    const float y = *b;
    for (int j = 0; j < n; ++j) store(j, f(a[j], y));
  } else if (sa == 0 && sb == 1) {
    const float x = *a;
    for (int j = 0; j < n; ++j) store(j, f(x, b[j]));
  } else {
    for (int j = 0; j < n; ++j) store(j, f(a[j * sa], b[j * sb]));
  }
}

// ADD, MUL, PRELU, ...: out = f(a, b) over two broadcast float inputs, clamped by the fused
// activation. Big same-shape ADDs (residuals) take the kernel set's vector add.
template <class F>
class Binary : public Op {
 public:
  explicit Binary(F f) : f_(f) {}
  void prepare(Model& m) override {
    const Tensor& a = m.input(*this, 0);
    const Tensor& b = m.input(*this, 1);
    const Tensor& out = m.output(*this, 0);
    strides_ = float_pair_strides(m, *this, DType::kFloat32);
    inner_ = inner_steps(strides_);
    same_ = a.shape == out.shape && b.shape == out.shape;
    clamp_ = activation_clamp(*this, opt_int(*this, "fused_activation_function", 0));
  }
  void run(Model& m) override {
    const float* a = m.tensor(inputs[0]).data<float>();
    const float* b = m.tensor(inputs[1]).data<float>();
    Tensor& out = m.tensor(outputs[0]);
    float* o = out.data<float>();
    const size_t n = out.elements();
    if (type == "ADD" && same_) {
      const auto add = m.kernels().add;
      if (n < 65536) return add(a, b, o, clamp_, 0, n);
      m.pool().parallel_for(static_cast<int>(n), 4096,
                            [&](int begin, int end) { add(a, b, o, clamp_, begin, end); });
      return;
    }
    const Clamp c = clamp_;
    for_each_strided_row<2>(out.shape, strides_, {}, [&](size_t i, const auto& at, int len) {
      float* row = o + i;
      binary_row(f_, a + at[0], inner_[0], b + at[1], inner_[1], len,
                 [row, c](int j, float y) { row[j] = clampf(y, c); });
    });
  }

 private:
  F f_;
  std::array<Steps, 2> strides_;
  std::array<std::int64_t, 2> inner_{};
  bool same_ = false;
  Clamp clamp_{};
};

template <class F>
std::unique_ptr<Op> binary(F f) {
  return std::make_unique<Binary<F>>(f);
}

// GREATER, GREATER_EQUAL, LESS, ...: float inputs (broadcast), a bool output. With SELECT
// they are what a `tf.where(x >= 0, 1, -1)` quantizer converts to.
template <class F>
class Compare : public Op {
 public:
  explicit Compare(F f) : f_(f) {}
  void prepare(Model& m) override {
    strides_ = float_pair_strides(m, *this, DType::kBool);
    inner_ = inner_steps(strides_);
  }
  void run(Model& m) override {
    const float* a = m.tensor(inputs[0]).data<float>();
    const float* b = m.tensor(inputs[1]).data<float>();
    Tensor& out = m.tensor(outputs[0]);
    std::uint8_t* o = out.data<std::uint8_t>();
    for_each_strided_row<2>(out.shape, strides_, {}, [&](size_t i, const auto& at, int len) {
      std::uint8_t* row = o + i;
      binary_row(f_, a + at[0], inner_[0], b + at[1], inner_[1], len,
                 [row](int j, bool y) { row[j] = y ? 1 : 0; });
    });
  }

 private:
  F f_;
  std::array<Steps, 2> strides_;
  std::array<std::int64_t, 2> inner_{};
};

template <class F>
std::unique_ptr<Op> compare(F f) {
  return std::make_unique<Compare<F>>(f);
}

// SELECT / SELECT_V2: out = condition ? x : y, the three broadcast to the output (SELECT
// also takes TFLite's rank-1 condition that picks whole rows of x and y).
class Select : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& condition = m.input(*this, 0);
    const Tensor& x = m.input(*this, 1);
    const Tensor& y = m.input(*this, 2);
    const Tensor& out = m.output(*this, 0);
    expect_type(*this, condition, DType::kBool, "bool");
    expect_float(*this, x);
    expect_float(*this, y);
    expect_float(*this, out);
    const bool rows = type == "SELECT" && condition.rank() == 1 && out.rank() > 1 &&
                      condition.shape[0] == out.shape[0];
    if (rows) {
      strides_[0].assign(out.rank(), 0);
      strides_[0][0] = 1;
    } else {
      strides_[0] = broadcast_strides(*this, condition, out.shape);
    }
    strides_[1] = broadcast_strides(*this, x, out.shape);
    strides_[2] = broadcast_strides(*this, y, out.shape);
  }
  void run(Model& m) override {
    const std::uint8_t* c = m.tensor(inputs[0]).data<std::uint8_t>();
    const float* x = m.tensor(inputs[1]).data<float>();
    const float* y = m.tensor(inputs[2]).data<float>();
    Tensor& out = m.tensor(outputs[0]);
    float* o = out.data<float>();
    const std::array<std::int64_t, 3> inner = inner_steps(strides_);
    for_each_strided_row<3>(out.shape, strides_, {}, [&](size_t i, const auto& at, int len) {
      const std::uint8_t* ci = c + at[0];
      const float* xi = x + at[1];
      const float* yi = y + at[2];
      for (int j = 0; j < len; ++j)
        o[i + j] = ci[j * inner[0]] ? xi[j * inner[1]] : yi[j * inner[2]];
    });
  }

 private:
  std::array<Steps, 3> strides_;
};

// RELU, LOGISTIC, ...: out = f(x, alpha) element by element (inlined, so it vectorises).
template <class F>
class Unary : public Op {
 public:
  explicit Unary(F f) : f_(f) {}
  void prepare(Model& m) override {
    const auto [in, out] = float_in_out(m, *this);
    if (out.elements() != in.elements())
      fail(*this, "output '" + out.name + "' has a different size than input '" + in.name + "'");
    alpha_ = opt_float(*this, "alpha", 0.0f);
  }
  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    const float* src = in.data<float>();
    float* dst = m.tensor(outputs[0]).data<float>();
    for (size_t i = 0; i < in.elements(); ++i) dst[i] = f_(src[i], alpha_);
  }

 private:
  F f_;
  float alpha_ = 0.0f;
};

template <class F>
std::unique_ptr<Op> unary(F f) {
  return std::make_unique<Unary<F>>(f);
}

// RESHAPE, SQUEEZE, EXPAND_DIMS: same elements, new shape.
class Reshape : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    if (in.elements() != out.elements() || in.type != out.type)
      fail(*this, "output '" + out.name + "' differs in size or type from input '" + in.name + "'");
  }
  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    Tensor& out = m.tensor(outputs[0]);
    std::memcpy(out.ptr, in.ptr, in.bytes());
  }
};

class Concatenation : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& out = m.output(*this, 0);
    axis_ = opt_int(*this, "axis");
    if (axis_ < 0) axis_ += out.rank();
    if (axis_ < 0 || axis_ >= out.rank()) fail(*this, "bad axis");
    clamp_ = activation_clamp(*this, opt_int(*this, "fused_activation_function", 0));
    std::int64_t total = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = m.input(*this, i);
      if (t.type != out.type || t.rank() != out.rank())
        fail(*this, "input '" + t.name + "' does not match output '" + out.name + "'");
      for (int d = 0; d < out.rank(); ++d)
        if (d != axis_ && t.shape[d] != out.shape[d])
          fail(*this, "input '" + t.name + "' does not match output '" + out.name + "'");
      total += t.shape[axis_];
    }
    if (total != out.shape[axis_])
      fail(*this, "sizes along the axis do not add up to output '" + out.name + "'");
    float_ = out.type == DType::kFloat32;
  }
  void run(Model& m) override {
    Tensor& out = m.tensor(outputs[0]);
    size_t outer = 1, inner = out.element_size();
    for (int d = 0; d < axis_; ++d) outer *= out.shape[d];
    for (int d = axis_ + 1; d < out.rank(); ++d) inner *= out.shape[d];
    const size_t out_row = inner * out.shape[axis_];
    size_t offset = 0;
    for (int id : inputs) {
      const Tensor& t = m.tensor(id);
      const size_t row = inner * t.shape[axis_];
      for (size_t o = 0; o < outer; ++o)
        std::memcpy(out.ptr + o * out_row + offset, t.ptr + o * row, row);
      offset += row;
    }
    if (float_ && (clamp_.lo > -INFINITY || clamp_.hi < INFINITY)) {
      float* p = out.data<float>();
      for (size_t i = 0; i < out.elements(); ++i) p[i] = clampf(p[i], clamp_);
    }
  }

 private:
  int axis_ = 0;
  bool float_ = true;
  Clamp clamp_{};
};

class Pad : public Op {
 public:
  void prepare(Model& m) override {
    const auto [in, out] = float_in_out(m, *this);
    if (in.rank() < 1) fail(*this, "input '" + in.name + "' is a scalar");
    const Tensor& paddings = m.input(*this, 1);
    const auto pads = const_ints(*this, paddings, "paddings");
    if (pads.size() != 2 * in.shape.size())
      fail(*this, "paddings '" + paddings.name + "' must be [rank, 2]");
    std::vector<int> before(in.rank());
    std::vector<int> shape(in.rank());
    for (int d = 0; d < in.rank(); ++d) {
      // A negative padding would write before the output buffer.
      if (pads[2 * d] < 0 || pads[2 * d + 1] < 0 || pads[2 * d] > kMaxPad || pads[2 * d + 1] > kMaxPad)
        fail(*this, "paddings '" + paddings.name + "' must be in 0.." + std::to_string(kMaxPad));
      before[d] = static_cast<int>(pads[2 * d]);
      const std::int64_t size = std::int64_t{in.shape[d]} + pads[2 * d] + pads[2 * d + 1];
      if (size > std::numeric_limits<int>::max()) fail(*this, "padded size overflows");
      shape[d] = static_cast<int>(size);
    }
    expect_shape(*this, out, shape);
    out_steps_ = strides_of(shape);
    start_ = 0;
    for (int d = 0; d < in.rank(); ++d) start_ += before[d] * out_steps_[d];
    value_ = 0.0f;
    if (inputs.size() > 2 && inputs[2] >= 0) {
      const Tensor& value = m.input(*this, 2);
      expect_float(*this, value);
      if (value.elements() != 1) fail(*this, "constant value '" + value.name + "' must be a scalar");
      value_ = value.data<float>()[0];
    }
  }
  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    Tensor& out = m.tensor(outputs[0]);
    float* dst = out.data<float>();
    std::fill(dst, dst + out.elements(), value_);
    // Each input row lands whole in the output, after the paddings before it on every axis.
    const float* src = in.data<float>();
    for_each_strided_row<1>(in.shape, {out_steps_}, {start_}, [&](size_t i, const auto& at, int n) {
      std::memcpy(dst + at[0], src + i, sizeof(float) * n);
    });
  }

 private:
  Steps out_steps_;
  std::int64_t start_ = 0;
  float value_ = 0.0f;
};

// MEAN / SUM / REDUCE_MAX over constant axes.
class Reduce : public Op {
 public:
  void prepare(Model& m) override {
    const auto [in, out] = float_in_out(m, *this);
    reduced_.assign(in.rank(), false);
    for (auto a : const_ints(*this, m.input(*this, 1), "axes")) {
      const int axis = static_cast<int>(a < 0 ? a + in.rank() : a);
      if (axis < 0 || axis >= in.rank()) fail(*this, "bad axis");
      reduced_[axis] = true;
    }
    // The output element an input element adds to: a walk over the input whose steps are
    // the output's strides on kept axes and 0 on reduced ones.
    out_steps_.assign(in.rank(), 0);
    size_t kept = 1;
    count_ = 1;
    for (int d = in.rank() - 1; d >= 0; --d) {
      if (reduced_[d]) {
        count_ *= in.shape[d];
      } else {
        out_steps_[d] = static_cast<std::int64_t>(kept);
        kept *= in.shape[d];
      }
    }
    if (out.elements() != kept)
      fail(*this, "output '" + out.name + "' does not have the size of the kept axes");
  }
  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    Tensor& out = m.tensor(outputs[0]);
    float* dst = out.data<float>();
    const bool is_max = type == "REDUCE_MAX";
    std::fill(dst, dst + out.elements(), is_max ? -INFINITY : 0.0f);
    if (is_max) {
      reduce_rows(in, dst, [](float acc, float x) { return std::max(acc, x); });
    } else {
      reduce_rows(in, dst, [](float acc, float x) { return acc + x; });
    }
    if (type == "MEAN")
      for (size_t i = 0; i < out.elements(); ++i) dst[i] /= static_cast<float>(count_);
  }

 private:
  // Folds every input element into its output element in row-major input order (so the
  // sums are the same whichever axes are kept): a kept last axis folds a whole row into a
  // row of outputs (a loop that vectorises), a reduced one into a single output.
  template <class F>
  void reduce_rows(const Tensor& in, float* dst, F fold) const {
    const float* src = in.data<float>();
    const std::int64_t inner = out_steps_.empty() ? 0 : out_steps_.back();
    for_each_strided_row<1>(in.shape, {out_steps_}, {}, [&](size_t i, const auto& at, int n) {
      const float* x = src + i;
      float* y = dst + at[0];
      if (inner == 1) {
        for (int j = 0; j < n; ++j) y[j] = fold(y[j], x[j]);
      } else {
        float acc = *y;
        for (int j = 0; j < n; ++j) acc = fold(acc, x[j]);
        *y = acc;
      }
    });
  }

  std::vector<bool> reduced_;
  Steps out_steps_;
  size_t count_ = 1;
};

class Softmax : public Op {
 public:
  void prepare(Model& m) override {
    const auto [in, out] = float_in_out(m, *this);
    if (in.rank() < 1) fail(*this, "input '" + in.name + "' is a scalar");
    // The output is written row by row over the input's shape.
    expect_shape(*this, out, in.shape);
    beta_ = opt_float(*this, "beta", 1.0f);
  }
  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    const int c = in.shape.back();
    const size_t rows = in.elements() / std::max(1, c);
    const float* src = in.data<float>();
    float* dst = m.tensor(outputs[0]).data<float>();
    for (size_t r = 0; r < rows; ++r) {
      const float* x = src + r * c;
      float* y = dst + r * c;
      const float mx = *std::max_element(x, x + c);
      float sum = 0.0f;
      for (int i = 0; i < c; ++i) sum += (y[i] = std::exp((x[i] - mx) * beta_));
      for (int i = 0; i < c; ++i) y[i] /= sum;
    }
  }

 private:
  float beta_ = 1.0f;
};

// PRELU and LEAKY_RELU. The select vectorises only because the engine is built with
// -fno-trapping-math (see COMPILE_ARGS): otherwise GCC keeps it a branch, which
// mispredicts on every sign change.
constexpr auto leaky = [](float x, float a) { return x >= 0.0f ? x : x * a; };

}  // namespace

std::unique_ptr<Op> make_misc_op(const std::string& type) {
  if (type == "ADD") return binary([](float a, float b) { return a + b; });
  if (type == "SUB") return binary([](float a, float b) { return a - b; });
  if (type == "MUL") return binary([](float a, float b) { return a * b; });
  if (type == "DIV") return binary([](float a, float b) { return a / b; });
  if (type == "MAXIMUM") return binary([](float a, float b) { return std::max(a, b); });
  if (type == "MINIMUM") return binary([](float a, float b) { return std::min(a, b); });
  if (type == "SQUARED_DIFFERENCE")
    return binary([](float a, float b) { return (a - b) * (a - b); });
  if (type == "PRELU")
    return binary(leaky);
  if (type == "GREATER") return compare([](float a, float b) { return a > b; });
  if (type == "GREATER_EQUAL")
    return compare([](float a, float b) { return a >= b; });
  if (type == "LESS") return compare([](float a, float b) { return a < b; });
  if (type == "LESS_EQUAL")
    return compare([](float a, float b) { return a <= b; });
  if (type == "EQUAL") return compare([](float a, float b) { return a == b; });
  if (type == "NOT_EQUAL")
    return compare([](float a, float b) { return a != b; });
  if (type == "SELECT" || type == "SELECT_V2") return std::make_unique<Select>();
  if (type == "RELU") return unary([](float x, float) { return std::max(x, 0.0f); });
  if (type == "RELU6")
    return unary([](float x, float) { return std::min(std::max(x, 0.0f), 6.0f); });
  if (type == "RELU_N1_TO_1")
    return unary([](float x, float) { return std::min(std::max(x, -1.0f), 1.0f); });
  if (type == "RELU_0_TO_1")
    return unary([](float x, float) { return std::min(std::max(x, 0.0f), 1.0f); });
  if (type == "TANH") return unary([](float x, float) { return std::tanh(x); });
  if (type == "LOGISTIC")
    return unary([](float x, float) { return 1.0f / (1.0f + std::exp(-x)); });
  if (type == "LEAKY_RELU")
    return unary(leaky);
  if (type == "HARD_SWISH")
    return unary(
        [](float x, float) { return x * std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f; });
  if (type == "ABS") return unary([](float x, float) { return std::fabs(x); });
  if (type == "NEG") return unary([](float x, float) { return -x; });
  if (type == "EXP") return unary([](float x, float) { return std::exp(x); });
  if (type == "SQRT") return unary([](float x, float) { return std::sqrt(x); });
  if (type == "RSQRT")
    return unary([](float x, float) { return 1.0f / std::sqrt(x); });
  if (type == "SQUARE") return unary([](float x, float) { return x * x; });
  if (type == "RESHAPE" || type == "SQUEEZE" || type == "EXPAND_DIMS")
    return std::make_unique<Reshape>();
  if (type == "CONCATENATION") return std::make_unique<Concatenation>();
  if (type == "PAD" || type == "PADV2") return std::make_unique<Pad>();
  if (type == "MEAN" || type == "SUM" || type == "REDUCE_MAX") return std::make_unique<Reduce>();
  if (type == "SOFTMAX") return std::make_unique<Softmax>();
  return nullptr;
}

}  // namespace lce_native
