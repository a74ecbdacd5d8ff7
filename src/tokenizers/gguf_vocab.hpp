// tokenizers/gguf_vocab.hpp — the tokenizer a GGUF file carries in its metadata
// (tokenizer.ggml.*: model, pre, tokens, scores, token_type, merges, special ids, add_bos/eos).
#pragma once
#include <memory>

#include "attend/tokenizers/tokenizer.hpp"

namespace attend {

class GgufFile;

// The tokenizer described by `file`'s tokenizer.ggml.* keys. Errors (no tokenizer in the file,
// a tokenizer.ggml.model or .pre attend does not implement, inconsistent arrays) are one line
// naming the file and the key.
std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufFile& file);

}  // namespace attend
