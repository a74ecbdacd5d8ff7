// generate/embed.cpp — a text's pooled vector (generate/embed.hpp).
#include "attend/generate/embed.hpp"

#include <filesystem>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/ops.hpp"

namespace attend {

namespace {

struct Pooler {
    Tensor weight, bias;  // (E, E), (E)
    std::string source;
};

// BERT's pooler: the model's own when it was loaded with a classifier head; else, for Hugging
// Face files, the pooler.dense tensors a BertModel checkpoint carries (other heads leave them
// unused, so the loader does not keep them).
Pooler find_pooler(const TextModel& lm) {
    const Transformer& m = lm.model();
    if (lm.loaded.config.head == HeadType::classifier && m.classifier.pooler.weight.defined())
        return {m.classifier.pooler.weight, m.classifier.pooler.bias, "the classifier's pooler"};
    std::string file;
    if (lm.loaded.format == ModelFormat::hf_folder) file = (std::filesystem::path(lm.loaded.path) / "model.safetensors").string();
    if (lm.loaded.format == ModelFormat::hf_safetensors) file = lm.loaded.path;
    if (file.empty() || !std::filesystem::exists(file)) return {};
    const auto wanted = [](const std::string& name) {
        return name == "bert.pooler.dense.weight" || name == "bert.pooler.dense.bias" ||
               name == "pooler.dense.weight" || name == "pooler.dense.bias";
    };
    const auto t = read_safetensors(file, wanted).tensors;
    for (const std::string prefix : {"bert.pooler.dense.", "pooler.dense."}) {
        const auto w = t.find(prefix + "weight"), b = t.find(prefix + "bias");
        if (w == t.end() || b == t.end()) continue;
        const int64_t E = lm.loaded.config.d_model;
        if (w->second.shape() != Shape{E, E} || b->second.shape() != Shape{E})
            throw Error(file + ": " + prefix + "weight/bias are " + to_string(w->second.shape()) + "/" +
                        to_string(b->second.shape()) + ", the pooler of a model of width " + std::to_string(E) +
                        " needs (" + std::to_string(E) + ", " + std::to_string(E) + ")/(" + std::to_string(E) + ")");
        return {w->second, b->second, file + "'s " + prefix + "*"};
    }
    return {};
}

}  // namespace

TextEmbedding embed_text(const TextModel& lm, const std::string& text) {
    const std::vector<int64_t> ids = lm.prompt_ids(text);
    const int64_t T = int64_t(ids.size()), E = lm.loaded.config.d_model, P = lm.loaded.config.max_positions;
    if (P > 0 && T > P)
        throw Error(lm.loaded.path + ": the text gives " + std::to_string(T) + " tokens, more than the model's " +
                    std::to_string(P) + " positions");
    ATTEND_CHECK(lm.loaded.config.shape != ModelShape::encoder_decoder,
                 lm.loaded.path, ": embeddings need an encoder or a decoder model, not an encoder-decoder");

    NoGradGuard no_grad;
    TokenBatch batch;
    batch.ids = ids;
    batch.shape = {1, T};
    const Tensor h = lm.model().hidden_states(batch).reshape({T, E});  // (T, E)
    const Pooler pooler = lm.loaded.config.shape == ModelShape::encoder ? find_pooler(lm) : Pooler{};
    TextEmbedding out;
    out.tokens = T;
    Tensor pooled;
    if (pooler.weight.defined()) {
        pooled = tanh(linear(h.slice(0, 0, 1), pooler.weight, pooler.bias)).reshape({E});  // (E)
        out.how = "pooler: tanh(W h_[CLS] + b) with " + pooler.source;
    } else {
        pooled = mean(h, 0);  // (E)
        out.how = "mean of the last hidden states over " + std::to_string(T) + " tokens" +
                  (lm.loaded.config.shape == ModelShape::encoder ? " (the checkpoint has no pooler)" : "");
    }
    out.values = pooled.to_vector();
    return out;
}

}  // namespace attend
