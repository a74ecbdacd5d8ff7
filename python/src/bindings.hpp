// python/src/bindings.hpp — what the binding files share: the registration functions each
// defines (one concept per file), the exception types, and the helpers for NumPy and signals.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <vector>

#include "attend/tensor.hpp"

namespace attend::python {

namespace py = pybind11;

void register_errors(py::module_& m);     // errors.cpp: attend.Error, attend.FileError
void register_tokenizer(py::module_& m);  // tokenizer.cpp: attend.Tokenizer
void register_model(py::module_& m);      // model.cpp: attend.load, attend.Model, attend.viz
void register_stream(py::module_& m);     // stream.cpp: the iterator model.stream returns
void register_attention(py::module_& m);  // attention.cpp: attend.attention
void register_train(py::module_& m);      // train.cpp: attend.train

// Called with the GIL held from a C++ loop (a token, a training step): a pending Ctrl-C (or
// any signal handler that raised) becomes py::error_already_set, which unwinds the C++ call
// and reaches Python as KeyboardInterrupt.
inline void check_signals() {
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

// The same from a thread that does not hold the GIL.
inline void check_signals_released() {
    py::gil_scoped_acquire gil;
    check_signals();
}

// A NumPy array over a Tensor's data, no copy: a capsule owns a handle to the Tensor, so the
// storage lives as long as the array (or any view of it) does.
py::array_t<float> to_numpy(const Tensor& t);

// Token ids from a Python sequence of ints or a NumPy integer array.
std::vector<int64_t> to_ids(const py::handle& ids);

}  // namespace attend::python
