// train/trainer.cpp — the training loop behind `attend train` (see train/trainer.hpp). Its
// parts live beside it: the options (train_options.cpp), the model it builds
// (training_config.cpp), the data (data_source.cpp), what it measures (metrics.cpp), the
// progress line (progress.cpp), loss.csv/png (loss_history.cpp), the ranks' lockstep
// (rank_sync.cpp) and the checkpoint (checkpoint.cpp).
#include "attend/train/trainer.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "attend/autograd.hpp"
#include "attend/buffer_reuse.hpp"
#include "attend/error.hpp"
#include "attend/io/config_json.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/matmul_precision.hpp"
#include "attend/models/transformer.hpp"
#include "attend/ops.hpp"
#include "attend/parallel.hpp"
#include "attend/profile.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "attend/train/checkpoint.hpp"
#include "attend/train/optimizer.hpp"
#include "train/communicator.hpp"
#include "train/data_shard.hpp"
#include "train/data_source.hpp"
#include "train/gradient_reducer.hpp"
#include "train/loss_history.hpp"
#include "train/memory_budget.hpp"
#include "train/metrics.hpp"
#include "train/output_folder.hpp"
#include "train/progress.hpp"
#include "train/rank_sync.hpp"

namespace attend {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// train's body, on every rank; `checkpointed` says whether it wrote a checkpoint.
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
    state.metadata["arch"] = train_arch_name(o.arch);
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
        progress.line(std::string("training ") + train_arch_name(o.arch) + ": " +
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

}  // namespace attend
