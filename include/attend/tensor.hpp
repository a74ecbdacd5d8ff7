// tensor.hpp — an n-dimensional f32 array with shape, strides and a shared storage, and the
// autograd state that lets it take part in a backward pass.
//
// A Tensor is a cheap handle (a shared pointer): copying it aliases the same data, as in
// PyTorch. Views (reshape of contiguous data, transpose, slice, unsqueeze) share storage and
// differ only in shape/strides/offset. Kernels ask for `contiguous()` inputs.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "attend/int64_list.hpp"

namespace attend {

using Shape = Int64List;  // a tensor's sizes, or its strides
std::string to_string(const Shape& shape);  // "(2, 3, 4)"
int64_t numel_of(const Shape& shape);

class Generator;
class LowPrecisionMatrix;
struct Node;
struct TensorImpl;

// A contiguous block of floats: 64-byte aligned memory of its own, or — for weights read in
// place from a mapped file — `n` floats at `data` that `owner` keeps alive (the Storage
// frees nothing then; the last handle to `owner` releases the mapping), or — for a weight
// converted to bf16 / int8 (low_precision.hpp) — no floats at all: `data` is null and
// `low_precision` holds the n values.
struct Storage {
    explicit Storage(int64_t n);
    Storage(float* data, int64_t n, std::shared_ptr<void> owner);
    explicit Storage(std::shared_ptr<const LowPrecisionMatrix> values);
    // A size and no values (data stays null): what Tensor::shape_only stands on.
    struct NoValues {};
    Storage(NoValues, int64_t n);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
    float* data;
    int64_t size;
    std::shared_ptr<void> owner;  // null: `data` is ours to free
    std::shared_ptr<const LowPrecisionMatrix> low_precision;  // set: the only copy of the values
};

class Tensor {
public:
    Tensor() = default;  // undefined: defined() == false

    // ---- creation ----
    static Tensor empty(const Shape& shape);  // uninitialised
    // A shape and no values at all (data() is an Error): the parameters of a model built for
    // a loader, which replaces every handle before anything reads one (nn/init.hpp).
    static Tensor shape_only(const Shape& shape);
    static Tensor zeros(const Shape& shape);
    static Tensor ones(const Shape& shape);
    static Tensor full(const Shape& shape, float value);
    static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
    static Tensor randn(const Shape& shape, Generator& gen, float stddev = 1.f);
    static Tensor uniform(const Shape& shape, Generator& gen, float low, float high);
    static Tensor arange(int64_t n);  // 0, 1, ..., n-1
    // A contiguous tensor of `shape` over storage->data[offset, offset + numel) (no copy).
    static Tensor from_storage(std::shared_ptr<Storage> storage, const Shape& shape, int64_t offset = 0);

    // ---- inspection ----
    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const;
    const Shape& strides() const;
    int64_t offset() const;
    int64_t dim() const;
    int64_t size(int64_t d) const;  // negative d counts from the end
    int64_t numel() const;
    bool is_contiguous() const;
    float* data();  // pointer to element (0, ..., 0); an Error on a low-precision weight
    const float* data() const;
    // The bf16 / int8 values of a weight converted to low precision (low_precision.hpp), or
    // null for an ordinary tensor.
    const LowPrecisionMatrix* low_precision() const;
    std::vector<float> to_vector() const;  // row-major copy
    float item() const;                    // the value of a one-element tensor
    float at(std::initializer_list<int64_t> index) const;
    const std::shared_ptr<Storage>& storage() const;
    // Nothing else can reach these values: this is the only handle to its tensor, which is the
    // only one on its storage, spans all of it and owns it (no mapping, no view, no history).
    bool sole_owner() const;

    // ---- views and copies (recorded by autograd) ----
    Tensor reshape(const Shape& shape) const;  // a view when contiguous, else a copy; one -1 allowed
    Tensor transpose(int64_t d0, int64_t d1) const;
    Tensor permute(const std::vector<int64_t>& order) const;
    Tensor slice(int64_t d, int64_t start, int64_t end) const;  // [start, end) along d
    Tensor unsqueeze(int64_t d) const;
    Tensor squeeze(int64_t d) const;
    Tensor contiguous() const;   // itself when already contiguous
    Tensor clone() const;        // always a fresh copy

    // ---- autograd ----
    bool requires_grad() const;
    Tensor& requires_grad_(bool on = true);  // only on leaves
    Tensor grad() const;                     // undefined until a backward reached it
    void set_grad(const Tensor& g) const;
    void zero_grad() const;
    // Reverse-mode differentiation from this tensor. Without `grad_output`, the tensor must
    // hold one element and the seed is 1.
    void backward(const Tensor& grad_output = Tensor()) const;
    Tensor detach() const;  // same storage, no history
    const std::shared_ptr<Node>& grad_fn() const;
    void set_grad_fn(std::shared_ptr<Node> node) const;

    // Same handle?
    bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

    // Wrap an impl (used by kernels that build views).
    static Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

private:
    std::shared_ptr<TensorImpl> impl_;
};

Shape contiguous_strides(const Shape& shape);

}  // namespace attend
