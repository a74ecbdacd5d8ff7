// tools/attend/encode.cpp — `attend encode --model BERT_DIR --text TEXT`: one vector for a text.
//
//   ids = [CLS] tokens [SEP]                  (the tokenizer's special tokens)
//   h   = the encoder's last hidden states    (T, E)
//   pooled = tanh(W_p · h_[CLS] + b_p)        when the checkpoint has BERT's pooler
//                                             (BertModel, BertForSequenceClassification)
//          = mean_t h_t                        otherwise (a masked-LM checkpoint has no pooler)
//
// The first line says which pooling was used; the second holds the E numbers.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/generate/text_model.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/ops.hpp"
#include "commands.hpp"

namespace attend::cli {
namespace {

struct EncodeOptions {
    std::string model, tokenizer, text;
};

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

void run_encode(const EncodeOptions& o) {
    const TextModel lm = load_text_model(o.model, o.tokenizer);
    if (lm.loaded.config.shape != ModelShape::encoder)
        throw Error(o.model + ": encode needs an encoder (BERT) model, this one is a " +
                    name_of(lm.loaded.config.shape) + " (use generate or perplexity)");
    const std::vector<int64_t> ids = lm.prompt_ids(o.text);
    const int64_t T = int64_t(ids.size()), E = lm.loaded.config.d_model, P = lm.loaded.config.max_positions;
    if (P > 0 && T > P)
        throw Error(o.model + ": the text gives " + std::to_string(T) + " tokens, more than the model's " +
                    std::to_string(P) + " positions");

    NoGradGuard no_grad;
    TokenBatch batch;
    batch.ids = ids;
    batch.shape = {1, T};
    const Tensor h = lm.model().hidden_states(batch).reshape({T, E});  // (T, E)
    const Pooler pooler = find_pooler(lm);
    Tensor pooled;
    std::string how;
    if (pooler.weight.defined()) {
        pooled = tanh(linear(h.slice(0, 0, 1), pooler.weight, pooler.bias)).reshape({E});  // (E)
        how = "pooler: tanh(W h_[CLS] + b) with " + pooler.source;
    } else {
        pooled = mean(h, 0);  // (E)
        how = "mean of the last hidden states over " + std::to_string(T) + " tokens (the checkpoint has no pooler)";
    }
    std::printf("# %s; %lld values\n", how.c_str(), (long long)E);
    const std::vector<float> v = pooled.to_vector();
    std::string line;
    char buf[32];
    for (size_t i = 0; i < v.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%s%.7g", i ? " " : "", double(v[i]));
        line += buf;
    }
    std::printf("%s\n", line.c_str());
}

}  // namespace

void register_encode(CLI::App& app) {
    auto o = std::make_shared<EncodeOptions>();
    CLI::App* cmd = app.add_subcommand("encode", "Print the pooled embedding of a text (BERT-style encoders)");
    cmd->footer(
        "\nTokenizes TEXT with [CLS] ... [SEP], runs the encoder and prints one vector: the [CLS]\n"
        "hidden state through BERT's pooler when the checkpoint has one, else the mean of the last\n"
        "hidden states. The first line says which.\n\n"
        "Example:\n"
        "  attend encode --model bert_tiniest_hf --text \"The cat sat on the mat.\"");
    cmd->add_option("--model", o->model, "Encoder: a Hugging Face BERT folder (or .safetensors, attend checkpoint)")
        ->required();
    cmd->add_option("--text", o->text, "Text to encode")->required();
    cmd->add_option("--tokenizer", o->tokenizer, "Tokenizer file or folder (default: found beside the model)");
    cmd->callback([o] { run_encode(*o); });
}

}  // namespace attend::cli
