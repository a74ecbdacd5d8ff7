// tools/attend/demo.cpp — `attend demo`: the whole story on a laptop, offline, in minutes.
//
//   1. make the data      dates as people write them → ISO dates (train/translation_task.hpp),
//                         training pairs and 1,000 held-out pairs on dates never trained on
//   2. train              a small seq2seq Transformer with the trainer of `attend train`
//                         (progress bar, loss.csv, loss.png); kept in OUT/model and reused
//                         by the next run unless --retrain
//   3. translate          sample translations, held-out exact match, greedy and beam search
//   4. look inside        the cross-attention (target characters → source characters) as
//                         PNG heatmaps and an interactive HTML page (viz/report.hpp)
//   5. explain            `attend explain` on one source sentence
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "attend/error.hpp"
#include "attend/generate/beam_search.hpp"
#include "attend/generate/text_model.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/parallel.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "attend/train/trainer.hpp"
#include "attend/train/translation_task.hpp"
#include "attend/viz/report.hpp"
#include "commands.hpp"

namespace attend::cli {
namespace {

namespace fs = std::filesystem;

struct DemoOptions {
    std::string out = "attend-demo";
    bool retrain = false;
    // The recipe (its measured accuracy and time on 2 cores: the README's first section).
    int64_t steps = 1500, layers = 2, dim = 128, heads = 4, batch_size = 64;
    float lr = 2e-3f;
    int64_t train_pairs = 50000, heldout = 1000, beam_width = 4;
    uint64_t seed = 0;
    int threads = 0;
};

// Character labels for the heatmaps: a space is drawn as '_' so it stays visible.
std::vector<std::string> char_labels(const std::string& text) {
    std::vector<std::string> labels;
    for (char c : text) labels.push_back(c == ' ' ? "_" : std::string(1, c));
    return labels;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void run_demo(const DemoOptions& o) {
    if (o.threads > 0) set_num_threads(o.threads);
    fs::create_directories(o.out);
    const std::string model_dir = o.out + "/model";
    const std::string train_path = o.out + "/train.tsv", heldout_path = o.out + "/heldout.tsv";

    // ---- 1. data ----
    std::printf("== 1. The task: dates as people write them -> ISO 8601 ==\n");
    DateTaskOptions task_options;
    task_options.n_train = o.train_pairs;
    task_options.n_heldout = o.heldout;
    task_options.seed = o.seed;
    const DateTask task = make_date_task(task_options);
    write_pairs_tsv(train_path, task.train);
    write_pairs_tsv(heldout_path, task.heldout);
    std::printf("%zu training pairs in %s, %zu held-out pairs (dates never seen in training) in %s\n",
                task.train.size(), train_path.c_str(), task.heldout.size(), heldout_path.c_str());
    for (size_t i = 0; i < 3 && i < task.train.size(); ++i)
        std::printf("  %-44s -> %s\n", task.train[i].source.c_str(), task.train[i].target.c_str());
    std::printf("\n");

    // ---- 2. train (or reuse) ----
    const bool have_model = fs::exists(model_dir + "/model.safetensors") && fs::exists(model_dir + "/tokenizer.json");
    if (have_model && !o.retrain) {
        std::printf("== 2. Model: reusing the trained model in %s (--retrain to train it again) ==\n\n",
                    model_dir.c_str());
    } else {
        if (fs::exists(model_dir)) fs::remove_all(model_dir);  // --retrain, or a run stopped half-way
        std::printf("== 2. Training a seq2seq Transformer (%lld+%lld layers, dim %lld, %lld heads), %lld steps ==\n",
                    (long long)o.layers, (long long)o.layers, (long long)o.dim, (long long)o.heads,
                    (long long)o.steps);
        std::fflush(stdout);
        TrainOptions t;
        t.arch = TrainArch::seq2seq;
        t.data = train_path;
        t.out = model_dir;
        t.layers = o.layers, t.heads = o.heads, t.dim = o.dim;
        t.block_size = 64;  // sources are at most 60 characters, targets 10 + EOS
        t.batch_size = o.batch_size, t.steps = o.steps;
        t.lr = o.lr, t.warmup = std::min<int64_t>(100, o.steps / 10), t.weight_decay = 0.01f;
        t.dropout = 0.f, t.eval_every = std::max<int64_t>(1, o.steps / 5), t.eval_batches = 4;
        t.seed = o.seed + 1;
        const TrainResult r = train(t);
        std::printf("trained %lld steps in %.1f s; final train loss %.4f; model, loss.csv and loss.png in %s\n\n",
                    (long long)r.steps_done, r.seconds, r.train_losses.empty() ? 0.0 : double(r.train_losses.back()),
                    model_dir.c_str());
    }
    const LoadedModel loaded = load_model(model_dir);
    const Transformer& model = loaded.model;
    const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(loaded.tokenizer_path);
    check_tokenizer_fits(*tokenizer, loaded.tokenizer_path, loaded.config.vocab_size, model_dir);

    // ---- 3. translate ----
    std::printf("== 3. Translations of held-out dates (greedy | beam search, width %lld) ==\n",
                (long long)o.beam_width);
    BeamSearchOptions beam;
    beam.beam_width = std::max<int64_t>(1, o.beam_width);
    beam.length_penalty = 0.6f;
    beam.max_length = 16;
    const auto start = std::chrono::steady_clock::now();
    const TranslationEval eval = evaluate_translation(model, *tokenizer, task.heldout, beam);
    const double eval_seconds = seconds_since(start);
    for (size_t i = 0; i < 8 && i < task.heldout.size(); ++i)
        std::printf("  %-44s -> %-10s | %-10s %s\n", task.heldout[i].source.c_str(), eval.greedy[i].c_str(),
                    eval.beam[i].c_str(), eval.beam[i] == task.heldout[i].target ? "ok" : ("expected " + task.heldout[i].target).c_str());
    std::printf("held-out exact match, greedy: %.2f%% (%lld/%lld)\n", 100 * eval.greedy_accuracy(),
                (long long)eval.greedy_correct, (long long)eval.total);
    std::printf("held-out exact match, beam (width %lld, length penalty 0.6): %.2f%% (%lld/%lld)\n",
                (long long)beam.beam_width, 100 * eval.beam_accuracy(), (long long)eval.beam_correct,
                (long long)eval.total);
    std::printf("(decoding %lld sources twice took %.1f s)\n\n", (long long)eval.total, eval_seconds);

    // ---- 4. the cross-attention of one translation ----
    const TranslationPair& shown = task.heldout.front();
    const std::string translation = eval.beam.front();
    std::vector<int64_t> target_ids{*tokenizer->bos_id()};
    for (int64_t id : tokenizer->encode(translation)) target_ids.push_back(id);
    std::vector<std::string> target_labels{"<bos>"};
    for (const auto& l : char_labels(translation)) target_labels.push_back(l);
    viz::AttentionRecord record = viz::record_attention(model, tokenizer->encode(shown.source), char_labels(shown.source),
                                                        target_ids, target_labels);
    record.title = "attend demo: \"" + shown.source + "\" -> \"" + translation + "\"";
    const viz::ReportFiles files = viz::write_attention_report(o.out + "/attention", record);
    std::printf("== 4. Where the decoder looks: cross-attention for \"%s\" ==\n", shown.source.c_str());
    std::printf("interactive page: %s\n", files.html.c_str());
    std::printf("heatmaps (%zu PNGs) in %s/attention/, e.g. %s\n\n", files.png.size(), o.out.c_str(),
                files.png.empty() ? "(none)" : files.png.front().c_str());
    std::fflush(stdout);

    // ---- 5. attention by hand ----
    std::printf("== 5. attend explain \"%s\" ==\n\n", shown.source.c_str());
    std::fflush(stdout);
    explain_sentence(shown.source);
}

}  // namespace

void register_demo(CLI::App& app) {
    auto o = std::make_shared<DemoOptions>();
    CLI::App* cmd = app.add_subcommand(
        "demo", "Train a small translator (dates in words -> ISO), show its translations, attention and explain");
    cmd->footer(
        "\nOffline, on data it generates itself. Writes OUT/train.tsv, OUT/heldout.tsv, the model in\n"
        "OUT/model (reused by the next run unless --retrain), and the cross-attention page and\n"
        "heatmaps in OUT/attention.\n\n"
        "Examples:\n"
        "  attend demo\n"
        "  attend demo --out /tmp/demo --retrain --steps 400");
    cmd->add_option("--out", o->out, "output folder")->capture_default_str();
    cmd->add_flag("--retrain", o->retrain, "train again even if OUT/model holds a trained model");
    cmd->add_option("--steps", o->steps, "training steps")->check(whole_number(1, uint64_t(1) << 40))->capture_default_str();
    cmd->add_option("--layers", o->layers, "encoder and decoder layers (each)")->check(whole_number(1, 1024))->capture_default_str();
    cmd->add_option("--dim", o->dim, "model width")->check(whole_number(1, 65536))->capture_default_str();
    cmd->add_option("--heads", o->heads, "attention heads")->check(whole_number(1, 1024))->capture_default_str();
    cmd->add_option("--batch-size", o->batch_size, "pairs per training step")->check(whole_number(1, uint64_t(1) << 20))->capture_default_str();
    cmd->add_option("--lr", o->lr, "peak learning rate")->check(real_number(0, 1e300, true))->capture_default_str();
    cmd->add_option("--train-pairs", o->train_pairs, "training pairs to generate")->check(whole_number(1, uint64_t(1) << 30))->capture_default_str();
    cmd->add_option("--heldout", o->heldout, "held-out pairs to generate and evaluate")->check(whole_number(1, uint64_t(1) << 30))->capture_default_str();
    cmd->add_option("--beam", o->beam_width, "beam width")->check(whole_number(1, 1024))->capture_default_str();
    cmd->add_option("--seed", o->seed, "seed of the data and the training")->check(whole_number(0, kMaxSeed))->capture_default_str();
    cmd->add_option("--threads", o->threads, "threads (0: all cores)")->check(whole_number(0, 4096))->capture_default_str();
    cmd->callback([o] { run_demo(*o); });
}

}  // namespace attend::cli
