// train/trainer.hpp — `attend train` as a function: data in, a trained model in a folder out.
//
// The loop (nanoGPT's, for GPT, BERT and seq2seq alike):
//   for step in [start, steps):
//     lr = schedule(step)
//     Σ over grad_accum micro-batches: loss/grad_accum backward   (gradients accumulate)
//     non-finite loss or gradient norm → stop; the last checkpoint stays as it was
//     clip to the global norm, AdamW step
//     every eval_every steps (and at the end): mean loss over eval_batches validation
//       batches (fixed stream, so evaluation never moves the training streams), loss.csv,
//       loss.png, checkpoint
// Deterministic for a given seed and thread count: batches come from the "data" stream,
// dropout from the "dropout" stream, and both are in the checkpoint with the step, so
// `resume` reproduces an uninterrupted run's losses bit for bit.
//
// The output folder: checkpoint.safetensors (resumable state), model.safetensors +
// config.json (the trained model, as io/model_loader.hpp's
// load_model reads it: config in the "attend_config" metadata), the tokenizer (tokenizer.json
// for a character vocabulary, else copies of --tokenizer's files), loss.csv, loss.png.
//
// Implemented in src/train/trainer.cpp.
#pragma once
#include <cmath>
#include <cstdint>
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
    int threads = 0;      // 0: leave the pool as it is
    std::string norm_placement;  // "pre" | "post"; empty: the architecture's own (BERT post, GPT and seq2seq pre)
    bool resume = false;  // continue from out/checkpoint.safetensors
    int64_t stop_after = -1;  // stop (with a checkpoint) after this many steps of the schedule; -1: run all
    bool quiet = false;       // no progress output
    int progress = -1;        // 1: bar, 0: plain lines, -1: bar when stderr is a terminal
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
};

// Reads options from a JSON file whose keys are the option names ("layers", "lr", "arch": "gpt", ...).
TrainOptions read_train_options(const std::string& path, TrainOptions defaults = {});
// The same from the file's text (`path` names it in errors).
TrainOptions parse_train_options(const std::string& json_text, const std::string& path, TrainOptions defaults = {});
TrainArch train_arch(const std::string& name);  // "gpt" | "bert" | "seq2seq"

TrainResult train(const TrainOptions& options);

// The config `train` builds for a vocabulary of `vocab_size`.
TransformerConfig training_config(const TrainOptions& options, int64_t vocab_size);

}  // namespace attend
