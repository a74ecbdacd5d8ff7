// python/src/attention.cpp — attend.attention(q, k, v, ...) on NumPy float32 arrays.
//
// Zero-copy both ways: each input's buffer (buffer protocol) becomes a Tensor's storage,
// borrowed — the Storage's owner holds the Py_buffer and releases it (with the GIL) when the
// last Tensor handle goes — and the output is a NumPy array over the result Tensor's memory.
// Inputs must be float32, 4-D and C-contiguous: anything else is an attend.Error saying which
// argument and what to do (np.ascontiguousarray(x, dtype=np.float32)), never a silent copy.
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attend/attention.hpp"
#include "attend/error.hpp"
#include "bindings.hpp"

namespace attend::python {
namespace {

Tensor borrow(const py::object& obj, const char* name) {
    if (!PyObject_CheckBuffer(obj.ptr()))
        throw Error(std::string("attention: ") + name + " must be a float32 NumPy array, got " +
                    std::string(py::str(py::type::of(obj).attr("__name__"))));
    auto view = std::make_unique<Py_buffer>();
    if (PyObject_GetBuffer(obj.ptr(), view.get(), PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        PyErr_Clear();
        throw Error(std::string("attention: ") + name +
                    " must be C-contiguous (np.ascontiguousarray(" + name + ", dtype=np.float32))");
    }
    const std::string format = view->format ? view->format : "B";
    const bool f32 = view->itemsize == 4 && (format == "f" || format == "<f" || format == "=f");
    std::string problem;
    if (!f32) problem = std::string(" must be float32, got format '") + format + "' (" + name + ".astype(np.float32))";
    else if (view->ndim != 4)
        problem = std::string(" must be 4-D (B, H, T, D), got ") + std::to_string(view->ndim) + "-D";
    if (!problem.empty()) {
        PyBuffer_Release(view.get());
        throw Error(std::string("attention: ") + name + problem);
    }
    Shape shape(view->shape, view->shape + view->ndim);
    float* data = static_cast<float*>(view->buf);
    // The owner releases the buffer; the last Tensor handle may die on any thread, so it takes
    // the GIL first.
    std::shared_ptr<void> owner(view.release(), [](void* p) {
        py::gil_scoped_acquire gil;
        auto* v = static_cast<Py_buffer*>(p);
        PyBuffer_Release(v);
        delete v;
    });
    auto storage = std::make_shared<Storage>(data, numel_of(shape), std::move(owner));
    return Tensor::from_storage(std::move(storage), shape);
}

}  // namespace

void register_attention(py::module_& m) {
    m.def(
        "attention",
        [](const py::object& q, const py::object& k, const py::object& v, bool causal,
           std::optional<std::vector<int64_t>> key_lengths, std::optional<int64_t> window, std::optional<float> scale,
           bool return_weights) -> py::object {
            const Tensor tq = borrow(q, "q"), tk = borrow(k, "k"), tv = borrow(v, "v");
            AttentionMask mask;
            mask.causal = causal;
            if (key_lengths) mask.key_lengths = *key_lengths;
            if (window) {
                ATTEND_CHECK(*window >= 0, "attention: window must be >= 0, got ", *window);
                mask.window = *window;
            }
            AttentionOptions options;
            if (scale) {
                ATTEND_CHECK(std::isfinite(*scale) && *scale > 0, "attention: scale must be a finite number > 0, got ",
                             *scale);
                options.scale = *scale;
            }
            options.return_weights = return_weights;
            AttentionOutput out;
            {
                py::gil_scoped_release nogil;
                out = attend::attention(tq, tk, tv, mask, options);
            }
            if (!return_weights) return to_numpy(out.output);
            return py::make_tuple(to_numpy(out.output), to_numpy(out.weights));
        },
        py::arg("q"), py::arg("k"), py::arg("v"), py::kw_only(), py::arg("causal") = false,
        py::arg("key_lengths") = py::none(), py::arg("window") = py::none(), py::arg("scale") = py::none(),
        py::arg("return_weights") = false, R"doc(
Scaled dot-product attention, softmax(Q Kᵀ · scale + mask) V, on float32 C-contiguous arrays:
q (B, H, Tq, D), k (B, Hkv, Tk, D), v (B, Hkv, Tk, Dv) -> (B, H, Tq, Dv). H must be a multiple
of Hkv (grouped-query attention: query head h reads key/value head h // (H // Hkv)).

causal: query i (at position i + Tk - Tq) sees keys j <= its position.
key_lengths: per batch element, keys j >= key_lengths[b] are padding.
window: a key j is seen only when |position - j| <= window.
scale: default 1/sqrt(D).
return_weights: also return the weights (B, H, Tq, Tk) (the reference path computes them;
otherwise the fused kernel runs, which never materialises Tq x Tk).
A query row whose every key is masked outputs zeros. The inputs are read in place (no copy);
the output is a NumPy array over attend's memory (no copy).
)doc");
}

}  // namespace attend::python
