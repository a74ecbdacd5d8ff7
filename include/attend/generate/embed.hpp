// generate/embed.hpp — one vector for a text: what `attend encode` prints and the server's
// /v1/embeddings returns.
//
//   ids = the tokenizer's ids with its special tokens ([CLS] … [SEP] for BERT, BOS for Llama)
//   h   = the stack's last hidden states                (T, E)
//   encoder with BERT's pooler:   tanh(W_p · h_[CLS] + b_p)   (BertModel, classifier checkpoints)
//   otherwise (encoders without a pooler, decoders):   mean_t h_t
//
// Implemented in src/generate/embed.cpp.
#pragma once
#include <string>
#include <vector>

#include "attend/generate/text_model.hpp"

namespace attend {

struct TextEmbedding {
    std::vector<float> values;  // (E)
    std::string how;            // which pooling, in words (encode's first line)
    int64_t tokens = 0;         // T
};

// An Error when the text gives more tokens than the model's positions (names lm's model).
TextEmbedding embed_text(const TextModel& lm, const std::string& text);

}  // namespace attend
