// train/trainer.cpp — the training loop behind `attend train` (see train/trainer.hpp).
#include "attend/train/trainer.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>
#include <type_traits>

#include "attend/autograd.hpp"
#include "attend/buffer_reuse.hpp"
#include "attend/error.hpp"
#include "attend/io/config_json.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/matmul_precision.hpp"
#include "attend/models/transformer.hpp"
#include "attend/ops.hpp"
#include "attend/parallel.hpp"
#include "attend/profile.hpp"
#include "attend/tokenizers/char_level.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "attend/train/checkpoint.hpp"
#include "attend/train/data.hpp"
#include "attend/train/optimizer.hpp"
#include "attend/train/plot.hpp"
#include "core/atomic_file.hpp"
#include "train/communicator.hpp"
#include "train/data_shard.hpp"
#include "train/gradient_reducer.hpp"
#include "train/memory_budget.hpp"
#include "train/output_folder.hpp"

namespace attend {

namespace fs = std::filesystem;

static const char* arch_name(TrainArch a) {
    return a == TrainArch::gpt ? "gpt" : a == TrainArch::bert ? "bert" : "seq2seq";
}

TransformerConfig training_config(const TrainOptions& o, int64_t vocab_size) {
    TransformerConfig c;
    c.vocab_size = vocab_size;
    c.d_model = o.dim;
    c.n_layers = o.layers;
    c.n_heads = o.heads;
    c.n_kv_heads = o.kv_heads;
    c.d_ff = 4 * o.dim;
    c.max_positions = o.block_size;
    c.dropout = o.dropout;
    c.attention_dropout = o.attention_dropout;
    c.norm = NormType::layer_norm;
    c.activation = Activation::gelu;
    c.positions = PositionType::learned;
    c.bias = true;
    c.tie_embeddings = true;
    c.init = InitScheme::normal;
    c.init_std = 0.02f;
    switch (o.arch) {
    case TrainArch::gpt:  // nanoGPT: pre-norm, GELU, learned positions, tied head, scaled residual init
        c.name = "gpt";
        c.shape = ModelShape::decoder, c.head = HeadType::lm;
        c.norm_placement = NormPlacement::pre, c.final_norm = true;
        c.init_scale_residual = true;
        break;
    case TrainArch::bert:  // BERT: post-norm, a norm on the embeddings, the MLM head
        c.name = "bert";
        c.shape = ModelShape::encoder, c.head = HeadType::mlm;
        c.norm_placement = NormPlacement::post, c.final_norm = false, c.embedding_norm = true;
        c.norm_eps = 1e-12f;
        break;
    case TrainArch::seq2seq:  // Vaswani et al. with pre-norm (trains without warm-up tricks)
        c.name = "seq2seq";
        c.shape = ModelShape::encoder_decoder, c.head = HeadType::seq2seq;
        c.norm_placement = NormPlacement::pre, c.final_norm = true;
        c.positions = PositionType::sinusoidal;
        c.embedding_scale = std::sqrt(float(o.dim));
        c.init_std = 1.f / std::sqrt(float(o.dim));  // embeddings scaled by √E: keep them O(1)
        break;
    }
    if (!o.norm_placement.empty()) {
        ATTEND_CHECK(o.norm_placement == "pre" || o.norm_placement == "post", "unknown norm placement \"",
                     o.norm_placement, "\" (pre or post)");
        c.norm_placement = o.norm_placement == "pre" ? NormPlacement::pre : NormPlacement::post;
        c.final_norm = c.norm_placement == NormPlacement::pre;  // pre-norm stacks end in a norm
    }
    c.validate();
    return c;
}

namespace {

using Clock = std::chrono::steady_clock;

std::string duration(double s) {
    char buf[32];
    if (!std::isfinite(s) || s < 0) return "?";
    const long t = long(s + 0.5);
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
    else std::snprintf(buf, sizeof buf, "%lds", t);
    return buf;
}

// A live bar on a terminal (redrawn in place with \r), periodic plain lines otherwise.
class Progress {
public:
    Progress(const TrainOptions& o, int64_t first_step, int64_t last_step, int64_t tokens_per_step)
        : quiet_(o.quiet), first_(first_step), last_(last_step), tokens_per_step_(tokens_per_step) {
        bar_ = o.progress == 1 || (o.progress == -1 && ::isatty(STDERR_FILENO));
        every_ = std::max<int64_t>(1, (last_step - first_step) / 20);
        start_ = Clock::now();
    }
    void step(int64_t step, float loss, float lr) {  // `step` steps done
        if (quiet_) return;
        const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
        const double done = double(step - first_);
        const double tok_s = done * double(tokens_per_step_) / std::max(elapsed, 1e-9);
        const double eta = done > 0 ? elapsed / done * double(last_ - step) : NAN;
        if (bar_) {
            const int width = 24, filled = int(width * double(step) / double(std::max<int64_t>(last_, 1)));
            std::string bar(size_t(filled), '#');
            bar.resize(width, '-');
            std::fprintf(stderr, "\r\033[Kstep %lld/%lld [%s] loss %.4f | lr %.2e | %.0f tok/s | ETA %s",
                         (long long)step, (long long)last_, bar.c_str(), loss, lr, tok_s, duration(eta).c_str());
            std::fflush(stderr);
            dirty_ = true;
        } else if ((step - first_) % every_ == 0 || step == last_) {
            std::fprintf(stderr, "step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  elapsed %s  ETA %s\n",
                         (long long)step, (long long)last_, loss, lr, tok_s, duration(elapsed).c_str(),
                         duration(eta).c_str());
        }
    }
    void line(const std::string& text) {  // a message that must stay on screen
        if (quiet_) return;
        if (dirty_) std::fputc('\n', stderr), dirty_ = false;
        std::fprintf(stderr, "%s\n", text.c_str());
    }
    void finish() {
        if (dirty_ && !quiet_) std::fputc('\n', stderr);
        dirty_ = false;
    }

private:
    bool quiet_, bar_ = false, dirty_ = false;
    int64_t first_, last_, tokens_per_step_, every_ = 1;
    Clock::time_point start_;
};

void write_history(const std::string& out, const std::vector<HistoryRow>& rows) {
    const PhaseScope phase("checkpoint");  // the run's files: loss.csv and loss.png too
    std::string csv = "step,train_loss,val_loss,lr\n";
    for (const HistoryRow& r : rows) {
        char line[128];
        if (std::isnan(r.val)) std::snprintf(line, sizeof line, "%lld,%.6f,,%.6g\n", (long long)r.step, r.train, r.lr);
        else std::snprintf(line, sizeof line, "%lld,%.6f,%.6f,%.6g\n", (long long)r.step, r.train, r.val, r.lr);
        csv += line;
    }
    write_text_atomically(out + "/loss.csv", csv);
    Series train{{}, {}, 31, 119, 180, "train"}, val{{}, {}, 214, 39, 40, "validation"};
    for (const HistoryRow& r : rows) {
        train.x.push_back(double(r.step)), train.y.push_back(r.train);
        if (!std::isnan(r.val)) val.x.push_back(double(r.step)), val.y.push_back(r.val);
    }
    write_line_plot_png(out + "/loss.png", {train, val});
}

std::string history_json(const std::vector<HistoryRow>& rows) {
    nlohmann::json j = nlohmann::json::array();
    for (const HistoryRow& r : rows) j.push_back({r.step, r.train, std::isnan(r.val) ? nlohmann::json() : nlohmann::json(r.val), r.lr});
    return j.dump();
}

// Everything data-related the loop needs, per architecture.
struct DataSource {
    TrainArch arch;
    std::shared_ptr<const Tokenizer> tokenizer;
    SpecialTokens special;
    TokenSequence train_tokens, val_tokens;   // gpt, bert
    std::vector<Pair> train_pairs, val_pairs;  // seq2seq
    int64_t block = 0;
    int64_t most_frequent = 0;  // in the training split's targets: the unigram baseline's guess

