// viz/record.cpp — one captured forward pass made into AttentionMaps, and their JSON form.
//
// The capture holds (B, H, Tq, Tk) per layer for the whole (padded) batch; a map keeps one
// sequence's real tokens: weights[b, :, :Tq, :Tk], copied into its own (H, Tq, Tk) tensor.
#include "attend/viz/record.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/tokenizers/tokenizer.hpp"

namespace attend::viz {

using nlohmann::json;

// ---- maps ------------------------------------------------------------------------------------

Tensor AttentionMap::head_mean(int64_t layer) const {
    ATTEND_CHECK(layer >= 0 && layer < n_layers(), kind, ": layer ", layer, " is outside [0, ", n_layers(), ")");
    const int64_t H = n_heads(), Tq = n_queries(), Tk = n_keys();
    const std::vector<float> w = layers[size_t(layer)].to_vector();  // (H, Tq, Tk)
    std::vector<float> mean(size_t(Tq * Tk), 0.f);
    for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < Tq * Tk; ++i) mean[size_t(i)] += w[size_t(h * Tq * Tk + i)] / float(H);
    return Tensor::from_vector({Tq, Tk}, mean);
}

void AttentionMap::validate() const {
    ATTEND_CHECK(!layers.empty(), kind, ": no layers");
    ATTEND_CHECK(!query_tokens.empty() && !key_tokens.empty(), kind, ": needs query and key tokens, got ",
                 query_tokens.size(), " and ", key_tokens.size());
    for (size_t l = 0; l < layers.size(); ++l) {
        const Tensor& w = layers[l];
        ATTEND_CHECK(w.defined() && w.dim() == 3 && w.size(0) == n_heads() && w.size(0) > 0 &&
                         w.size(1) == n_queries() && w.size(2) == n_keys(),
                     kind, ": layer ", l, " must be (H=", n_heads(), ", Tq=", n_queries(), ", Tk=", n_keys(),
                     "), got ", w.defined() ? to_string(w.shape()) : "(undefined)");
    }
}

const AttentionMap* AttentionRecord::find(const std::string& kind) const {
    for (const AttentionMap& m : maps)
        if (m.kind == kind) return &m;
    return nullptr;
}

std::vector<std::string> token_labels(const Tokenizer& tokenizer, const std::vector<int64_t>& ids) {
    std::vector<std::string> labels;
    labels.reserve(ids.size());
    for (int64_t id : ids) labels.push_back(tokenizer.token_text(id));
    return labels;
}

namespace {

std::vector<std::string> numbered(const std::vector<int64_t>& ids) {
    std::vector<std::string> labels;
    for (int64_t id : ids) labels.push_back(std::to_string(id));
    return labels;
}

// weights (B, H, Tq_all, Tk_all) -> (H, Tq, Tk) of sequence b, its first Tq queries and Tk keys.
Tensor crop(const Tensor& weights, int64_t b, int64_t Tq, int64_t Tk, const std::string& what) {
    ATTEND_CHECK(weights.defined() && weights.dim() == 4, what, ": expected captured weights (B, H, Tq, Tk), got ",
                 weights.defined() ? to_string(weights.shape()) : "(undefined: was the layer captured?)");
    ATTEND_CHECK(b >= 0 && b < weights.size(0) && Tq <= weights.size(2) && Tk <= weights.size(3), what,
                 ": cannot take sequence ", b, " with ", Tq, " queries and ", Tk, " keys from weights ",
                 to_string(weights.shape()));
    const Tensor one = weights.detach().slice(0, b, b + 1).slice(2, 0, Tq).slice(3, 0, Tk);
    return Tensor::from_vector({weights.size(1), Tq, Tk}, one.to_vector());
}

AttentionMap make_map(std::string kind, std::string title, std::string query_side, std::string key_side,
                      const std::vector<std::string>& queries, const std::vector<std::string>& keys, bool causal,
                      const std::vector<Tensor>& captured, int64_t b) {
    AttentionMap m;
    m.kind = std::move(kind);
    m.title = std::move(title);
    m.query_side = std::move(query_side);
    m.key_side = std::move(key_side);
    m.query_tokens = queries;
    m.key_tokens = keys;
    m.causal = causal;
    for (size_t l = 0; l < captured.size(); ++l)
        m.layers.push_back(crop(captured[l], b, int64_t(queries.size()), int64_t(keys.size()),
                                m.kind + " layer " + std::to_string(l)));
    m.validate();
    return m;
}

TokenBatch one_sequence(const std::vector<int64_t>& ids, const char* what) {
    ATTEND_CHECK(!ids.empty(), "record_attention: the ", what, " has no tokens");
    TokenBatch t;
    t.ids = ids;
    t.shape = {1, int64_t(ids.size())};
    return t;
}

}  // namespace

