// Python bindings: lce_nas.engine.native._native.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>

#include "model.h"

namespace py = pybind11;
using namespace lce_native;

namespace {

DType parse_dtype(const std::string& name) {
  if (name == "float32") return DType::kFloat32;
  if (name == "int32") return DType::kInt32;
  if (name == "int64") return DType::kInt64;
  if (name == "bool") return DType::kBool;
  if (name == "int8") return DType::kInt8;
  throw std::invalid_argument("unsupported tensor type " + name);
}

// `x` as a C-ordered array of the tensor type's element (a copy where it differs).
py::array as_type(const py::array& x, DType type) {
  constexpr int flags = py::array::c_style | py::array::forcecast;
  if (type == DType::kFloat32) return py::array_t<float, flags>(x);
  if (type == DType::kInt8) return py::array_t<std::int8_t, flags>(x);
  return py::array_t<std::int32_t, flags>(x);
}

// A copy of a tensor's contents as a NumPy array of its own element type.
py::array tensor_copy(const Tensor& t) {
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  if (t.type == DType::kBool) {
    py::array_t<bool> a(shape);
    const std::uint8_t* p = t.data<std::uint8_t>();
    for (size_t i = 0; i < t.elements(); ++i) a.mutable_data()[i] = p[i] != 0;
    return a;
  }
  py::array a = t.type == DType::kFloat32 ? py::array(py::array_t<float>(shape))
                : t.type == DType::kInt8  ? py::array(py::array_t<std::int8_t>(shape))
                : t.type == DType::kInt64 ? py::array(py::array_t<std::int64_t>(shape))
                                          : py::array(py::array_t<std::int32_t>(shape));
  std::memcpy(a.mutable_data(), t.ptr, t.bytes());
  return a;
}

void set_inputs(Model& m, const std::vector<py::array>& xs) {
  if (xs.size() != m.inputs().size())
    throw std::invalid_argument("the model takes " + std::to_string(m.inputs().size()) +
                                " input(s), got " + std::to_string(xs.size()));
  for (size_t i = 0; i < xs.size(); ++i) {
    Tensor& t = m.tensor(m.inputs()[i]);
    py::array x = xs[i];
    py::array arr = as_type(x, t.type);
    if (static_cast<size_t>(arr.size()) != t.elements()) {
      std::string want;
      for (int d : t.shape) want += std::to_string(d) + ",";
      throw std::invalid_argument("input " + std::to_string(i) + " must have shape [" + want +
                                  "] (" + std::to_string(t.elements()) + " elements), got " +
                                  std::to_string(arr.size()) + " elements");
    }
    std::memcpy(t.ptr, arr.data(), t.elements() * t.element_size());
  }
}

// Take the model's run lock without holding the GIL, so a thread waiting for the lock
// never blocks the thread that holds it from getting the GIL back.
std::unique_lock<std::mutex> lock_model(Model& m) {
  std::unique_lock<std::mutex> lock(m.run_mutex, std::defer_lock);
  py::gil_scoped_release release;
  lock.lock();
  return lock;
}

py::list get_outputs(Model& m) {
  py::list out;
  for (int id : m.outputs()) out.append(tensor_copy(m.tensor(id)));
  return out;
}

}  // namespace

PYBIND11_MODULE(_native, mod) {
  mod.doc() = "Native runtime for Larq Compute Engine flatbuffers";
  py::register_exception<std::invalid_argument>(mod, "NativeError", PyExc_ValueError);

  mod.def("is_supported", [](const std::string& type) {
    for (bool quantized : {false, true}) {
      try {
        make_op(type, quantized);
        return true;
      } catch (const std::invalid_argument&) {
      }
    }
    return false;
  }, "Whether the runtime has an implementation of this op type.");

  mod.def("popcount_peak_macs_per_s", &popcount_peak_macs_per_s,
          "One core's binary-MAC peak (xor-popcount on registers), 0 without AVX-512.");

  mod.def("fma_peak_macs_per_s", &fma_peak_macs_per_s,
          "One core's float-MAC peak (FMA on registers), 0 without AVX-512.");

  mod.def("available_kernels", [] {
    std::vector<std::string> names{"portable"};
    if (avx2_kernels()) names.push_back("avx2");
    if (avx512_kernels()) names.push_back("avx512");
    return names;
  }, "Kernel sets this CPU can run, slowest first.");

  py::class_<Model>(mod, "Model")
      .def(py::init<int, const std::string&, bool, size_t>(), py::arg("num_threads") = 1,
           py::arg("kernels") = "auto", py::arg("keep_intermediates") = false,
           py::arg("max_bytes") = kDefaultMaxBytes)
      .def_property_readonly("charged_bytes", &Model::charged_bytes)
      .def("add_tensor",
           [](Model& m, const std::string& name, const std::vector<int>& shape,
              const std::string& dtype, py::object data) {
             if (data.is_none()) return m.add_tensor(name, shape, parse_dtype(dtype), nullptr, 0);
             py::array arr = py::array::ensure(data, py::array::c_style);
             if (!arr) throw std::invalid_argument("tensor '" + name + "': data is not an array");
             return m.add_tensor(name, shape, parse_dtype(dtype), arr.data(),
                                 static_cast<size_t>(arr.nbytes()));
           })
      .def("set_quantization", &Model::set_quantization)
      .def("add_op", &Model::add_op)
      .def("finalize", &Model::finalize)
      .def_property_readonly("kernels", [](const Model& m) { return std::string(m.kernels().name); })
      .def_property_readonly("num_threads", [](Model& m) { return m.pool().size(); })
      .def("op_list", [](Model& m) {
        std::vector<std::pair<std::string, std::string>> rows;
        for (const auto& op : m.ops()) rows.emplace_back(op->type, op->name);
        return rows;
      })
      .def("tensor", [](Model& m, int id) {
        // Copy of a tensor's current contents (intermediates stay valid after run()).
        return tensor_copy(m.tensor(id));
      })
      .def("run", [](Model& m, const std::vector<py::array>& xs) {
        auto lock = lock_model(m);
        set_inputs(m, xs);
        {
          py::gil_scoped_release release;
          m.invoke(nullptr);
        }
        return get_outputs(m);
      })
      .def("time_runs", [](Model& m, const std::vector<py::array>& xs, int runs) {
        // Wall time of each of `runs` invocations in milliseconds.
        auto lock = lock_model(m);
        set_inputs(m, xs);
        std::vector<double> ms(std::max(0, runs));
        py::gil_scoped_release release;
        for (auto& v : ms) {
          const auto start = std::chrono::steady_clock::now();
          m.invoke(nullptr);
          v = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count();
        }
        return ms;
      })
      .def("profile", [](Model& m, const std::vector<py::array>& xs, int runs) {
        // Mean microseconds per op over `runs` invocations.
        auto lock = lock_model(m);
        set_inputs(m, xs);
        std::vector<double> us(m.ops().size(), 0.0);
        {
          py::gil_scoped_release release;
          for (int r = 0; r < runs; ++r) m.invoke(&us);
        }
        for (auto& v : us) v /= std::max(1, runs);
        return us;
      });
}
