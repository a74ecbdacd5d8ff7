// tools/attend/train.cpp — `attend train`: flags (or a JSON config, or on --resume the options
// the checkpoint records) → train() → a model folder.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "attend/profile.hpp"
#include "attend/train/trainer.hpp"
#include "commands.hpp"

namespace attend::cli {

namespace {

// A numeric flag's range is train/trainer.hpp's (train_option_problem), the one place that
// also checks --config files and library callers.
CLI::Validator train_check(const std::string& key) {
    return CLI::Validator([key](std::string& value) { return train_option_problem(key, value); }, "", key);
}

}  // namespace

void register_train(CLI::App& app) {
    auto* cmd = app.add_subcommand("train", "train a GPT, BERT (masked LM) or seq2seq Transformer from scratch");
    auto opts = std::make_shared<TrainOptions>();
    auto arch = std::make_shared<std::string>("gpt");
    auto config = std::make_shared<std::string>();
    auto profiled = std::make_shared<bool>(false);
    TrainOptions& o = *opts;
    // A numeric option: its flag, its range, its default shown in --help.
    auto number = [cmd](const char* flag, const char* key, auto& field, const char* help) {
        return cmd->add_option(flag, field, help)->check(train_check(key))->capture_default_str();
    };
    cmd->add_option("--arch", *arch, "gpt (causal LM on text) | bert (masked LM on text) | seq2seq (TSV pairs)")
        ->check(CLI::IsMember({"gpt", "bert", "seq2seq"}));
    cmd->add_option("--data", o.data,
                    "text file (gpt, bert), FILE.bin of uint16 tokens from `attend tokenize --out` (gpt, bert; "
                    "with --tokenizer), or tab-separated source/target lines (seq2seq); on --resume, the run's own");
    cmd->add_option("--tokenizer", o.tokenizer,
                    "tokenizer file or folder (vocab.json, vocab.txt, tokenizer.json, tokenizer.bin, ...); "
                    "default: the characters of the data");
    cmd->add_option("--out", o.out, "output folder: checkpoint, model, loss.csv, loss.png (locked while the run goes on)");
    cmd->add_option("--config", *config, "JSON file of options (keys as the flags, with _ for -); flags given too win");
    number("--layers", "layers", o.layers, "transformer layers (encoder and decoder each, for seq2seq)");
    number("--heads", "heads", o.heads, "attention heads");
    number("--kv-heads", "kv_heads", o.kv_heads, "key/value heads (GQA); 0 = heads");
    number("--dim", "dim", o.dim, "model width d_model");
    number("--block-size", "block_size", o.block_size, "context length");
    number("--batch-size", "batch_size", o.batch_size, "sequences per micro-batch (under MPI: over all ranks)");
    number("--grad-accum", "grad_accum", o.grad_accum,
           "micro-batches per optimizer step (the step's batch: batch-size × grad-accum sequences)");
    number("--steps", "steps", o.steps, "optimizer steps (on --resume: may grow, to train longer)");
    number("--lr", "lr", o.lr, "peak learning rate");
    cmd->add_option("--min-lr", o.min_lr, "final learning rate of the cosine decay (default lr/10)")
        ->check(train_check("min_lr"));
    number("--warmup", "warmup", o.warmup, "linear warm-up steps");
    number("--weight-decay", "weight_decay", o.weight_decay, "AdamW decoupled weight decay (matrices only)");
    number("--beta2", "beta2", o.beta2, "AdamW β2");
    number("--grad-clip", "grad_clip", o.grad_clip, "clip the global gradient norm (0: off)");
    number("--dropout", "dropout", o.dropout, "dropout probability (embeddings, sub-layer outputs)");
    number("--attention-dropout", "attention_dropout", o.attention_dropout, "dropout probability on the attention weights");
    number("--eval-every", "eval_every", o.eval_every, "evaluate, log and checkpoint every N steps");
    number("--eval-batches", "eval_batches", o.eval_batches, "validation batches per evaluation");
    number("--seed", "seed", o.seed, "random seed (initialisation, batches, dropout)");
    number("--threads", "threads", o.threads, "threads (0: all cores; under MPI, shared among the machine's ranks)");
    number("--comm-timeout", "comm_timeout", o.comm_timeout,
           "under MPI: seconds a rank waits for the others before stopping the run, naming the missing rank");
    cmd->add_option("--precision", o.precision,
                    "f32 or bf16: the linear layers' products in bf16 (fp32 weights, optimizer and sums; needs a "
                    "CPU with AVX512-BF16, refused otherwise; default f32; on --resume, the run's own)")
        ->check(CLI::IsMember({"f32", "bf16"}));
    cmd->add_option("--norm-placement", o.norm_placement,
                    "pre or post: LayerNorm before or after each sub-layer (default: GPT and seq2seq pre, BERT post)")
        ->check(CLI::IsMember({"pre", "post"}));
    CLI::Option* resume = cmd->add_flag(
        "--resume", o.resume,
        "continue from OUT/checkpoint.safetensors with the options it records; flags that shape the model, the "
        "data or the seed must agree with them, the schedule's (--steps, --lr, ...) may change");
    cmd->add_flag("--overwrite", o.overwrite, "replace the run already in OUT (a fresh run refuses one otherwise)")
        ->excludes(resume);
    cmd->add_flag("--quiet", o.quiet, "no progress output");
    add_profile_option(cmd, *profiled);
    cmd->callback([cmd, opts, arch, config, profiled] {
        TrainOptions o = *opts;
        // Where unset flags come from: the --config file, over (on --resume) the options the
        // checkpoint records, over the defaults. The file's own "out" says where to resume.
        TrainOptions base;
        if (!config->empty()) base = read_train_options(*config, TrainOptions{});
        const std::string out = cmd->count("--out") ? o.out : base.out;
        if (o.resume) {
            if (out.empty()) throw CLI::RequiredError("--out (or \"out\" in --config)");
            base = recorded_train_options(out);
            if (!config->empty()) base = read_train_options(*config, base);
        }
        auto pick = [&](const char* flag, auto& field, const auto& base_value) {
            if (cmd->count(flag) == 0) field = base_value;
        };
        pick("--data", o.data, base.data), pick("--out", o.out, base.out);
        pick("--tokenizer", o.tokenizer, base.tokenizer);
        pick("--norm-placement", o.norm_placement, base.norm_placement);
        pick("--precision", o.precision, base.precision);
        pick("--layers", o.layers, base.layers), pick("--heads", o.heads, base.heads);
        pick("--kv-heads", o.kv_heads, base.kv_heads), pick("--dim", o.dim, base.dim);
        pick("--block-size", o.block_size, base.block_size);
        pick("--batch-size", o.batch_size, base.batch_size);
        pick("--grad-accum", o.grad_accum, base.grad_accum), pick("--steps", o.steps, base.steps);
        pick("--lr", o.lr, base.lr), pick("--min-lr", o.min_lr, base.min_lr);
        pick("--warmup", o.warmup, base.warmup), pick("--weight-decay", o.weight_decay, base.weight_decay);
        pick("--beta2", o.beta2, base.beta2), pick("--grad-clip", o.grad_clip, base.grad_clip);
        pick("--dropout", o.dropout, base.dropout), pick("--eval-every", o.eval_every, base.eval_every);
        pick("--attention-dropout", o.attention_dropout, base.attention_dropout);
        pick("--eval-batches", o.eval_batches, base.eval_batches), pick("--seed", o.seed, base.seed);
        pick("--threads", o.threads, base.threads), pick("--comm-timeout", o.comm_timeout, base.comm_timeout);
        o.beta1 = base.beta1, o.checkpoint_every = base.checkpoint_every;
        o.arch = cmd->count("--arch") ? train_arch(*arch) : base.arch;
        if (o.out.empty()) throw CLI::RequiredError("--out (or \"out\" in --config)");
        if (o.data.empty()) throw CLI::RequiredError("--data (or \"data\" in --config)");
        profile::enable(*profiled);
        const TrainResult r = train(o);
        profile::enable(false);
        if (r.rank != 0) return;  // under MPI, rank 0 alone reports
        if (!o.quiet) {
            std::fprintf(stderr, "done: %lld steps in %.1f s", (long long)r.steps_done, r.seconds);
            if (!r.val_losses.empty()) std::fprintf(stderr, ", final val loss %.4f", r.val_losses.back().second);
            std::fprintf(stderr, "; model in %s\n", o.out.c_str());
        }
        if (*profiled) print_profile();
    });
}

}  // namespace attend::cli
