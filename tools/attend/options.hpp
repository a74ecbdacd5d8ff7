// tools/attend/options.hpp — options that several subcommands share, spelled once (options.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "attend/generate/text_model.hpp"

namespace attend::cli {

// The model a command runs (generate, perplexity, encode, viz, serve): --model PATH (required),
// --tokenizer PATH (default: the one found beside the model), --mmap and, where the command
// offers it, --dtype f32|bf16|int8. One help text for every command and one loading path, so a model
// that one command loads every other one loads the same way.
struct ModelOptions {
    std::string model, tokenizer;
    std::string dtype = "f32";
    bool mmap = false;  // --mmap (LoadOptions::mmap)

    TextModel load() const;  // load_text_model(model, tokenizer, dtype)
    // load(), then an Error naming the model unless it is a decoder with an lm head.
    TextModel load_language_model() const;
};
enum class DtypeOption { offered, not_offered };
void add_model_options(CLI::App* cmd, ModelOptions& o, DtypeOption dtype);

void add_dtype_option(CLI::App* cmd, std::string& dtype);  // --dtype f32|bf16|int8
void add_kv_cache_option(CLI::App* cmd, std::string& kv_cache);  // --kv-cache f32|bf16
void add_profile_option(CLI::App* cmd, bool& profile);     // --profile: time per phase and op kind
// Flag ranges, checked where a flag is declared (before anything runs): a value out of range is
// one line naming the flag and the value ("--top-p: got 1.5, expected a finite number in (0, 1]").
CLI::Validator whole_number(uint64_t min, uint64_t max);  // digits only: never a sign, a fraction or an exponent
CLI::Validator real_number(double min, double max, bool min_open = false, bool max_open = false);  // finite
inline constexpr uint64_t kMaxSeed = ~uint64_t(0);
// The --profile table (attend/profile.hpp's report), then `extra`, on stderr: stdout stays the run's.
void print_profile(const std::string& extra = "");

}  // namespace attend::cli
