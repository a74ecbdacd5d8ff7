// python/src/errors.cpp — C++ errors as Python exceptions.
//
//   attend.Error       (ValueError)           every attend::Error: bad input, bad shapes, bad files
//   attend.FileError   (attend.Error, OSError) the attend::Errors about a file that cannot be
//                                              found, opened, read or written
// The message is the C++ one-line message, unchanged. attend::Error has no subclasses, so a
// file problem is told from its message: the loaders' wording for those cases (below) is
// stable and tested (tests/test_io_errors.cpp, python/tests/test_errors.py).
#include <array>
#include <string>
#include <string_view>

#include "attend/error.hpp"
#include "bindings.hpp"

namespace attend::python {
namespace {

PyObject* g_error = nullptr;
PyObject* g_file_error = nullptr;

bool is_file_problem(const std::string& message) {
    static constexpr std::array<std::string_view, 9> phrases = {
        "no such file", "no such path", "cannot open", "cannot read", "read failed",
        "cannot write", "cannot create", "Permission denied", "No such file or directory"};
    for (std::string_view p : phrases)
        if (message.find(p) != std::string::npos) return true;
    return false;
}

}  // namespace

void register_errors(py::module_& m) {
    g_error = PyErr_NewExceptionWithDoc(
        "attend.Error",
        "An error from attend: bad input, a wrong shape, an unusable file. The message is one line "
        "that names the file or argument at fault.",
        PyExc_ValueError, nullptr);
    py::tuple bases = py::make_tuple(py::handle(g_error), py::handle(PyExc_OSError));
    g_file_error = PyErr_NewExceptionWithDoc(
        "attend.FileError", "An attend.Error about a file that cannot be found, opened, read or written (also an OSError).",
        bases.ptr(), nullptr);
    m.attr("Error") = py::handle(g_error);
    m.attr("FileError") = py::handle(g_file_error);

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Error& e) {
            const std::string message = e.what();
            PyErr_SetString(is_file_problem(message) ? g_file_error : g_error, message.c_str());
        }
        // Anything else falls through to pybind11's own translators (bad_alloc -> MemoryError,
        // std::exception -> RuntimeError).
    });
}

}  // namespace attend::python
