// train/train_options.hpp — `attend train`'s options, spelled once.
//
// One table (train_option_table, src/train/train_options.cpp) names every option: its key
// (the --config / checkpoint JSON key; the flag is the key with - for _: block_size →
// --block-size), the TrainOptions member it sets, its default, its help line and what it
// accepts (a range, or a list of choices). From that table alone come
//   TrainOptions' defaults         (its constructor)
//   the --config file's reader     (parse_train_options: each value's type and range checked)
//   the checkpoint's record        (train_options_to_json: the options marked `recorded`)
//   the CLI's flags and --help     (tools/attend/train.cpp)
//   the range check of any caller  (check_train_options: flags, --config, the library)
//   what a resume must keep        (check_resume_options: the options marked `kept`)
// so an option added to the table is settable everywhere, checked everywhere, and recorded.
//
// Implemented in src/train/train_options.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

namespace attend {

enum class TrainArch { gpt, bert, seq2seq };
const char* train_arch_name(TrainArch arch);  // "gpt" | "bert" | "seq2seq"
TrainArch train_arch(const std::string& name);  // the inverse; an Error for any other name

struct TrainOptions {
    TrainOptions();  // every option at the table's default

    // ---- the table's options (their defaults and meanings: train_option_table) ----
    TrainArch arch;
    std::string data;       // text file (gpt, bert), a .bin uint16 token file (gpt, bert; needs
                            // `tokenizer`), or tab-separated pairs (seq2seq)
    std::string tokenizer;  // a tokenizer file or folder (load_tokenizer); empty: characters of the data
    std::string out;        // output folder (created)
    std::string norm_placement;  // "pre" | "post"; empty: the architecture's own (BERT post, GPT and seq2seq pre)
    int64_t layers, heads, kv_heads, dim, block_size;
    int64_t batch_size, steps, grad_accum;
    float lr, min_lr;  // min_lr -1: lr / 10
    int64_t warmup;
    float weight_decay, beta1, beta2, grad_clip, dropout;
    float attention_dropout;  // on the attention weights (TransformerConfig::attention_dropout)
    int64_t eval_every, eval_batches, checkpoint_every;  // checkpoint_every 0: at each evaluation
    uint64_t seed;
    int threads;         // 0: leave the pool as it is (under MPI: the machine's cores shared among its ranks)
    float comm_timeout;  // seconds a rank waits for the others in a sum before stopping the run
    // "f32" | "bf16": the linear layers' products in bf16 mixed precision (fp32 master weights
    // and optimizer; attend/matmul_precision.hpp); bf16 is an Error on a CPU without
    // AVX512-BF16. Recorded in the checkpoint; may change on resume.
    std::string precision;
    bool resume;         // continue from out/checkpoint.safetensors
    bool overwrite;      // a fresh run may replace the run already in `out`
    bool quiet;          // no progress output

    // ---- for library callers only (no flag, no key, never recorded) ----
    int64_t stop_after = -1;  // stop (with a checkpoint) after this many steps of the schedule; -1: run all
    int progress = -1;        // 1: bar, 0: plain lines, -1: bar when stderr is a terminal
    // Called after every optimizer step with (steps done, that step's loss, its learning rate);
    // false stops the run there, with a checkpoint (as stop_after does). An exception it throws
    // ends train() with that exception (the Python bindings' Ctrl-C).
    std::function<bool(int64_t step, float loss, float lr)> on_step;
};

// One row of the table.
struct TrainOption {
    using Field = std::variant<int64_t TrainOptions::*, uint64_t TrainOptions::*, int TrainOptions::*,
                               float TrainOptions::*, bool TrainOptions::*, std::string TrainOptions::*,
                               TrainArch TrainOptions::*>;
    const char* key;  // --config / checkpoint key; the flag is flag() below
    Field field;
    const char* default_text;  // as a flag would spell it ("" for an empty string, "false" for a switch)
    const char* help;          // the --help line
    // What a value may be. Numbers: whole (no sign, no exponent: "-1" never wraps into a huge
    // unsigned value) or finite reals, in [min, max] (an end open where said); `meaning` says
    // what the number is, for the message. Text with `choices` ("a|b|c"): one of them.
    const char* meaning = "";
    double min = 0, max = 0;
    bool min_open = false, max_open = false;
    const char* choices = nullptr;
    const char* unset = nullptr;  // a value outside the range that means "not set" (min_lr's -1); not a flag's
    bool recorded = false;  // kept in the checkpoint's "train_options"
    bool kept = false;      // a resumed run must agree with the checkpoint on it (the model, the data, the seed)
    bool path = false;      // recorded absolute, so that a resume from another directory finds it

    std::string flag() const;  // "--block-size"
    bool is_switch() const { return std::holds_alternative<bool TrainOptions::*>(field); }
};
const std::vector<TrainOption>& train_option_table();
const TrainOption* find_train_option(const std::string& key);  // by key ("block_size") or flag ("--block-size")

// Why `text` is no valid value for `option`, as "got -1, expected a learning rate: a finite
// number > 0"; empty when it is fine. `unset_ok`: whether the option's `unset` value passes.
std::string train_option_problem(const TrainOption& option, const std::string& text, bool unset_ok = false);
// The same by key ("lr", "layers", ... as in --config); empty for an unknown key.
std::string train_option_problem(const std::string& key, const std::string& text);
// Sets `option` in `o` from a flag's text: an Error "--lr: got ..., expected ..." when it is bad.
void set_train_option(TrainOptions& o, const TrainOption& option, const std::string& text);
// The value of `option` in `o` as a flag would spell it.
std::string train_option_text(const TrainOptions& o, const TrainOption& option);

// Reads options from a JSON file whose keys are the table's ("layers", "lr", "arch": "gpt", ...),
// over `defaults`. Each value's type and range checked: one line naming the file, the key
// and the flag.
TrainOptions read_train_options(const std::string& path, TrainOptions defaults = {});
// The same from the file's text (`path` names it in errors).
TrainOptions parse_train_options(const std::string& json_text, const std::string& path, TrainOptions defaults = {});
// Every option in range, dim divisible by heads, heads by kv_heads, not both resume and
// overwrite: else an Error naming the flag and the value ("--lr: got -1, expected ...").
void check_train_options(const TrainOptions& options);
// The options as the checkpoint records them (metadata "train_options"; paths absolute).
std::string train_options_to_json(const TrainOptions& options);
// The options recorded in out/checkpoint.safetensors (what --resume starts from).
TrainOptions recorded_train_options(const std::string& out);
// An Error naming both values when `options` contradicts `recorded` on an option marked
// `kept` (what makes the model, the data and the seed).
void check_resume_options(const TrainOptions& options, const TrainOptions& recorded, const std::string& checkpoint);

}  // namespace attend
