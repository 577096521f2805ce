// The Model: tensor storage, op construction and timed execution.
#include "model.h"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace lce_native {

std::unique_ptr<Op> make_binary_op(const std::string& type);
std::unique_ptr<Op> make_float_op(const std::string& type);
std::unique_ptr<Op> make_misc_op(const std::string& type);
std::unique_ptr<Op> make_layout_op(const std::string& type);
std::unique_ptr<Op> make_int8_op(const std::string& type);

void fail(const Op& op, const std::string& message) {
  throw std::invalid_argument(op.type + " (op " + std::to_string(op.index) + ", output '" +
                              op.name + "'): " + message);
}

size_t checked_mul(const Op& op, size_t a, size_t b, size_t limit, const std::string& what) {
  if (a != 0 && b > limit / a) fail(op, what + " is too large (a damaged shape or option?)");
  return a * b;
}

Tensor& Model::input(const Op& op, size_t i) {
  if (i >= op.inputs.size() || op.inputs[i] < 0)
    fail(op, "input " + std::to_string(i) + " is missing");
  return tensor(op.inputs[i]);
}

Tensor& Model::output(const Op& op, size_t i) {
  if (i >= op.outputs.size()) fail(op, "output " + std::to_string(i) + " is missing");
  return tensor(op.outputs[i]);
}

void Model::charge(const Op& op, size_t bytes, const std::string& what) {
  if (bytes > max_bytes_ - std::min(charged_, max_bytes_))
    fail(op, what + " needs " + std::to_string(bytes >> 20) + " MiB more, past the model's cap of " +
                 std::to_string(max_bytes_ >> 20) + " MiB");
  charged_ += bytes;
}

std::unique_ptr<Op> make_op(const std::string& type, bool quantized) {
  // LCE's own ops and the layout ops take int8 in their stride; the rest have an integer
  // twin that computes what TFLite's integer kernels do.
  std::unique_ptr<Op> op = quantized ? make_int8_op(type) : nullptr;
  if (!op) op = make_binary_op(type);
  if (!op) op = make_float_op(type);
  if (!op) op = make_misc_op(type);
  if (!op) op = make_layout_op(type);
  if (!op) throw std::invalid_argument("unsupported op '" + type + "'");
  op->type = type;
  return op;
}

Model::Model(int num_threads, const std::string& kernels, bool keep_intermediates,
             size_t max_bytes)
    : kernels_(&select_kernels(kernels)), pool_(num_threads),
      keep_intermediates_(keep_intermediates), max_bytes_(max_bytes) {}

int Model::add_tensor(const std::string& name, const std::vector<int>& shape, DType type,
                      const void* data, size_t bytes) {
  Tensor t;
  t.name = name;
  t.shape = shape;
  t.type = type;
  if (shape.size() > static_cast<size_t>(kMaxRank))
    throw std::invalid_argument("tensor '" + name + "' has rank " + std::to_string(shape.size()) +
                                " (at most " + std::to_string(kMaxRank) + ")");
  // Every later size computation relies on this product fitting the cap.
  size_t bytes_needed = t.element_size();
  for (int d : shape) {
    if (d < 0) throw std::invalid_argument("tensor '" + name + "' has a dynamic shape");
    if (d != 0 && bytes_needed > max_bytes_ / static_cast<size_t>(d))
      throw std::invalid_argument("tensor '" + name + "' is larger than the model's cap of " +
                                  std::to_string(max_bytes_ >> 20) + " MiB");
    bytes_needed *= static_cast<size_t>(d);
  }
  if (bytes_needed + 64 > max_bytes_ - std::min(charged_, max_bytes_))
    throw std::invalid_argument("tensor '" + name + "' takes the model past its cap of " +
                                std::to_string(max_bytes_ >> 20) + " MiB");
  charged_ += bytes_needed + 64;
  if (data != nullptr) {
    if (bytes != t.bytes())
      throw std::invalid_argument("tensor '" + name + "': constant data has the wrong size");
    // A little slack past the end lets vector kernels read whole registers.
    t.storage.assign(t.bytes() + 64, 0);
    std::memcpy(t.storage.data(), data, bytes);
    t.ptr = t.storage.data();
    t.constant = true;
  }
  tensors_.push_back(std::move(t));
  return static_cast<int>(tensors_.size()) - 1;
}

