// python/src/tokenizer_handle.hpp — what an attend.Tokenizer holds: a shared handle, so a
// model's tokenizer (model.tokenizer) keeps the loaded model alive and needs no copy.
#pragma once
#include <memory>

#include "attend/tokenizers/tokenizer.hpp"

namespace attend::python {

struct TokenizerHandle {
    std::shared_ptr<const Tokenizer> tokenizer;
    const Tokenizer& get() const { return *tokenizer; }
};

}  // namespace attend::python
