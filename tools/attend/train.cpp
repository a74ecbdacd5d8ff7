// tools/attend/train.cpp — `attend train`: flags (or a JSON config) → train() → a model folder.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "attend/profile.hpp"
#include "attend/train/trainer.hpp"
#include "commands.hpp"

namespace attend::cli {

void register_train(CLI::App& app) {
    auto* cmd = app.add_subcommand("train", "train a GPT, BERT (masked LM) or seq2seq Transformer from scratch");
    auto opts = std::make_shared<TrainOptions>();
    auto arch = std::make_shared<std::string>("gpt");
    auto config = std::make_shared<std::string>();
    auto profiled = std::make_shared<bool>(false);
    TrainOptions& o = *opts;
    cmd->add_option("--arch", *arch, "gpt (causal LM on text) | bert (masked LM on text) | seq2seq (TSV pairs)")
        ->check(CLI::IsMember({"gpt", "bert", "seq2seq"}));
    cmd->add_option("--data", o.data,
                    "text file (gpt, bert), FILE.bin of uint16 tokens from `attend tokenize --out` (gpt, bert; "
                    "with --tokenizer), or tab-separated source/target lines (seq2seq)");
    cmd->add_option("--tokenizer", o.tokenizer,
                    "tokenizer file or folder (vocab.json, vocab.txt, tokenizer.json, tokenizer.bin, ...); "
                    "default: the characters of the data");
    cmd->add_option("--out", o.out, "output folder: checkpoint, model, loss.csv, loss.png");
    cmd->add_option("--config", *config, "JSON file of options (keys as the flags, with _ for -); flags given too win");
    cmd->add_option("--layers", o.layers, "transformer layers (encoder and decoder each, for seq2seq)")->capture_default_str();
    cmd->add_option("--heads", o.heads, "attention heads")->capture_default_str();
    cmd->add_option("--kv-heads", o.kv_heads, "key/value heads (GQA); 0 = heads")->capture_default_str();
    cmd->add_option("--dim", o.dim, "model width d_model")->capture_default_str();
    cmd->add_option("--block-size", o.block_size, "context length")->capture_default_str();
    cmd->add_option("--batch-size", o.batch_size, "sequences per micro-batch")->capture_default_str();
    cmd->add_option("--grad-accum", o.grad_accum, "micro-batches per optimizer step")->capture_default_str();
    cmd->add_option("--steps", o.steps, "optimizer steps")->capture_default_str();
    cmd->add_option("--lr", o.lr, "peak learning rate")->capture_default_str();
    cmd->add_option("--min-lr", o.min_lr, "final learning rate of the cosine decay (default lr/10)");
    cmd->add_option("--warmup", o.warmup, "linear warm-up steps")->capture_default_str();
    cmd->add_option("--weight-decay", o.weight_decay, "AdamW decoupled weight decay (matrices only)")->capture_default_str();
    cmd->add_option("--beta2", o.beta2, "AdamW β2")->capture_default_str();
    cmd->add_option("--grad-clip", o.grad_clip, "clip the global gradient norm (0: off)")->capture_default_str();
    cmd->add_option("--dropout", o.dropout, "dropout probability (embeddings, sub-layer outputs)")->capture_default_str();
    cmd->add_option("--attention-dropout", o.attention_dropout, "dropout probability on the attention weights")
        ->capture_default_str();
    cmd->add_option("--eval-every", o.eval_every, "evaluate, log and checkpoint every N steps")->capture_default_str();
    cmd->add_option("--eval-batches", o.eval_batches, "validation batches per evaluation")->capture_default_str();
    cmd->add_option("--seed", o.seed, "random seed (initialisation, batches, dropout)")->capture_default_str();
    cmd->add_option("--threads", o.threads, "threads (0: all cores)")->capture_default_str();
    cmd->add_option("--norm-placement", o.norm_placement,
                    "pre or post: LayerNorm before or after each sub-layer (default: GPT and seq2seq pre, BERT post)")
        ->check(CLI::IsMember({"pre", "post"}));
    cmd->add_flag("--resume", o.resume, "continue from OUT/checkpoint.safetensors");
    cmd->add_flag("--quiet", o.quiet, "no progress output");
    add_profile_option(cmd, *profiled);
    cmd->callback([cmd, opts, arch, config, profiled] {
        TrainOptions o = *opts;
        if (!config->empty()) {
            // The file supplies the options; any flag given on the command line overrides it.
            TrainOptions from_file = read_train_options(*config, TrainOptions{});
            auto pick = [&](const char* flag, auto& field, const auto& file_value) {
                if (cmd->count(flag) == 0) field = file_value;
            };
            pick("--data", o.data, from_file.data), pick("--out", o.out, from_file.out);
            pick("--tokenizer", o.tokenizer, from_file.tokenizer);
            pick("--norm-placement", o.norm_placement, from_file.norm_placement);
            pick("--layers", o.layers, from_file.layers), pick("--heads", o.heads, from_file.heads);
            pick("--kv-heads", o.kv_heads, from_file.kv_heads), pick("--dim", o.dim, from_file.dim);
            pick("--block-size", o.block_size, from_file.block_size);
            pick("--batch-size", o.batch_size, from_file.batch_size);
            pick("--grad-accum", o.grad_accum, from_file.grad_accum), pick("--steps", o.steps, from_file.steps);
            pick("--lr", o.lr, from_file.lr), pick("--min-lr", o.min_lr, from_file.min_lr);
            pick("--warmup", o.warmup, from_file.warmup), pick("--weight-decay", o.weight_decay, from_file.weight_decay);
            pick("--beta2", o.beta2, from_file.beta2), pick("--grad-clip", o.grad_clip, from_file.grad_clip);
            pick("--dropout", o.dropout, from_file.dropout), pick("--eval-every", o.eval_every, from_file.eval_every);
            pick("--attention-dropout", o.attention_dropout, from_file.attention_dropout);
            pick("--eval-batches", o.eval_batches, from_file.eval_batches), pick("--seed", o.seed, from_file.seed);
            pick("--threads", o.threads, from_file.threads);
            o.beta1 = from_file.beta1, o.checkpoint_every = from_file.checkpoint_every;
            o.arch = cmd->count("--arch") ? train_arch(*arch) : from_file.arch;
        } else {
            o.arch = train_arch(*arch);
        }
        if (o.data.empty()) throw CLI::RequiredError("--data (or \"data\" in --config)");
        if (o.out.empty()) throw CLI::RequiredError("--out (or \"out\" in --config)");
        profile::enable(*profiled);
        const TrainResult r = train(o);
        profile::enable(false);
        if (!o.quiet) {
            std::fprintf(stderr, "done: %lld steps in %.1f s", (long long)r.steps_done, r.seconds);
            if (!r.val_losses.empty()) std::fprintf(stderr, ", final val loss %.4f", r.val_losses.back().second);
            std::fprintf(stderr, "; model in %s\n", o.out.c_str());
        }
        if (*profiled) print_profile();
    });
}

}  // namespace attend::cli
