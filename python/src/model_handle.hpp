// python/src/model_handle.hpp — what an attend.Model holds, and the stream it can start.
#pragma once
#include <memory>

#include <pybind11/pybind11.h>

#include "attend/generate/text_model.hpp"
#include "text_generation.hpp"

namespace attend::python {

struct ModelHandle {
    std::shared_ptr<const TextModel> lm;
};

// stream.cpp: the iterator model.stream returns (generation on a worker thread).
pybind11::object make_stream(const ModelHandle& model, const GenerationRequest& request);

}  // namespace attend::python
