// nn/init.hpp — where a module's constructor gets its parameters' first values.
//
// Every module builds its parameters in its constructor. Usually they are drawn from a
// Generator as torch initialises them (each module documents its recipe), and a seeded
// model is bit-identical to PyTorch's. A model whose values come from a checkpoint needs
// none of that: drawing 124 M normals for GPT-2 small only to overwrite them cost seconds.
// ParameterInit says which: drawn from a Generator, or none at all (uninitialised) — the
// parameters then get their shapes and nothing else, not even memory, and a loader matches
// the checkpoint's names and shapes against them and replaces the handles
// (io/model_loader.hpp, adopt_parameters). So no parameter memory exists before the
// checkpoint has been matched, and none beyond the checkpoint's own after.
//
// Implemented in src/nn/init.cpp.
#pragma once
#include "attend/random.hpp"
#include "attend/tensor.hpp"

namespace attend {

class ParameterInit {
public:
    // Draw from `gen`. Implicit, so a module is still built as Linear(in, out, bias, gen).
    ParameterInit(Generator& gen) : gen_(&gen) {}  // NOLINT(google-explicit-constructor)

    // No values and no random numbers: each parameter is Tensor::shape_only of its shape —
    // no memory; reading one before a loader swaps in the checkpoint's tensor is an Error.
    static ParameterInit uninitialised() { return ParameterInit(); }

    bool draws() const { return gen_ != nullptr; }

    // U[low, high) of `shape`, or a shape-only tensor when uninitialised.
    Tensor uniform(const Shape& shape, float low, float high) const;
    // N(0, stddev²) of `shape`, or a shape-only tensor when uninitialised.
    Tensor normal(const Shape& shape, float stddev) const;
    // The Generator, for a recipe that draws otherwise; an Error when uninitialised.
    Generator& generator() const;

private:
    ParameterInit() = default;
    Generator* gen_ = nullptr;
};

}  // namespace attend