AttentionRecord record_from_capture(const AttentionCapture& capture, const TransformerConfig& config, int64_t b,
                                    const std::vector<std::string>& labels,
                                    const std::vector<std::string>& target_labels) {
    AttentionRecord rec;
    rec.title = !config.name.empty() ? config.name : std::string(name_of(config.shape)) + " transformer";
    switch (config.shape) {
        case ModelShape::encoder:
            rec.maps.push_back(make_map("self", "self-attention", "tokens", "tokens", labels, labels, false,
                                        capture.encoder_self, b));
            break;
        case ModelShape::decoder:
            rec.maps.push_back(make_map("self", "self-attention (causal)", "tokens", "tokens", labels, labels, true,
                                        capture.decoder_self, b));
            break;
        case ModelShape::encoder_decoder:
            ATTEND_CHECK(!target_labels.empty(), "an encoder_decoder record needs the target's labels");
            rec.maps.push_back(make_map("cross", "cross-attention (target -> source)", "target", "source",
                                        target_labels, labels, false, capture.cross, b));
            rec.maps.push_back(make_map("encoder_self", "encoder self-attention (source)", "source", "source", labels,
                                        labels, false, capture.encoder_self, b));
            rec.maps.push_back(make_map("decoder_self", "decoder self-attention (target, causal)", "target",
                                        "target", target_labels, target_labels, true, capture.decoder_self, b));
            break;
    }
    return rec;
}

AttentionRecord record_attention(const Transformer& model, const std::vector<int64_t>& ids,
                                 const std::vector<std::string>& labels) {
    ATTEND_CHECK(model.config().shape != ModelShape::encoder_decoder,
                 "an encoder_decoder model needs a source and a target: record_attention(model, source_ids, "
                 "source_labels, target_ids, target_labels)");
    ATTEND_CHECK(labels.empty() || labels.size() == ids.size(), "record_attention: ", labels.size(),
                 " labels for ", ids.size(), " tokens");
    NoGradGuard no_grad;
    AttentionCapture capture;
    model.forward(one_sequence(ids, "input"), ForwardMode{}, &capture);
    return record_from_capture(capture, model.config(), 0, labels.empty() ? numbered(ids) : labels);
}

AttentionRecord record_attention(const Transformer& model, const std::vector<int64_t>& source_ids,
                                 const std::vector<std::string>& source_labels, const std::vector<int64_t>& target_ids,
                                 const std::vector<std::string>& target_labels) {
    ATTEND_CHECK(model.config().shape == ModelShape::encoder_decoder,
                 "a source and a target need an encoder_decoder model, this one is ", name_of(model.config().shape));
    ATTEND_CHECK(source_labels.empty() || source_labels.size() == source_ids.size(), "record_attention: ",
                 source_labels.size(), " source labels for ", source_ids.size(), " tokens");
    ATTEND_CHECK(target_labels.empty() || target_labels.size() == target_ids.size(), "record_attention: ",
                 target_labels.size(), " target labels for ", target_ids.size(), " tokens");
    NoGradGuard no_grad;
    AttentionCapture capture;
    model.forward(one_sequence(source_ids, "source"), one_sequence(target_ids, "target"), ForwardMode{}, &capture);
    return record_from_capture(capture, model.config(), 0,
                               source_labels.empty() ? numbered(source_ids) : source_labels,
                               target_labels.empty() ? numbered(target_ids) : target_labels);
}

// ---- JSON ------------------------------------------------------------------------------------

namespace {

constexpr const char* kFormat = "attend-attention-1";

// The double that prints as the shortest decimal which reads back as the same float: JSON
// numbers are doubles, and 0.1f stored as (double)0.1f would print 0.10000000149011612.
double exact(float w) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, w);
    *r.ptr = '\0';
    return std::strtod(buf, nullptr);
}

}  // namespace