    Batch draw(bool validation, int64_t batch, Generator& gen) const {
        if (arch == TrainArch::seq2seq)
            return seq2seq_batch(validation ? val_pairs : train_pairs, batch, gen, *special.pad, *special.bos,
                                 *special.eos, block);
        Batch b = causal_lm_batch(validation ? val_tokens : train_tokens, batch, block, gen);
        if (arch == TrainArch::bert) mask_tokens(b, *special.mask, tokenizer->vocab_size(), gen, 0.15f);
        return b;
    }
};

bool is_token_file(const std::string& path) { return fs::path(path).extension() == ".bin"; }

// The text a new character vocabulary is built from: the data file, or both sides of its pairs.
std::string vocabulary_text(const TrainOptions& o) {
    if (o.arch != TrainArch::seq2seq) return read_text_file(o.data);
    std::string all;
    for (const auto& [s, t] : read_pairs(o.data)) all += s + t;
    return all;
}

// The tokenizer of a new run, written into the output folder (by rank 0 alone: `write`) so
// that `attend generate` (and `--resume`) find it beside the model: --tokenizer's files
// copied under their standard names, or a character vocabulary of the data saved as
// tokenizer.json.
std::shared_ptr<const Tokenizer> prepare_tokenizer(const TrainOptions& o, bool write) {
    if (o.tokenizer.empty()) {
        ATTEND_CHECK(!is_token_file(o.data), o.data, ": a token file needs --tokenizer (the tokenizer that made it)");
        const std::vector<std::string> specials =
            o.arch == TrainArch::seq2seq ? std::vector<std::string>{"<pad>", "<bos>", "<eos>"}
            : o.arch == TrainArch::bert  ? std::vector<std::string>{"[PAD]", "[MASK]"}
                                         : std::vector<std::string>{};
        auto chars = std::make_shared<CharTokenizer>(CharTokenizer::from_text(vocabulary_text(o), specials));
        if (write) chars->save(o.out + "/tokenizer.json");
        return chars;
    }
    std::shared_ptr<const Tokenizer> loaded = load_tokenizer(o.tokenizer);
    if (write) copy_tokenizer_files(o.tokenizer, o.out);
    return loaded;
}

DataSource load_data(const TrainOptions& o, std::shared_ptr<const Tokenizer> tokenizer) {
    DataSource d;
    d.arch = o.arch;
    d.block = o.block_size;
    d.tokenizer = std::move(tokenizer);
    d.special = SpecialTokens::of(*d.tokenizer);
    const Tokenizer& tok = *d.tokenizer;
    if (o.arch == TrainArch::seq2seq) {
        for (const char* what : {"bos", "eos"})
            need_special(what[0] == 'b' ? d.special.bos : d.special.eos, tok, what, "seq2seq training");
        ATTEND_CHECK(!is_token_file(o.data), o.data, ": seq2seq trains on tab-separated text pairs, not a token file");
        std::vector<Pair> tokenised;
        for (const auto& [s, t] : read_pairs(o.data)) tokenised.push_back({tok.encode(s), tok.encode(t)});
        const size_t n_train = std::max<size_t>(1, size_t(double(tokenised.size()) * 0.9));
        d.train_pairs.assign(tokenised.begin(), tokenised.begin() + long(n_train));
        d.val_pairs.assign(tokenised.begin() + long(n_train), tokenised.end());
        if (d.val_pairs.empty()) d.val_pairs = d.train_pairs;
        std::vector<int64_t> counts(size_t(tok.vocab_size()) + 1);
        for (const Pair& p : d.train_pairs) {
            for (int64_t id : p.target) ++counts[size_t(id)];
            ++counts[size_t(*d.special.eos)];
        }
        d.most_frequent = std::max_element(counts.begin(), counts.end()) - counts.begin();
        return d;
    }
    if (o.arch == TrainArch::bert) need_special(d.special.mask, tok, "[MASK]", "masked-LM (BERT) training");
    const TokenSequence tokens = is_token_file(o.data) ? TokenSequence::map_uint16(o.data, tok.vocab_size())
                                                       : TokenSequence(tok.encode(read_text_file(o.data)));
    std::tie(d.train_tokens, d.val_tokens) = split_tokens(tokens, 0.9);
    std::vector<int64_t> counts(size_t(tok.vocab_size()));
    for (int64_t i = 0; i < d.train_tokens.size(); ++i) ++counts[size_t(d.train_tokens[i])];
    d.most_frequent = std::max_element(counts.begin(), counts.end()) - counts.begin();
    ATTEND_CHECK(d.val_tokens.size() > o.block_size + 1, o.data, " is too short: the validation split (",
                 d.val_tokens.size(), " tokens) must hold more than block_size + 1 = ", o.block_size + 1);
    return d;
}

Tensor batch_logits(const Transformer& model, const Batch& b, const ForwardMode& mode) {
    return model.config().shape == ModelShape::encoder_decoder ? model.forward(b.source, b.input, mode)
                                                               : model.forward(b.input, mode);
}

Tensor batch_loss(const Transformer& model, const Batch& b, const ForwardMode& mode) {
    return Transformer::loss(batch_logits(model, b, mode), b.targets, kIgnore);
}

// Counts, over targets not ignored, those whose argmax logit is right and those equal to
// `unigram` — the accuracy of always guessing the training split's most frequent token, the
// baseline.
struct Hits {
    int64_t correct = 0, unigram = 0, total = 0;

