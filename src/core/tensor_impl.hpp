// core/tensor_impl.hpp — what a Tensor handle points at (private to the library).
#pragma once
#include <memory>

#include "attend/tensor.hpp"

namespace attend {

struct TensorImpl {
    std::shared_ptr<Storage> storage;
    Shape shape;
    Shape strides;
    int64_t offset = 0;
    bool requires_grad = false;
    Tensor grad;                    // accumulated by backward() on leaves
    std::shared_ptr<Node> grad_fn;  // how this tensor was computed (null on leaves)
};

// Copies a strided tensor into row-major order at dst (numel floats).
void gather_contiguous(const Tensor& src, float* dst);

}  // namespace attend
