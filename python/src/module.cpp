// python/src/module.cpp — the extension module attend._attend, and the NumPy helpers the
// binding files share. python/attend/__init__.py re-exports it as `attend`.
#include "attend/version.hpp"
#include "bindings.hpp"

namespace attend::python {

py::array_t<float> to_numpy(const Tensor& t) {
    Tensor c = t.contiguous();
    auto* owner = new Tensor(c);
    py::capsule keep(owner, [](void* p) { delete static_cast<Tensor*>(p); });
    std::vector<py::ssize_t> strides;
    for (int64_t s : c.strides()) strides.push_back(py::ssize_t(s * int64_t(sizeof(float))));
    return py::array_t<float>(std::vector<py::ssize_t>(c.shape().begin(), c.shape().end()), strides, owner->data(),
                              keep);
}

std::vector<int64_t> to_ids(const py::handle& ids) {
    if (py::isinstance<py::str>(ids) || py::isinstance<py::bytes>(ids))
        throw py::type_error("token ids: expected a sequence of ints, got a string");
    if (py::isinstance<py::array>(ids)) {
        py::array a = py::reinterpret_borrow<py::array>(ids);
        if (a.ndim() != 1) throw py::value_error("token ids: expected a 1-D array, got " + std::to_string(a.ndim()) + "-D");
        if (a.dtype().kind() != 'i' && a.dtype().kind() != 'u')
            throw py::type_error("token ids: expected an integer array, got dtype " + std::string(py::str(a.dtype())));
        auto v = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
        return std::vector<int64_t>(v.data(), v.data() + v.size());
    }
    std::vector<int64_t> out;
    for (py::handle item : py::iter(ids)) {
        try {
            out.push_back(py::cast<int64_t>(item));  // ints and NumPy integers (__index__); not floats
        } catch (const py::cast_error&) {
            throw py::type_error("token ids: expected ints, got " +
                                 std::string(py::str(py::type::of(item).attr("__name__"))) + " " +
                                 std::string(py::repr(item)));
        }
    }
    return out;
}

}  // namespace attend::python

PYBIND11_MODULE(_attend, m) {
    using namespace attend::python;
    m.doc() = "attend's C++ engine (use the `attend` package, which re-exports it)";
    m.attr("__version__") = attend::version();
    register_errors(m);
    register_tokenizer(m);
    register_model(m);
    register_stream(m);
    register_attention(m);
    register_train(m);
}