    void add(const Tensor& logits, const std::vector<int64_t>& targets, int64_t unigram_guess) {
        const Tensor flat = logits.contiguous();  // (B, T, V)
        const int64_t V = flat.shape().back();
        const float* row = flat.data();
        for (size_t i = 0; i < targets.size(); ++i, row += V) {
            if (targets[i] == kIgnore) continue;
            ++total;
            correct += std::max_element(row, row + V) - row == targets[i];
            unigram += targets[i] == unigram_guess;
        }
    }
};

TrainResult train_in(const TrainOptions& o, Communicator& comm, bool& checkpointed);  // train's body (below)

bool all_finite(const NamedParameters& params) {
    for (const auto& [name, p] : params) {
        const float* d = p->data();
        for (int64_t i = 0; i < p->numel(); ++i)
            if (!std::isfinite(d[i])) return false;
    }
    return true;
}

}  // namespace

TrainResult train(const TrainOptions& o) {
    ATTEND_CHECK(!o.out.empty(), "no output folder (--out)");
    check_train_options(o);
    // Several ranks under a launcher, or this process alone (train/communicator.hpp).
    const std::unique_ptr<Communicator> comm = make_communicator(o.comm_timeout);
    try {
        ATTEND_CHECK(o.batch_size >= comm->size(), "--batch-size ", o.batch_size, " is smaller than the ", comm->size(),
                     " ranks: each rank takes at least one sequence of every micro-batch");
        // Rank 0 owns the output folder; the others only read it (on --resume).
        std::optional<OutputFolder> folder;
        if (comm->rank() == 0) folder.emplace(o.out);  // locked until train returns
        if (folder && !o.resume) folder->claim_for_fresh_run(o.overwrite);
        bool checkpointed = false;
        try {
            return train_in(o, *comm, checkpointed);
        } catch (...) {
            if (folder && !o.resume && !checkpointed) folder->discard_additions();  // a failed start leaves nothing behind
            throw;
        }
    } catch (const std::exception& e) {
        // The other ranks would wait for this one: stop them all, naming it. Most errors
        // (a missing file, a non-finite loss) strike every rank alike; the others leave
        // rank 0 a moment to stop first, having removed what a failed start wrote.
        if (comm->size() > 1) {
            if (comm->rank() != 0) std::this_thread::sleep_for(std::chrono::seconds(2));
            comm->abort(e.what());
        }
        throw;
    }
}

namespace {

// Identical on every rank that holds the same parameters and step: the check that the ranks
// start (and stay) in step — say, after a resume from output folders that differ between
// machines. Two 32-bit halves, so the sum over ranks is exact in a double.
std::array<double, 2> fingerprint(const NamedParameters& params, int64_t step) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ uint64_t(step);
    for (const auto& [name, p] : params) {
        const auto* bits = reinterpret_cast<const uint32_t*>(p->data());
        for (int64_t i = 0; i < p->numel(); ++i) h = (h ^ bits[i]) * 0x100000001B3ull;
    }
    return {double(h & 0xFFFFFFFFu), double(h >> 32)};
}

void check_in_step(Communicator& comm, const NamedParameters& params, int64_t step, const std::string& when) {
    if (comm.size() == 1) return;
    const std::array<double, 2> mine = fingerprint(params, step);
    std::array<double, 2> all = mine;
    comm.sum(all, when);
    ATTEND_CHECK(all[0] == mine[0] * comm.size() && all[1] == mine[1] * comm.size(), "the ranks hold different "
                 "parameters ", when, " (a checkpoint that differs between machines?); every rank must resume from "
                 "the same output folder");
}

// The dropout stream of rank r > 0 for one step: rank 0 draws from the run's own "dropout"
// stream (the one the checkpoint keeps), the others from streams of their own, so that their
// shares get masks of their own, and that a resume on any rank count can rebuild.
Generator rank_dropout_stream(uint64_t seed, int64_t step, int rank) {
    return Generator(seed * 0x9E3779B97F4A7C15ull + uint64_t(step) * 0xBF58476D1CE4E5B9ull + uint64_t(rank));
}

TrainResult train_in(const TrainOptions& o, Communicator& comm, bool& checkpointed) {
    const int world = comm.size(), me = comm.rank();
    // The linear layers' arithmetic for the whole run, evaluation included; bf16 on a CPU
    // without AVX512-BF16 stops here, before anything is built.
    const MatmulPrecisionScope precision(matmul_precision_named(o.precision, "--precision"));
    if (o.threads > 0) set_num_threads(o.threads);
    // Ranks that share a machine share its cores: unless told (--threads, OMP_NUM_THREADS),
    // each takes its part rather than all of them.
    else if (world > 1 && std::getenv("OMP_NUM_THREADS") == nullptr)
        set_num_threads(std::max(1, int(std::thread::hardware_concurrency()) / comm.local_size()));
    const std::string checkpoint_path = o.out + "/checkpoint.safetensors";

    // ---- model, data, streams: fresh or from the checkpoint ----
    std::optional<PhaseScope> setup_phase(std::in_place, "setup");  // closed before the first step
    std::map<std::string, std::string> resumed_meta;
    if (o.resume) {
        ATTEND_CHECK(fs::exists(checkpoint_path), "--resume: no checkpoint at ", checkpoint_path);
        resumed_meta = read_training_metadata(checkpoint_path);  // every field checked (train/checkpoint.hpp)
        check_resume_options(o, recorded_train_options(o.out), checkpoint_path);
    }
    // A resumed run reads the tokenizer its first run wrote into the output folder.
    const DataSource data = load_data(o, o.resume ? std::shared_ptr<const Tokenizer>(load_tokenizer(o.out))
                                                  : prepare_tokenizer(o, me == 0));
    const int64_t vocab_size = data.tokenizer->vocab_size();
    const TransformerConfig config =
        o.resume ? config_from_json(resumed_meta.at("attend_config"), checkpoint_path + " (metadata attend_config)")
                 : training_config(o, vocab_size);
    ATTEND_CHECK(config.vocab_size == vocab_size, checkpoint_path, ": the checkpoint's model has ", config.vocab_size,
                 " token embeddings but the tokenizer in ", o.out, " has ", vocab_size, " tokens");
    check_training_fits_memory(config, o.batch_size, o.block_size);  // before anything of its size exists
    Transformer model(config, o.seed);
    NamedParameters params = model.parameters();
    for (auto& [name, p] : params) p->requires_grad_(true);
    AdamW optimizer(params, {o.beta1, o.beta2, 1e-8f, o.weight_decay});
    const LrSchedule schedule{o.lr, o.min_lr >= 0 ? o.min_lr : o.lr / 10, o.warmup, o.steps};

    TrainingState state;
    state.generators["data"] = Generator(o.seed * 2 + 1);
    state.generators["dropout"] = Generator(o.seed * 2 + 2);
    std::vector<HistoryRow> history;
    if (o.resume) {
        state = load_training_checkpoint(checkpoint_path, params, optimizer);
        ATTEND_CHECK(state.generators.count("data") && state.generators.count("dropout"), checkpoint_path,
                     ": checkpoint lacks the data or dropout random stream");
        if (state.metadata.count("history")) history = parse_training_history(state.metadata.at("history"), checkpoint_path);
    }
    state.metadata["arch"] = arch_name(o.arch);
    state.metadata["train_options"] = train_options_to_json(o);
    Generator& data_gen = state.generators["data"];
    Generator& dropout_gen = state.generators["dropout"];

    const int64_t last = o.stop_after >= 0 ? std::min(o.steps, o.stop_after) : o.steps;
    const int64_t tokens_per_step = o.batch_size * o.block_size * o.grad_accum;
    TrainOptions shown = o;
    shown.quiet = o.quiet || me != 0;  // rank 0 alone prints
    Progress progress(shown, state.step, last, tokens_per_step);
    std::optional<GradientReducer> reducer;
    if (world > 1) {
        reducer.emplace(params);
        check_in_step(comm, params, state.step, "at the start");
        progress.line("data-parallel over " + std::to_string(world) + " ranks (" + std::to_string(comm.local_size()) +
                      " on this machine), " + std::to_string(num_threads()) +
                      (num_threads() == 1 ? " thread" : " threads") + " each; all-reduce of " +
                      std::to_string(reducer->gradient_bytes()) + " gradient bytes a step in " +
                      std::to_string(reducer->buckets()) + " buckets");
    }
    if (state.step == 0)
        progress.line(std::string("training ") + arch_name(o.arch) + ": " +
                      std::to_string(count_parameters(params)) + " parameters, vocabulary " +
                      std::to_string(vocab_size) + ", " + std::to_string(o.steps) + " steps");
    else progress.line("resuming at step " + std::to_string(state.step));

    TrainResult result;
    auto evaluate = [&]() {
        const PhaseScope phase("eval");
        NoGradGuard no_grad;
        Generator eval_gen(o.seed * 2 + 3);  // the same batches at every evaluation, no training stream moved
        double total = 0;
        Hits hits;
        for (int64_t i = 0; i < o.eval_batches; ++i) {
            const Batch b = data.draw(true, o.batch_size, eval_gen);  // every rank draws every batch...
            if (i % world != me) continue;                              // ...and evaluates its own
            const Tensor logits = batch_logits(model, b, ForwardMode{});
            total += Transformer::loss(logits, b.targets, kIgnore).item();
            hits.add(logits, b.targets, data.most_frequent);
        }
        std::array<double, 4> sums = {total, double(hits.correct), double(hits.unigram), double(hits.total)};
        comm.sum(sums, "the evaluation after step " + std::to_string(state.step));
        result.val_accuracy = sums[1] / std::max(1.0, sums[3]);
        result.unigram_accuracy = sums[2] / std::max(1.0, sums[3]);
        return sums[0] / double(o.eval_batches);
    };
    auto save = [&]() {
        check_in_step(comm, params, state.step, "at the checkpoint of step " + std::to_string(state.step));
        if (me != 0) return;  // rank 0 alone writes
        const PhaseScope phase("checkpoint");
        ATTEND_CHECK(all_finite(params), "parameters are not finite after step ", state.step,
                     "; the checkpoint at ", checkpoint_path, " is left as it was");
        state.metadata["history"] = history_json(history);
        save_training_checkpoint(checkpoint_path, model, optimizer, state);
        checkpointed = true;
    };

    setup_phase.reset();
    const BufferReuse reuse;  // every step allocates what the last one freed (attend/buffer_reuse.hpp)
    const auto start = Clock::now();
    // eval_every 0: evaluate (and checkpoint) only at the end.
    const int64_t checkpoint_every = o.checkpoint_every > 0 ? o.checkpoint_every : o.eval_every > 0 ? o.eval_every : o.steps;
    while (state.step < last) {
        const float lr = schedule.at(state.step);
        // One phase open at a time: emplace closes the previous one.
        std::optional<PhaseScope> phase(std::in_place, "optimizer");
        optimizer.zero_grad();
        // The step's global batch, whatever the rank count; this rank's shares of its
        // micro-batches, each weighted by its share of the batch's targets (train/data_shard.hpp).
        phase.emplace("data");
        const Batch global = data.draw(false, o.batch_size * o.grad_accum, data_gen);
        const bool whole = world == 1 && o.grad_accum == 1;  // one share: the batch itself, weight 1
        const double global_targets = double(global.n_targets());
        Generator rank_dropout = rank_dropout_stream(o.seed, state.step, me);
        double step_loss = 0;
        for (int64_t micro = 0; micro < o.grad_accum; ++micro) {
            phase.emplace("data");
            Batch share;
            if (!whole) {
                const auto [begin, end] = rank_share(o.batch_size, me, world);
                share = batch_rows(global, micro * o.batch_size + begin, micro * o.batch_size + end);
            }
            const Batch& b = whole ? global : share;
            const double weight = whole ? 1.0 : double(b.n_targets()) / global_targets;
            if (weight == 0) continue;  // no target in this share: nothing in it to learn from
            phase.emplace("forward");
            const ForwardMode mode{true, me == 0 ? &dropout_gen : &rank_dropout, AttentionPath::fused};
            Tensor loss = batch_loss(model, b, mode);
            const float value = loss.item();
            step_loss += double(value) * weight;
            if (!std::isfinite(value)) break;
            phase.emplace("backward");
            (weight != 1.0 ? scale(loss, float(weight)) : loss).backward();
        }
        if (reducer) {  // every rank, whatever its loss, so that all stay in the same round
            phase.emplace("all-reduce");
            std::array<double, 1> loss_sum = {step_loss};
            reducer->start(comm);
            comm.start_sum(loss_sum);
            comm.finish("the gradients of step " + std::to_string(state.step + 1));
            reducer->finish();
            step_loss = loss_sum[0];
        }
        phase.emplace("optimizer");  // zeroing (above), clipping and the step
        const float norm = std::isfinite(step_loss) ? clip_grad_norm(params, o.grad_clip) : NAN;
        if (!std::isfinite(step_loss) || !std::isfinite(norm)) {
            progress.finish();
            ATTEND_CHECK(false, "training stopped at step ", state.step + 1, ": the ",
                         std::isfinite(step_loss) ? "gradient norm" : "loss", " is not finite (",
                         std::isfinite(step_loss) ? norm : float(step_loss), "; try a lower --lr); the last good "
                         "checkpoint ", fs::exists(checkpoint_path) ? checkpoint_path : std::string("(none written yet)"),
                         " is intact");
        }
        optimizer.step(lr);
        phase.reset();
        ++state.step;
        result.train_losses.push_back(float(step_loss));
        history.push_back({state.step, step_loss, NAN, lr});
        progress.step(state.step, float(step_loss), lr);

        const bool at_end = state.step == last;
        if ((o.eval_every > 0 && state.step % o.eval_every == 0) || state.step == o.steps) {
            const double val = evaluate();
            history.back().val = val;
            result.val_losses.emplace_back(state.step, float(val));
            char text[200];
            std::snprintf(text, sizeof text, "step %lld: train loss %.4f, val loss %.4f, val %saccuracy %.1f%% (unigram %.1f%%)",
                          (long long)state.step, step_loss, val, o.arch == TrainArch::bert ? "masked-token " : "",
                          100 * result.val_accuracy, 100 * result.unigram_accuracy);
            progress.line(text);
            if (me == 0) write_history(o.out, history);
        }
        const bool saved = state.step % checkpoint_every == 0 || at_end;
        if (saved) save();
        if (o.on_step && !o.on_step(state.step, float(step_loss), lr)) {
            if (!saved) save();  // the caller stopped the run: resumable from here
            break;
        }
    }
    progress.finish();
    if (me == 0 && !history.empty()) write_history(o.out, history);

    // ---- the trained model, for `attend generate` and the C++ API ----
    if (me == 0 && state.step == o.steps) {
        const PhaseScope phase("checkpoint");
        save_model(o.out, model);  // model.safetensors + config.json; the tokenizer is already beside it
    }
    result.steps_done = state.step;
    result.rank = me, result.ranks = world;
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
}

}  // namespace

}  // namespace attend
