// Layout ops that only move elements: TRANSPOSE, SLICE and STRIDED_SLICE, of any type.
//
// Each is a strided view of its input: output element (i_0, ..., i_k) is input element
// base + sum_d i_d * step_d, so one copy loop (for_each_strided) serves all three.
#include <cstdlib>
#include <cstring>
#include <limits>

#include "ops_util.h"

namespace lce_native {
namespace {

class StridedView : public Op {
 public:
  void prepare(Model& m) override {
    const Tensor& in = m.input(*this, 0);
    const Tensor& out = m.output(*this, 0);
    if (in.type != out.type)
      fail(*this, "output '" + out.name + "' has another type than input '" + in.name + "'");
    base_ = 0;
    step_.clear();
    std::vector<int> shape;
    view(m, in, strides_of(in.shape), shape);
    expect_shape(*this, out, shape);
  }
  void run(Model& m) override {
    const Tensor& in = m.tensor(inputs[0]);
    Tensor& out = m.tensor(outputs[0]);
    const size_t size = in.element_size();
    const std::uint8_t* src = in.ptr;
    std::uint8_t* dst = out.ptr;
    for_each_strided<1>(out.shape, {step_}, {base_},
                        [&](size_t i, const std::array<std::int64_t, 1>& at) {
                          std::memcpy(dst + i * size, src + at[0] * static_cast<std::int64_t>(size),
                                      size);
                        });
  }

 protected:
  // Fill `shape` (the output's) and base_/step_ (one step per output axis), checked
  // so that every element read lies inside the input.
  virtual void view(Model& m, const Tensor& in, const Steps& strides,
                    std::vector<int>& shape) = 0;
  std::int64_t base_ = 0;
  Steps step_;
};

class Transpose : public StridedView {
  void view(Model& m, const Tensor& in, const Steps& strides,
            std::vector<int>& shape) override {
    const Tensor& perm_tensor = m.input(*this, 1);
    const auto perm = const_ints(*this, perm_tensor, "permutation");
    if (perm.size() != in.shape.size())
      fail(*this, "permutation '" + perm_tensor.name + "' must have one entry per input axis");
    std::vector<bool> seen(perm.size(), false);
    for (auto p : perm) {
      if (p < 0 || p >= in.rank() || seen[p])
        fail(*this, "permutation '" + perm_tensor.name + "' is not a permutation of the axes");
      seen[p] = true;
      shape.push_back(in.shape[p]);
      step_.push_back(strides[p]);
    }
  }
};

// One axis of a slice: `count` elements from `begin`, `stride` apart.
struct AxisRange {
  std::int64_t begin, count, stride;
};

class Slice : public StridedView {
  void view(Model& m, const Tensor& in, const Steps& strides,
            std::vector<int>& shape) override {
    const Tensor& begin_tensor = m.input(*this, 1);
    const Tensor& size_tensor = m.input(*this, 2);
    const auto begin = const_ints(*this, begin_tensor, "begin");
    const auto size = const_ints(*this, size_tensor, "size");
    if (begin.size() != in.shape.size() || size.size() != in.shape.size())
      fail(*this, "begin and size must have one entry per input axis");
    for (int d = 0; d < in.rank(); ++d) {
      const std::int64_t dim = in.shape[d];
      const std::int64_t count = size[d] == -1 ? dim - begin[d] : size[d];
      if (begin[d] < 0 || begin[d] > dim || count < 0 || count > dim - begin[d])
        fail(*this, "the slice of axis " + std::to_string(d) + " leaves the input");
      base_ += begin[d] * strides[d];
      shape.push_back(static_cast<int>(count));
      step_.push_back(strides[d]);
    }
  }
};

// TensorFlow's strided slice: masks, negative indices and strides, shrunk axes. The
// ellipsis and new-axis masks are refused by name (LCE's converter expands both).
class StridedSlice : public StridedView {
  void view(Model& m, const Tensor& in, const Steps& strides,
            std::vector<int>& shape) override {
    const auto begin = const_ints(*this, m.input(*this, 1), "begin");
    const auto end = const_ints(*this, m.input(*this, 2), "end");
    const auto stride = const_ints(*this, m.input(*this, 3), "strides");
    if (begin.size() != end.size() || begin.size() != stride.size() ||
        begin.size() > in.shape.size())
      fail(*this, "begin, end and strides must have one entry per sliced axis");
    for (const char* key : {"ellipsis_mask", "new_axis_mask", "offset"})
      if (opt_int(*this, key, 0) != 0) fail(*this, std::string("option '") + key + "' is not supported");
    const int begin_mask = opt_int(*this, "begin_mask", 0);
    const int end_mask = opt_int(*this, "end_mask", 0);
    const int shrink_mask = opt_int(*this, "shrink_axis_mask", 0);
    for (int d = 0; d < in.rank(); ++d) {
      const bool sliced = d < static_cast<int>(begin.size());
      const AxisRange r = sliced ? axis_range(d, in.shape[d], begin[d], end[d], stride[d],
                                              begin_mask >> d & 1, end_mask >> d & 1,
                                              shrink_mask >> d & 1)
                                 : AxisRange{0, in.shape[d], 1};
      base_ += r.begin * strides[d];
      if (sliced && (shrink_mask >> d & 1)) continue;
      shape.push_back(static_cast<int>(r.count));
      step_.push_back(r.stride * strides[d]);
    }
  }

  AxisRange axis_range(int d, std::int64_t dim, std::int64_t b, std::int64_t e, std::int64_t s,
                       bool begin_masked, bool end_masked, bool shrink) const {
    if (s == 0) fail(*this, "the stride of axis " + std::to_string(d) + " is 0");
    if (std::abs(b) > kMaxIndex || std::abs(e) > kMaxIndex || std::abs(s) > kMaxIndex)
      fail(*this, "an index of axis " + std::to_string(d) + " is out of range");
    if (shrink) {
      const std::int64_t at = b < 0 ? b + dim : b;
      if (at < 0 || at >= dim)
        fail(*this, "the index of shrunk axis " + std::to_string(d) + " leaves the input");
      return {at, 1, 1};
    }
    // Where a range may start and stop: [0, dim] going forward, [-1, dim - 1] backward.
    const std::int64_t lo = s > 0 ? 0 : -1, hi = s > 0 ? dim : dim - 1;
    auto place = [&](std::int64_t i) { return std::min(hi, std::max(lo, i < 0 ? i + dim : i)); };
    b = begin_masked ? (s > 0 ? 0 : dim - 1) : place(b);
    e = end_masked ? (s > 0 ? dim : -1) : place(e);
    const std::int64_t span = s > 0 ? e - b : b - e;
    const std::int64_t step = s > 0 ? s : -s;
    return {b, span <= 0 ? 0 : (span + step - 1) / step, s};
  }

  static constexpr std::int64_t kMaxIndex = std::numeric_limits<int>::max();
};

}  // namespace

std::unique_ptr<Op> make_layout_op(const std::string& type) {
  if (type == "TRANSPOSE") return std::make_unique<Transpose>();
  if (type == "SLICE") return std::make_unique<Slice>();
  if (type == "STRIDED_SLICE") return std::make_unique<StridedSlice>();
  return nullptr;
}

}  // namespace lce_native
