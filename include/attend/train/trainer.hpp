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
// Options (train/train_options.hpp, one table): every one is range-checked
// (check_train_options) whatever its source — flags, --config, the library. A run records
// its options in the checkpoint ("train_options"); a resumed run must agree with it on what
// makes the model, the data and the seed (the table's `kept` rows: arch, data, tokenizer,
// norm_placement, layers, heads, kv_heads, dim, block_size, dropout, attention_dropout,
// seed): a contradiction is an Error naming both values. The schedule and the rest (steps,
// lr, min_lr, warmup, weight_decay, betas, grad_clip, batch_size, grad_accum, eval_every,
// eval_batches, checkpoint_every, threads, comm_timeout, precision) may change on resume, e.g. --steps
// to train longer.
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
#include <string>
#include <vector>

#include "attend/models/config.hpp"
#include "attend/train/train_options.hpp"

namespace attend {

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

TrainResult train(const TrainOptions& options);

// The config `train` builds for a vocabulary of `vocab_size`.
TransformerConfig training_config(const TrainOptions& options, int64_t vocab_size);

}  // namespace attend