void Model::set_quantization(int id, const std::vector<float>& scales,
                             const std::vector<std::int32_t>& zero_points, int axis) {
  if (id < 0 || id >= static_cast<int>(tensors_.size()))
    throw std::invalid_argument("tensor index " + std::to_string(id) + " out of range");
  Tensor& t = tensors_[id];
  const bool per_axis = scales.size() > 1;
  if (scales.empty() || scales.size() != zero_points.size() || axis < 0 ||
      (per_axis && (axis >= t.rank() || static_cast<size_t>(t.dim(axis)) != scales.size())))
    throw std::invalid_argument("tensor '" + t.name + "': its quantization does not fit its shape");
  for (float s : scales)
    if (!(s > 0.0f) || !std::isfinite(s))
      throw std::invalid_argument("tensor '" + t.name + "': quantization scale " +
                                  std::to_string(s) + " is not a positive number");
  for (std::int32_t z : zero_points)
    if (z < -128 || z > 127)
      throw std::invalid_argument("tensor '" + t.name + "': zero point " + std::to_string(z) +
                                  " is outside int8");
  t.quant = {scales, zero_points, axis};
}

void Model::add_op(const std::string& type, const std::vector<int>& inputs,
                   const std::vector<int>& outputs, const Options& options) {
  const int n = static_cast<int>(tensors_.size());
  bool quantized = false;
  for (const auto* ids : {&inputs, &outputs})
    for (int id : *ids) quantized |= id >= 0 && id < n && tensors_[id].type == DType::kInt8;
  std::unique_ptr<Op> op = make_op(type, quantized);
  op->index = static_cast<int>(ops_.size());
  op->options = options;
  if (outputs.empty()) fail(*op, "no outputs");
  for (int id : inputs)
    if (id < -1 || id >= n) fail(*op, "input tensor index " + std::to_string(id) + " out of range");
  for (int id : outputs)
    if (id < 0 || id >= n) fail(*op, "output tensor index " + std::to_string(id) + " out of range");
  op->inputs = inputs;
  op->outputs = outputs;
  op->name = tensors_[outputs[0]].name;
  for (int id : outputs) {
    if (tensors_[id].constant) fail(*op, "writes the constant tensor '" + tensors_[id].name + "'");
    // Kernels assume inputs and outputs never overlap (memcpy, indirection tables).
    if (std::find(inputs.begin(), inputs.end(), id) != inputs.end())
      fail(*op, "reads and writes the same tensor '" + tensors_[id].name + "'");
  }
  ops_.push_back(std::move(op));
}

void Model::finalize(const std::vector<int>& inputs, const std::vector<int>& outputs) {
  inputs_ = inputs;
  outputs_ = outputs;
  for (const auto* ids : {&inputs, &outputs})
    for (int id : *ids) {
      if (id < 0 || id >= static_cast<int>(tensors_.size()))
        throw std::invalid_argument("graph tensor index " + std::to_string(id) + " out of range");
      // Inputs are copied in and outputs out as float32, int32 or int8 arrays.
      const Tensor& t = tensors_[id];
      if (t.type == DType::kInt64 || t.type == DType::kBool)
        throw std::invalid_argument("graph input/output '" + t.name + "' is " +
                                    dtype_name(t.type) + " (unsupported)");
      if (t.type == DType::kInt8 && t.quant.scales.empty())
        throw std::invalid_argument("graph input/output '" + t.name +
                                    "' is int8 without a scale and zero point");
    }
  for (int id : inputs)
    if (tensors_[id].constant)
      throw std::invalid_argument("graph input '" + tensors_[id].name + "' is a constant");
  check_execution_order();
  if (!keep_intermediates_) fuse_residual_adds();
  plan_memory();
  for (auto& op : ops_) {
    if (op->fused_away) continue;
    if (op->inputs.empty() || op->inputs[0] < 0) fail(*op, "missing first input");
    // Whatever a check missed surfaces as an error naming the op, never as a crash.
    try {
      op->prepare(*this);
    } catch (const std::invalid_argument&) {
      throw;
    } catch (const std::bad_alloc&) {
      fail(*op, "out of memory while preparing");
    } catch (const std::exception& e) {
      fail(*op, e.what());
    }
  }
}

// The memory plan and the fusions take the op list as the execution order: a tensor read
// before it is written (or written twice) would make two live tensors share bytes.
void Model::check_execution_order() const {
  std::vector<bool> ready(tensors_.size(), false);
  for (size_t id = 0; id < tensors_.size(); ++id) ready[id] = tensors_[id].constant;
  for (int id : inputs_) ready[id] = true;
  for (const auto& op : ops_) {
    for (int id : op->inputs)
      if (id >= 0 && !ready[id])
        fail(*op, "reads tensor '" + tensors_[id].name +
                      "' before any operator writes it (operators out of execution order)");
    for (int id : op->outputs) {
      if (ready[id]) fail(*op, "writes tensor '" + tensors_[id].name + "' a second time");
      ready[id] = true;
    }
  }
}