std::string attention_json(const AttentionRecord& record, int decimals) {
    const double scale = decimals >= 0 ? std::pow(10.0, decimals) : 0.0;
    json root;
    root["format"] = kFormat;
    root["title"] = record.title;
    root["maps"] = json::array();
    for (const AttentionMap& m : record.maps) {
        m.validate();
        json layers = json::array();
        for (const Tensor& w : m.layers) {
            const std::vector<float> v = w.to_vector();  // (H, Tq, Tk)
            json heads = json::array();
            for (int64_t h = 0; h < m.n_heads(); ++h) {
                json rows = json::array();
                for (int64_t q = 0; q < m.n_queries(); ++q) {
                    json row = json::array();
                    for (int64_t k = 0; k < m.n_keys(); ++k) {
                        const float x = v[size_t((h * m.n_queries() + q) * m.n_keys() + k)];
                        row.push_back(decimals >= 0 ? std::round(double(x) * scale) / scale : exact(x));
                    }
                    rows.push_back(std::move(row));
                }
                heads.push_back(std::move(rows));
            }
            layers.push_back(std::move(heads));
        }
        root["maps"].push_back({{"kind", m.kind},
                                {"title", m.title},
                                {"query_side", m.query_side},
                                {"key_side", m.key_side},
                                {"query_tokens", m.query_tokens},
                                {"key_tokens", m.key_tokens},
                                {"causal", m.causal},
                                {"n_layers", m.n_layers()},
                                {"n_heads", m.n_heads()},
                                {"weights", std::move(layers)}});
    }
    // Token text may hold bytes that are not UTF-8 (a byte-level token cut mid-character):
    // write U+FFFD for them rather than fail.
    return root.dump(-1, ' ', false, json::error_handler_t::replace);
}

AttentionRecord parse_attention_json(const std::string& json_text, const std::string& origin) {
    json root;
    try {
        root = json::parse(json_text);
    } catch (const json::exception& e) {
        ATTEND_CHECK(false, origin, ": not valid JSON: ", e.what());
    }
    ATTEND_CHECK(root.is_object() && root.value("format", "") == kFormat, origin, ": expected \"format\": \"",
                 kFormat, "\"");
    AttentionRecord rec;
    try {
        rec.title = root.value("title", "");
        for (const json& jm : root.at("maps")) {
            AttentionMap m;
            m.kind = jm.at("kind").get<std::string>();
            m.title = jm.at("title").get<std::string>();
            m.query_side = jm.at("query_side").get<std::string>();
            m.key_side = jm.at("key_side").get<std::string>();
            m.query_tokens = jm.at("query_tokens").get<std::vector<std::string>>();
            m.key_tokens = jm.at("key_tokens").get<std::vector<std::string>>();
            m.causal = jm.at("causal").get<bool>();
            const int64_t H = jm.at("n_heads").get<int64_t>(), Tq = m.n_queries(), Tk = m.n_keys();
            for (const json& jl : jm.at("weights")) {
                std::vector<float> v;
                v.reserve(size_t(H * Tq * Tk));
                ATTEND_CHECK(int64_t(jl.size()) == H, origin, ": ", m.kind, " has a layer with ", jl.size(),
                             " heads, n_heads says ", H);
                for (const json& jh : jl) {
                    ATTEND_CHECK(int64_t(jh.size()) == Tq, origin, ": ", m.kind, " has a head with ", jh.size(),
                                 " rows for ", Tq, " query tokens");
                    for (const json& jr : jh) {
                        ATTEND_CHECK(int64_t(jr.size()) == Tk, origin, ": ", m.kind, " has a row of ", jr.size(),
                                     " weights for ", Tk, " key tokens");
                        for (const json& x : jr) v.push_back(x.get<float>());
                    }
                }
                m.layers.push_back(Tensor::from_vector({H, Tq, Tk}, v));
            }
            ATTEND_CHECK(m.n_layers() == jm.at("n_layers").get<int64_t>(), origin, ": ", m.kind, " holds ",
                         m.n_layers(), " layers, n_layers says ", jm.at("n_layers").get<int64_t>());
            m.validate();
            rec.maps.push_back(std::move(m));
        }
    } catch (const json::exception& e) {
        ATTEND_CHECK(false, origin, ": ", e.what());
    }
    return rec;
}

}  // namespace attend::viz
