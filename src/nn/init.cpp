// nn/init.cpp — parameters drawn from a Generator, or shapes only (nn/init.hpp).
#include "attend/nn/init.hpp"

#include "attend/error.hpp"

namespace attend {

// The draws are Tensor::uniform / Tensor::randn exactly, so a seeded model stays
// bit-identical to the one built before ParameterInit existed (the parity tests rely on it).
Tensor ParameterInit::uniform(const Shape& shape, float low, float high) const {
    return gen_ ? Tensor::uniform(shape, *gen_, low, high) : Tensor::shape_only(shape);
}

Tensor ParameterInit::normal(const Shape& shape, float stddev) const {
    return gen_ ? Tensor::randn(shape, *gen_, stddev) : Tensor::shape_only(shape);
}

Generator& ParameterInit::generator() const {
    ATTEND_CHECK(gen_ != nullptr, "an uninitialised ParameterInit has no Generator to draw from");
    return *gen_;
}

}  // namespace attend
