// serve/served_model.hpp — the one model a server holds, with the name clients ask for.
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "attend/chat_template.hpp"
#include "attend/generate/text_model.hpp"

namespace attend::serve {

struct ServedModel {
    explicit ServedModel(TextModel loaded) : lm(std::move(loaded)) {}
    TextModel lm;
    std::string id;    // what /v1/models lists and requests name: the file or folder name
    std::string path;  // as given with --model (also accepted as a name)
    int64_t ctx = 0;   // positions per sequence: --ctx, at most the model's max_positions
    WeightType kv_cache = WeightType::f32;  // what the KV caches hold (--kv-cache)
    int64_t created = 0;
    // The folder's Jinja chat template (chat_template.jinja or tokenizer_config.json's), if
    // it has one: /v1/chat/completions renders messages with it (serve/chat_prompt.cpp).
    std::optional<ChatTemplate> chat_template;
    // Held by every forward pass: the scheduler's steps and the embeddings, so no two passes
    // compete for the cores (each is parallel already).
    mutable std::mutex forward_mutex;

    bool can_generate() const {
        return lm.loaded.config.shape == ModelShape::decoder && lm.loaded.config.head == HeadType::lm;
    }
    bool names(const std::string& model) const { return model == id || model == path; }
};

}  // namespace attend::serve
