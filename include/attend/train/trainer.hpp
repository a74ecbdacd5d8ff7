// train/trainer.hpp — `attend train` as a function: data in, a trained model in a folder out.
//
// The loop (nanoGPT's, for GPT, BERT and seq2seq alike):
//   for step in [start, steps):
//     lr = schedule(step)
//     draw the global batch (batch_size × grad_accum sequences)
//     Σ over its grad_accum micro-batches: loss × (its targets / the batch's) backward
//     (several ranks: each takes its share of every micro-batch; gradients summed over ranks)
//     non-finite loss or gradient norm → stop; the last checkpoint stays as it was
//     clip to the global norm, AdamW step
//     every eval_every steps (and at the end): mean loss over eval_batches validation
//       batches (fixed stream, so evaluation never moves the training streams), loss.csv,
//       loss.png, checkpoint
// Deterministic for a given seed and thread count: batches come from the "data" stream,
// dropout from the "dropout" stream, and both are in the checkpoint with the step, so
// `resume` reproduces an uninterrupted run's losses bit for bit.
//
// The output folder: checkpoint.safetensors (resumable state, and a model load_model opens:
// `attend generate --model OUT` works while the run goes on), model.safetensors +
// config.json (the trained model, as io/model_loader.hpp's
// load_model reads it: config in the "attend_config" metadata), the tokenizer (tokenizer.json
// for a character vocabulary, else copies of --tokenizer's files), loss.csv, loss.png.
// A run holds an exclusive lock on the folder for its life (a second run into it fails at
// once, naming the first one's pid), clears the temporaries a killed run left, and — when
// fresh — refuses a folder that holds a run unless `overwrite`; a fresh run that fails before
// its first checkpoint leaves nothing behind (train/output_folder.hpp).
//
// Options: every numeric one is range-checked (check_train_options) whatever its source —
// flags, --config, the library. A run records its options in the checkpoint
// ("train_options"); a resumed run must agree with it on what makes the model, the data and
// the seed (arch, data, tokenizer, norm_placement, layers, heads, kv_heads, dim, block_size,
// dropout, attention_dropout, seed): a contradiction is an Error naming both values. The
// schedule and the rest (steps, lr, min_lr, warmup, weight_decay, betas, grad_clip,
// batch_size, grad_accum, eval_every, eval_batches, checkpoint_every, threads, comm_timeout, precision)
// may change on resume, e.g. --steps to train longer.
//
// Data parallel (docs/distributed.md): started by an MPI launcher as N ranks, each rank takes
// a disjoint share of every micro-batch of the step's global batch (batch_size × grad_accum
// sequences, drawn as one rank draws them), the gradients are summed over ranks, and every
// rank clips and steps alike; evaluation batches are split among the ranks. Rank 0 alone
// prints and writes the output folder. Each share's loss is weighted by its part of the
// global batch's targets, so N ranks, 1 rank, and 1 rank with grad_accum micro-batches
// follow the same losses (to rounding) for the same batch_size × grad_accum; dropout masks
// differ between rank counts. An error on one rank stops them all (MPI_Abort).
//
// Implemented in src/train/trainer.cpp.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attend/models/config.hpp"

namespace attend {

enum class TrainArch { gpt, bert, seq2seq };

struct TrainOptions {
    TrainArch arch = TrainArch::gpt;
    std::string data;       // text file (gpt, bert), a .bin uint16 token file (gpt, bert; needs
                            // `tokenizer`), or tab-separated pairs (seq2seq)
    std::string tokenizer;  // a tokenizer file or folder (load_tokenizer); empty: characters of the data
    std::string out;   // output folder (created)

