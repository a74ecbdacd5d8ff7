// tools/attend/viz.cpp — `attend viz`: see what a model attends to, for your own text.
//
//   attend viz --model gpt2/ --text "The cat sat on the mat" --out attention/
//   attend viz --model translator/ --source "le chat" --target "the cat" --out attention/
//
// One forward pass of the model on the text with every layer's attention weights captured
// (the reference attention path, which forms softmax(QKᵀ/√d + M); viz/record.hpp), then:
//   png    <out>/<kind>_layer<L>_heads.png and <kind>_layer<L>_mean.png (viz/heatmap.hpp)
//   html   <out>/attention.html: the interactive page, self-contained (viz/html.hpp)
//   json   <out>/attention.json: the raw weights (viz/record.hpp's attention_json)
// --format picks any of them (default png,html).
//
// Tokens: the tokenizer's special tokens are added as Hugging Face's add_special_tokens=True
// does ([CLS] … [SEP], Llama's BOS) unless --no-special. For an encoder–decoder the target is
// read as the decoder reads it in training: BOS first when the model or tokenizer has one.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "attend/error.hpp"
#include "attend/generate/text_model.hpp"
#include "attend/viz/record.hpp"
#include "attend/viz/report.hpp"
#include "commands.hpp"

namespace attend::cli {
namespace {

struct VizOptions {
    ModelOptions model;
    std::string text, source, target, out;
    std::vector<std::string> formats{"png", "html"};
    bool no_special = false;
    int cell = 0;
};

std::vector<int64_t> tokens_of(const TextModel& lm, const std::string& text, bool special, const char* what) {
    std::vector<int64_t> ids = lm.tokenizer->encode(text, special);
    ATTEND_CHECK(!ids.empty(), "the ", what, " \"", text, "\" gives no tokens");
    const int64_t limit = lm.loaded.config.max_positions;
    const bool bounded = lm.loaded.config.positions == PositionType::learned || lm.loaded.config.positions == PositionType::rope;
    ATTEND_CHECK(!bounded || limit <= 0 || int64_t(ids.size()) <= limit, "the ", what, " is ", ids.size(),
                 " tokens; ", lm.loaded.path, " takes at most ", limit);
    return ids;
}

void run_viz(const VizOptions& o) {
    viz::ReportOptions report;
    report.png = report.html = report.json = false;
    for (const std::string& f : o.formats) {
        ATTEND_CHECK(f == "png" || f == "html" || f == "json", "--format takes png, html and json, got \"", f, "\"");
        (f == "png" ? report.png : f == "html" ? report.html : report.json) = true;
    }
    report.style.cell = o.cell;

    const TextModel lm = o.model.load();
    const Transformer& model = lm.model();
    const bool seq2seq = model.config().shape == ModelShape::encoder_decoder;
    viz::AttentionRecord record;
    if (seq2seq) {
        ATTEND_CHECK(!o.source.empty() && !o.target.empty() && o.text.empty(), o.model.model,
                     " is an encoder-decoder model: give --source and --target (not --text)");
        const std::vector<int64_t> src = tokens_of(lm, o.source, !o.no_special, "source");
        std::vector<int64_t> tgt = lm.tokenizer->encode(o.target, false);
        if (const auto bos = lm.bos()) tgt.insert(tgt.begin(), *bos);  // the decoder's first input
        ATTEND_CHECK(!tgt.empty(), "the target \"", o.target, "\" gives no tokens");
        record = viz::record_attention(model, src, viz::token_labels(*lm.tokenizer, src), tgt,
                                       viz::token_labels(*lm.tokenizer, tgt));
    } else {
        ATTEND_CHECK(!o.text.empty() && o.source.empty() && o.target.empty(), o.model.model, " is an ",
                     name_of(model.config().shape), " model: give --text (--source/--target are for encoder-decoder models)");
        const std::vector<int64_t> ids = tokens_of(lm, o.text, !o.no_special, "text");
        record = viz::record_attention(model, ids, viz::token_labels(*lm.tokenizer, ids));
    }
    record.title = model.config().name.empty() ? o.model.model : model.config().name + " (" + o.model.model + ")";

    const viz::ReportFiles files = viz::write_attention_report(o.out, record, report);
    for (const viz::AttentionMap& m : record.maps)
        std::printf("%s: %lld layers x %lld heads, %lld x %lld tokens\n", m.title.c_str(), (long long)m.n_layers(),
                    (long long)m.n_heads(), (long long)m.n_queries(), (long long)m.n_keys());
    if (!files.png.empty())
        std::printf("heatmaps: %zu PNGs in %s (e.g. %s)\n", files.png.size(), o.out.c_str(), files.png.front().c_str());
    if (!files.html.empty()) std::printf("page:     %s\n", files.html.c_str());
    if (!files.json.empty()) std::printf("weights:  %s\n", files.json.c_str());
}

}  // namespace

void register_viz(CLI::App& app) {
    auto o = std::make_shared<VizOptions>();
    CLI::App* cmd = app.add_subcommand("viz", "Attention heatmaps (PNG), an interactive page (HTML) and the raw weights (JSON)");
    cmd->footer(
        "\nRuns the model once on the text with every layer's attention weights captured and\n"
        "writes, per attention kind (self; or cross, encoder_self, decoder_self) and layer,\n"
        "<kind>_layer<L>_heads.png (a tile per head) and <kind>_layer<L>_mean.png, plus\n"
        "attention.html (open it in a browser: no network needed) and, with --format json,\n"
        "attention.json.\n\n"
        "Examples:\n"
        "  attend viz --model gpt2 --text \"The cat sat on the mat\" --out attention\n"
        "  attend viz --model bert --text \"the bank of the river\" --out attention --format png,html,json\n"
        "  attend viz --model translator --source \"le chat dort\" --target \"the cat sleeps\" --out attention");
    add_model_options(cmd, o->model, DtypeOption::not_offered);
    cmd->add_option("--text", o->text, "Input text (encoder-only and decoder-only models)");
    cmd->add_option("--source", o->source, "Source text (encoder-decoder models)");
    cmd->add_option("--target", o->target, "Target text, as the decoder reads it (encoder-decoder models)");
    cmd->add_option("--out", o->out, "Folder to write into (created if needed)")->required();
    cmd->add_option("--format", o->formats, "What to write: png, html, json (comma-separated)")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_flag("--no-special", o->no_special, "Do not add the tokenizer's special tokens ([CLS], [SEP], BOS)");
    cmd->add_option("--cell", o->cell, "Heatmap cell size in pixels (default: from the text length)")
        ->check(whole_number(0, 64));
    cmd->callback([o] { run_viz(*o); });
}

}  // namespace attend::cli
