// The execution plan: tensors with static shapes, ops in topological order, and a runner
// that times each op.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "common.h"

namespace lce_native {

using Options = std::map<std::string, double>;

// An int8 tensor's affine quantization: one scale and zero point for the whole tensor,
// or one per index of `axis` (convolution filters, per output channel).
struct Quantization {
  std::vector<float> scales;
  std::vector<std::int32_t> zero_points;
  int axis = 0;
};

struct Tensor {
  std::string name;
  std::vector<int> shape;
  DType type = DType::kFloat32;
  bool constant = false;
  std::vector<std::uint8_t> storage;  // own memory (constants, graph inputs/outputs, kept)
  std::uint8_t* ptr = nullptr;        // own memory or a slice of the model's arena
  Quantization quant;                 // int8 tensors only

  size_t bytes() const { return elements() * element_size(); }

  size_t elements() const {
    size_t n = 1;
    for (int d : shape) n *= static_cast<size_t>(d);
    return n;
  }
  size_t element_size() const {
    return type == DType::kInt64 ? 8 : type == DType::kBool || type == DType::kInt8 ? 1 : 4;
  }
  template <typename T>
  T* data() {
    return reinterpret_cast<T*>(ptr);
  }
  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(ptr);
  }
  int dim(int i) const { return shape.at(i < 0 ? static_cast<int>(shape.size()) + i : i); }
  int rank() const { return static_cast<int>(shape.size()); }
};

class Model;

class Op {
 public:
  virtual ~Op() = default;
  // Validate shapes and types against the options; precompute packed weights etc.
  virtual void prepare(Model& model) = 0;
  virtual void run(Model& model) = 0;
  // Take over a following ADD of this op's output and `residual` (same shape), writing
  // clamp(output + residual) straight to the ADD's output. False when it cannot.
  virtual bool fuse_add(Model& model, int residual, Clamp clamp) {
    (void)model, (void)residual, (void)clamp;
    return false;
  }

  std::string type;
  std::string name;  // the output tensor's name when loaded (kept if fusion rewires it)
  int index = -1;    // position in the flatbuffer's operator list
  bool fused_away = false;  // an ADD whose work another op does
  std::vector<int> inputs;  // -1 = optional input left out
  std::vector<int> outputs;
  Options options;
};

// Throws std::invalid_argument naming the op type when it is not supported. `quantized`:
// the op reads or writes int8 tensors (TFLite's integer kernels, ops_int8.cpp).
std::unique_ptr<Op> make_op(const std::string& type, bool quantized = false);

// What a model may allocate unless told otherwise: a damaged dimension is refused
// at load time instead of being allocated and zeroed.
constexpr size_t kDefaultMaxBytes = size_t{2} << 30;
constexpr int kMaxRank = 8;

class Model {
 public:
  // keep_intermediates: give every tensor its own memory so all stay readable after a
  // run (for op-by-op checks); otherwise intermediates share one arena by lifetime.
  // max_bytes caps tensors plus everything ops precompute (packed weights, tables).
  Model(int num_threads, const std::string& kernels, bool keep_intermediates = false,
        size_t max_bytes = kDefaultMaxBytes);

  int add_tensor(const std::string& name, const std::vector<int>& shape, DType type,
                 const void* data, size_t bytes);
  // Scales and zero points of an int8 tensor (one each, or one per index of `axis`).
  void set_quantization(int id, const std::vector<float>& scales,
                        const std::vector<std::int32_t>& zero_points, int axis);
  void add_op(const std::string& type, const std::vector<int>& inputs,
              const std::vector<int>& outputs, const Options& options);
  void finalize(const std::vector<int>& inputs, const std::vector<int>& outputs);
  // Run all ops; when op_us is given, add each op's wall time in microseconds to it.
  void invoke(std::vector<double>* op_us);

  Tensor& tensor(int id) { return tensors_.at(static_cast<size_t>(id)); }
  // The op's i-th input / output tensor; fails naming the op when it is missing.
  Tensor& input(const Op& op, size_t i);
  Tensor& output(const Op& op, size_t i);
  // Count `bytes` more against the model's memory cap before allocating them.
  void charge(const Op& op, size_t bytes, const std::string& what);
  size_t charged_bytes() const { return charged_; }
  // Held for a whole inference: tensors are shared state, so calls take turns.
  std::mutex run_mutex;
  const std::vector<std::unique_ptr<Op>>& ops() const { return ops_; }
  const std::vector<int>& inputs() const { return inputs_; }
  const std::vector<int>& outputs() const { return outputs_; }
  const KernelSet& kernels() const { return *kernels_; }
  ThreadPool& pool() { return pool_; }

 private:
  const KernelSet* kernels_;
  ThreadPool pool_;
  std::vector<Tensor> tensors_;
  std::vector<std::unique_ptr<Op>> ops_;
  std::vector<int> inputs_;
  std::vector<int> outputs_;
  bool keep_intermediates_ = false;
  size_t max_bytes_ = kDefaultMaxBytes;
  size_t charged_ = 0;
  void check_execution_order() const;
  void fuse_residual_adds();
  std::vector<std::uint8_t> arena_;
  void plan_memory();
};

// Error helper: throws std::invalid_argument("<op type> (op <index>, output '<name>'):
// <message>"), so a refusal names the op and, in the message, the tensor.
[[noreturn]] void fail(const Op& op, const std::string& message);

// a * b, or fail(op, ...) when the product does not fit `limit`.
size_t checked_mul(const Op& op, size_t a, size_t b, size_t limit, const std::string& what);

}  // namespace lce_native
