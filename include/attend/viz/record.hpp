// viz/record.hpp — the attention weights of one input, every layer and head, ready to draw.
//
// One forward pass of the real model with an AttentionCapture (models/transformer.hpp): the
// captured layers run the reference attention path, which materialises softmax(QKᵀ/√d + M)
// — the fused kernel the model normally runs never forms it — and hands the weights back.
//
//   auto tok = attend::load_tokenizer(path);
//   std::vector<int64_t> ids = tok->encode("the cat sat on the mat", true);
//   viz::AttentionRecord rec = viz::record_attention(model, ids, viz::token_labels(*tok, ids));
//   viz::write_attention_report("out/attention", rec);          // viz/report.hpp
//
// A record holds one AttentionMap per kind of attention the model has:
//   encoder-only / decoder-only   "self"           tokens ↔ tokens (causal for a decoder)
//   encoder–decoder               "cross"          target queries → source keys (the alignment)
//                                 "encoder_self"   source ↔ source
//                                 "decoder_self"   target ↔ target, causal
//
// Implemented in src/viz/record.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attend/models/transformer.hpp"
#include "attend/tensor.hpp"

namespace attend {
class Tokenizer;
}

namespace attend::viz {

struct AttentionMap {
    std::string kind;   // "self", "cross", "encoder_self", "decoder_self": names files and JSON entries
    std::string title;  // for people: "cross-attention (target -> source)"
    std::string query_side = "tokens", key_side = "tokens";  // axis captions: "source", "target", ...
    std::vector<std::string> query_tokens, key_tokens;       // labels, Tq and Tk of them
    bool causal = false;          // key k > query q is masked: drawn as masked, not as weight 0
    std::vector<Tensor> layers;   // one (H, Tq, Tk) per layer; each row sums to 1

    int64_t n_layers() const { return int64_t(layers.size()); }
    int64_t n_heads() const { return layers.empty() ? 0 : layers[0].size(0); }
    int64_t n_queries() const { return int64_t(query_tokens.size()); }
    int64_t n_keys() const { return int64_t(key_tokens.size()); }
    // The weights of one layer's heads averaged: (Tq, Tk).
    Tensor head_mean(int64_t layer) const;
    // Checks the shapes agree with the labels and with each other; an Error names what differs.
    void validate() const;
};

struct AttentionRecord {
    std::string title;  // what was run: the model's name or path
    std::vector<AttentionMap> maps;

    const AttentionMap* find(const std::string& kind) const;  // nullptr when the model has none
};

// One label per id (Tokenizer::token_text): the token as it reads in the output.
std::vector<std::string> token_labels(const Tokenizer& tokenizer, const std::vector<int64_t>& ids);

// Encoder-only and decoder-only models: one forward pass on `ids` (one sequence), every layer
// captured. labels: one per id (empty: the ids as numbers).
AttentionRecord record_attention(const Transformer& model, const std::vector<int64_t>& ids,
                                 const std::vector<std::string>& labels = {});
// Encoder–decoder models: the source through the encoder, the target (as the decoder reads it,
// e.g. [BOS] y₁ … yₙ) through the decoder.
AttentionRecord record_attention(const Transformer& model, const std::vector<int64_t>& source_ids,
                                 const std::vector<std::string>& source_labels, const std::vector<int64_t>& target_ids,
                                 const std::vector<std::string>& target_labels);

// From a capture the caller made on a batch: sequence `b`, cut to the labels' lengths (its
// real, unpadded tokens). For a single-stack model pass the labels as `labels`, leave the
// target's empty; for an encoder–decoder, source labels then target labels.
AttentionRecord record_from_capture(const AttentionCapture& capture, const TransformerConfig& config, int64_t b,
                                    const std::vector<std::string>& labels,
                                    const std::vector<std::string>& target_labels = {});

// The record as JSON for other tools (viz/report.hpp writes it as attention.json):
//   {"format": "attend-attention-1", "title": ..., "maps": [{"kind", "title", "query_side",
//    "key_side", "query_tokens", "key_tokens", "causal", "n_layers", "n_heads",
//    "weights": [layer][head][query][key]}, ...]}
// decimals < 0: every weight exactly (a float32 survives the round trip); otherwise rounded
// to that many decimals (the HTML page embeds 4).
std::string attention_json(const AttentionRecord& record, int decimals = -1);
// And back (what attention_json wrote); an Error names what is missing or malformed.
AttentionRecord parse_attention_json(const std::string& json_text, const std::string& origin = "attention.json");

}  // namespace attend::viz
