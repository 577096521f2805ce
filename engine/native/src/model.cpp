// The Model: tensor storage, op construction and timed execution.
#include "model.h"

#include <chrono>
#include <cstring>

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

Model::Model(int num_threads, const std::string& kernels)
    : kernels_(&select_kernels(kernels)), pool_(num_threads) {}

int Model::add_tensor(const std::string& name, const std::vector<int>& shape, DType type,
                      const void* data, size_t bytes) {
  Tensor t;
  t.name = name;
  t.shape = shape;
  t.type = type;
  for (int d : shape)
    if (d < 0) throw std::invalid_argument("tensor '" + name + "' has a dynamic shape");
  // A little slack past the end lets vector kernels read whole registers.
  t.storage.assign(t.elements() * t.element_size() + 64, 0);
  if (data != nullptr) {
    if (bytes != t.elements() * t.element_size())
      throw std::invalid_argument("tensor '" + name + "': constant data has the wrong size");
    std::memcpy(t.storage.data(), data, bytes);
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
  ops_.push_back(std::move(op));
}

void Model::finalize(const std::vector<int>& inputs, const std::vector<int>& outputs) {
  inputs_ = inputs;
  outputs_ = outputs;
  for (auto& op : ops_) {
    if (op->inputs.empty() || op->inputs[0] < 0) fail(*op, "missing first input");
    op->prepare(*this);
  }
}

void Model::invoke(std::vector<double>* op_us) {
  using Clock = std::chrono::steady_clock;
  for (size_t i = 0; i < ops_.size(); ++i) {
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
