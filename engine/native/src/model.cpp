// The Model: tensor storage, op construction and timed execution.
#include "model.h"

#include <chrono>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

namespace lce_native {

std::unique_ptr<Op> make_binary_op(const std::string& type);
std::unique_ptr<Op> make_float_op(const std::string& type);
std::unique_ptr<Op> make_misc_op(const std::string& type);

void fail(const Op& op, const std::string& message) {
  throw std::invalid_argument(op.type + ": " + message);
}

std::unique_ptr<Op> make_op(const std::string& type) {
  std::unique_ptr<Op> op = make_binary_op(type);
  if (!op) op = make_float_op(type);
  if (!op) op = make_misc_op(type);
  if (!op) throw std::invalid_argument("unsupported op '" + type + "'");
  op->type = type;
  return op;
}

Model::Model(int num_threads, const std::string& kernels, bool keep_intermediates)
    : kernels_(&select_kernels(kernels)), pool_(num_threads),
      keep_intermediates_(keep_intermediates) {}

int Model::add_tensor(const std::string& name, const std::vector<int>& shape, DType type,
                      const void* data, size_t bytes) {
  Tensor t;
  t.name = name;
  t.shape = shape;
  t.type = type;
  for (int d : shape)
    if (d < 0) throw std::invalid_argument("tensor '" + name + "' has a dynamic shape");
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

void Model::add_op(const std::string& type, const std::vector<int>& inputs,
                   const std::vector<int>& outputs, const Options& options) {
  std::unique_ptr<Op> op = make_op(type);
  for (int id : inputs)
    if (id >= static_cast<int>(tensors_.size())) throw std::invalid_argument(type + ": bad input");
  for (int id : outputs)
    if (id < 0 || id >= static_cast<int>(tensors_.size()))
      throw std::invalid_argument(type + ": bad output");
  if (outputs.empty()) throw std::invalid_argument(type + ": no outputs");
  op->inputs = inputs;
  op->outputs = outputs;
  op->options = options;
  op->name = tensors_[outputs[0]].name;
  ops_.push_back(std::move(op));
}

void Model::finalize(const std::vector<int>& inputs, const std::vector<int>& outputs) {
  inputs_ = inputs;
  outputs_ = outputs;
  for (int id : inputs)
    if (id < 0 || id >= static_cast<int>(tensors_.size()))
      throw std::invalid_argument("bad graph input");
  for (int id : outputs)
    if (id < 0 || id >= static_cast<int>(tensors_.size()))
      throw std::invalid_argument("bad graph output");
  if (!keep_intermediates_) fuse_residual_adds();
  plan_memory();
  for (auto& op : ops_) {
    if (op->fused_away) continue;
    if (op->inputs.empty() || op->inputs[0] < 0) fail(*op, "missing first input");
    op->prepare(*this);
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
    Clamp clamp{-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
    const auto act = add->options.find("fused_activation_function");
    const int code = act == add->options.end() ? 0 : static_cast<int>(act->second);
    if (code == 1) clamp.lo = 0.0f;
    if (code == 2) clamp = {-1.0f, 1.0f};
    if (code == 3) clamp = {0.0f, 6.0f};
    if (code < 0 || code > 3) continue;
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