    int64_t layers = 4, heads = 4, kv_heads = 0, dim = 128, block_size = 64;
    int64_t batch_size = 12, steps = 2000, grad_accum = 1;
    float lr = 1e-3f, min_lr = -1.f;  // min_lr < 0: lr / 10
    int64_t warmup = 100;
    float weight_decay = 0.1f, beta1 = 0.9f, beta2 = 0.99f, grad_clip = 1.f, dropout = 0.f;
    float attention_dropout = 0.f;  // on the attention weights (TransformerConfig::attention_dropout)
    int64_t eval_every = 250, eval_batches = 20, checkpoint_every = 0;  // 0: at each evaluation
    uint64_t seed = 1337;
    int threads = 0;      // 0: leave the pool as it is (under MPI: the machine's cores shared among its ranks)
    float comm_timeout = 600.f;  // seconds a rank waits for the others in a sum before stopping the run
    std::string norm_placement;  // "pre" | "post"; empty: the architecture's own (BERT post, GPT and seq2seq pre)
    // "f32" | "bf16": the linear layers' products in bf16 mixed precision (fp32 master weights
    // and optimizer; attend/matmul_precision.hpp); bf16 is an Error on a CPU without
    // AVX512-BF16. Recorded in the checkpoint (a resume keeps it unless told); may change on resume.
    std::string precision = "f32";
    bool resume = false;  // continue from out/checkpoint.safetensors
    bool overwrite = false;  // a fresh run may replace the run already in `out`
    int64_t stop_after = -1;  // stop (with a checkpoint) after this many steps of the schedule; -1: run all
    bool quiet = false;       // no progress output
    int progress = -1;        // 1: bar, 0: plain lines, -1: bar when stderr is a terminal
    // Called after every optimizer step with (steps done, that step's loss, its learning rate);
    // false stops the run there, with a checkpoint (as stop_after does). An exception it throws
    // ends train() with that exception (the Python bindings' Ctrl-C). Not recorded anywhere.
    std::function<bool(int64_t step, float loss, float lr)> on_step;
};

struct TrainResult {
    std::vector<float> train_losses;  // one per optimizer step taken in this call
    std::vector<std::pair<int64_t, float>> val_losses;  // (step, loss) at each evaluation
    int64_t steps_done = 0;           // the step count reached
    // At the last evaluation: the fraction of validation targets (for BERT: the masked tokens)
    // the model's argmax gets right, and the same for always guessing the training split's
    // most frequent token (the unigram baseline). NaN when no evaluation ran.
    double val_accuracy = NAN, unigram_accuracy = NAN;
    double seconds = 0;
    int rank = 0, ranks = 1;  // under MPI: this process's rank and the run's count (rank 0 prints)
};

// Reads options from a JSON file whose keys are the option names ("layers", "lr", "arch": "gpt", ...).
TrainOptions read_train_options(const std::string& path, TrainOptions defaults = {});
// The same from the file's text (`path` names it in errors).
TrainOptions parse_train_options(const std::string& json_text, const std::string& path, TrainOptions defaults = {});

// Implemented in src/train/train_options.cpp:
// Why `text` is no valid value for the numeric option `key` ("lr", "layers", ... as in
// --config), as "got -1, expected a learning rate: a finite number > 0"; empty when it is
// fine (or `key` is not numeric). The CLI's flags and check_train_options share it.
std::string train_option_problem(const std::string& key, const std::string& text);
// Every numeric option in range, dim divisible by heads, heads by kv_heads, not both resume
// and overwrite: else an Error naming the flag and the value ("--lr: got -1, expected ...").
void check_train_options(const TrainOptions& options);
// The options as the checkpoint records them (metadata "train_options"; paths absolute).
std::string train_options_to_json(const TrainOptions& options);
// The options recorded in out/checkpoint.safetensors (what --resume starts from).
TrainOptions recorded_train_options(const std::string& out);
// An Error naming both values when `options` contradicts `recorded` on what a resumed run
// must keep (see the top of this file).
void check_resume_options(const TrainOptions& options, const TrainOptions& recorded, const std::string& checkpoint);
TrainArch train_arch(const std::string& name);  // "gpt" | "bert" | "seq2seq"

TrainResult train(const TrainOptions& options);

// The config `train` builds for a vocabulary of `vocab_size`.
TransformerConfig training_config(const TrainOptions& options, int64_t vocab_size);

}  // namespace attend