// Intermediates live from the op that writes them to the last op that reads them; two
// whose lifetimes do not overlap may share bytes. Sharing keeps the working set in cache.
void Model::plan_memory() {
  const int n = static_cast<int>(tensors_.size());
  std::vector<int> first(n, -1), last(n, -1);
  std::vector<bool> own(n, keep_intermediates_);
  for (int id : inputs_) own[id] = true;
  for (int id : outputs_) own[id] = true;
  for (int i = 0; i < static_cast<int>(ops_.size()); ++i) {
    for (int id : ops_[i]->outputs)
      if (first[id] < 0) first[id] = i;
    for (int id : ops_[i]->inputs)
      if (id >= 0) last[id] = i;
  }
  struct Block {
    size_t offset, size;
    int first, last;
  };
  std::vector<Block> placed;
  std::vector<std::pair<int, size_t>> offsets;
  size_t arena_size = 0;
  // Largest first, each at the lowest offset that fits beside the overlapping ones.
  std::vector<int> order;
  for (int id = 0; id < n; ++id) {
    Tensor& t = tensors_[id];
    if (t.constant) continue;
    if (own[id] || first[id] < 0) {
      t.storage.assign(t.bytes() + 64, 0);
      t.ptr = t.storage.data();
      continue;
    }
    order.push_back(id);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return tensors_[a].bytes() > tensors_[b].bytes(); });
  for (int id : order) {
    const size_t size = (tensors_[id].bytes() + 64 + 63) / 64 * 64;
    const int lo = first[id], hi = std::max(first[id], last[id]);
    std::vector<std::pair<size_t, size_t>> busy;
    for (const Block& b : placed)
      if (b.first <= hi && lo <= b.last) busy.emplace_back(b.offset, b.offset + b.size);
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + size <= begin) break;
      offset = std::max(offset, end);
    }
    placed.push_back({offset, size, lo, hi});
    offsets.emplace_back(id, offset);
    arena_size = std::max(arena_size, offset + size);
  }
  arena_.assign(arena_size + 64, 0);
  // 64-byte aligned base.
  const size_t shift =
      (64 - reinterpret_cast<std::uintptr_t>(arena_.data()) % 64) % 64;
  for (const auto& [id, offset] : offsets) tensors_[id].ptr = arena_.data() + shift + offset;
}

// A residual ADD right after a float-output binary convolution is folded into the
// convolution's output transform: one pass over the activations instead of two.
void Model::fuse_residual_adds() {
  const int n = static_cast<int>(tensors_.size());
  std::vector<int> producer(n, -1), readers(n, 0);
  for (int i = 0; i < static_cast<int>(ops_.size()); ++i) {
    for (int id : ops_[i]->outputs) producer[id] = i;
    for (int id : ops_[i]->inputs)
      if (id >= 0) ++readers[id];
  }
  for (int id : outputs_) ++readers[id];
  for (auto& add : ops_) {
    if (add->type != "ADD" || add->inputs.size() != 2) continue;
    const int out = add->outputs[0];
    const int a = add->inputs[0], b = add->inputs[1];
    if (a < 0 || b < 0 || tensors_[a].shape != tensors_[out].shape ||
        tensors_[b].shape != tensors_[out].shape)
      continue;
    // The fused ADD is never prepared, so its types are checked here.
    if (tensors_[a].type != DType::kFloat32 || tensors_[b].type != DType::kFloat32 ||
        tensors_[out].type != DType::kFloat32)
      continue;
    Clamp clamp{-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
    const auto act = add->options.find("fused_activation_function");
    const double raw = act == add->options.end() ? 0.0 : act->second;
    if (!(raw >= 0.0 && raw <= 3.0)) continue;  // also NaN; the ADD's own check names it
    const int code = static_cast<int>(raw);
    if (code == 1) clamp.lo = 0.0f;
    if (code == 2) clamp = {-1.0f, 1.0f};
    if (code == 3) clamp = {0.0f, 6.0f};
    for (const auto& [conv_out, residual] : {std::pair{a, b}, std::pair{b, a}}) {
      const int i = producer[conv_out];
      if (i < 0 || ops_[i]->type != "LceBconv2d" || readers[conv_out] != 1) continue;
      // The residual must be ready before the convolution runs.
      if (producer[residual] >= i) continue;
      if (!ops_[i]->fuse_add(*this, residual, clamp)) continue;
      ops_[i]->outputs[0] = out;
      add->fused_away = true;
      break;
    }
  }
}

void Model::invoke(std::vector<double>* op_us) {
  using Clock = std::chrono::steady_clock;
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (ops_[i]->fused_away) continue;
    if (op_us == nullptr) {
      ops_[i]->run(*this);
      continue;
    }
    const auto start = Clock::now();
    ops_[i]->run(*this);
    (*op_us)[i] += std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  }
}

}  // namespace lce_native
