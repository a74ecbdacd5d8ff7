// tools/attend/encode.cpp — `attend encode --model BERT_DIR --text TEXT`: one vector for a text.
//
//   ids = [CLS] tokens [SEP]                  (the tokenizer's special tokens)
//   h   = the encoder's last hidden states    (T, E)
//   pooled = tanh(W_p · h_[CLS] + b_p)        when the checkpoint has BERT's pooler
//                                             (BertModel, BertForSequenceClassification)
//          = mean_t h_t                        otherwise (a masked-LM checkpoint has no pooler)
//
// The first line says which pooling was used; the second holds the E numbers.
#include <cstdio>
#include <memory>
#include <string>

#include "attend/error.hpp"
#include "attend/generate/embed.hpp"
#include "commands.hpp"

namespace attend::cli {
namespace {

struct EncodeOptions {
    ModelOptions model;
    std::string text;
};

void run_encode(const EncodeOptions& o) {
    const TextModel lm = o.model.load();
    if (lm.loaded.config.shape != ModelShape::encoder)
        throw Error(o.model.model + ": encode needs an encoder (BERT) model, this one is a " +
                    name_of(lm.loaded.config.shape) + " (use generate or perplexity)");
    const TextEmbedding e = embed_text(lm, o.text);
    const std::string how = e.how;
    const int64_t E = int64_t(e.values.size());
    std::printf("# %s; %lld values\n", how.c_str(), (long long)E);
    const std::vector<float>& v = e.values;
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
    add_model_options(cmd, o->model, DtypeOption::not_offered);  // --model: an encoder, e.g. a BERT folder
    cmd->add_option("--text", o->text, "Text to encode")->required();
    cmd->callback([o] { run_encode(*o); });
}

}  // namespace attend::cli
