// tools/attend/perplexity.cpp — `attend perplexity --model PATH --file FILE`: how well a
// language model predicts a text.
//
//   ids = tokenizer(text) with its special tokens (Llama: BOS first, so the first word is scored too)
//   nll_i = −log p(ids_i | ids_<i)   (generate/perplexity.hpp: a sliding window of the model's
//                                    context over long texts)
//   perplexity = exp(mean nll)
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "attend/error.hpp"
#include "attend/generate/perplexity.hpp"
#include "attend/generate/text_model.hpp"
#include "attend/read_file.hpp"
#include "commands.hpp"

namespace attend::cli {
namespace {

struct PerplexityCliOptions {
    ModelOptions model;
    std::string file;
    int64_t window = 0, stride = 0;
    bool verbose = false;
};

void run_perplexity(const PerplexityCliOptions& o) {
    const std::string text = read_file(o.file, "text file");  // before the model: a wrong path fails fast
    const TextModel lm = o.model.load_language_model();
    const std::vector<int64_t> ids = lm.tokenizer->encode(text, /*add_special=*/true);
    if (ids.size() < 2)
        throw Error(o.file + ": too short to score: it gives " + std::to_string(ids.size()) +
                    " token(s), perplexity needs at least 2");
    PerplexityOptions p;
    p.window = o.window;
    p.stride = o.stride;
    const std::vector<double> nll = token_nll(lm.model(), ids, p);

    if (o.verbose) {
        std::printf("%8s %8s  %-20s %10s\n", "position", "id", "token", "nll");
        for (size_t i = 0; i < nll.size(); ++i) {
            std::string piece = lm.tokenizer->token_text(ids[i + 1]);
            for (char& c : piece)
                if (c == '\n' || c == '\t' || c == '\r') c = ' ';  // one row per token
            std::printf("%8zu %8lld  %-20s %10.4f\n", i + 1, (long long)ids[i + 1], piece.c_str(), nll[i]);
        }
    }
    double sum = 0;
    for (double x : nll) sum += x;
    std::printf("perplexity %.4f over %zu tokens (mean nll %.4f nats)\n", perplexity_of(nll), nll.size(),
                sum / double(nll.size()));
}

}  // namespace

void register_perplexity(CLI::App& app) {
    auto o = std::make_shared<PerplexityCliOptions>();
    CLI::App* cmd = app.add_subcommand("perplexity", "Score a text file with a language model");
    cmd->footer(
        "\nPrints exp(mean negative log-likelihood) of the file's tokens; --verbose lists every\n"
        "token's nll first. Texts longer than the model's context are scored with a sliding\n"
        "window (default: the model's max positions, stride half of it).\n\n"
        "Example:\n"
        "  attend perplexity --model stories260K/stories260K.bin --file story.txt --verbose");
    add_model_options(cmd, o->model, DtypeOption::offered);
    cmd->add_option("--file", o->file, "Text file to score")->required();
    cmd->add_option("--window", o->window, "Tokens per window (default: the model's max positions)")
        ->check(whole_number(0, uint64_t(1) << 30));
    cmd->add_option("--stride", o->stride, "Tokens between window starts (default: half the window)")
        ->check(whole_number(0, uint64_t(1) << 30));
    cmd->add_flag("-v,--verbose", o->verbose, "Print each token's negative log-likelihood");
    cmd->callback([o] { run_perplexity(*o); });
}

}  // namespace attend::cli
