// tools/attend/commands.hpp — each subcommand registers itself on the app (its own file).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>

namespace attend::cli {
void register_explain(CLI::App& app);  // explain.cpp
void register_demo(CLI::App& app);     // demo.cpp
void explain_sentence(const std::string& text);  // explain.cpp: the basic walkthrough, as `attend explain TEXT`
void register_train(CLI::App& app);    // train.cpp
void register_generate(CLI::App& app);    // generate.cpp
void register_tokenize(CLI::App& app);    // tokenize.cpp
void register_perplexity(CLI::App& app);  // perplexity.cpp
void register_encode(CLI::App& app);      // encode.cpp
void register_viz(CLI::App& app);         // viz.cpp
void register_bench(CLI::App& app);       // bench.cpp
void register_convert(CLI::App& app);     // convert.cpp
void register_chat_template(CLI::App& app);  // chat_template.cpp
void register_serve(CLI::App& app);       // serve.cpp

// Options shared by the commands that run a model (options.cpp).
void add_dtype_option(CLI::App* cmd, std::string& dtype);  // --dtype f32|bf16|int8
void add_profile_option(CLI::App* cmd, bool& profile);     // --profile: time per phase and op kind
// Flag ranges, checked where a flag is declared (before anything runs): a value out of range is
// one line naming the flag and the value ("--top-p: got 1.5, expected a finite number in (0, 1]").
CLI::Validator whole_number(uint64_t min, uint64_t max);  // digits only: never a sign, a fraction or an exponent
CLI::Validator real_number(double min, double max, bool min_open = false, bool max_open = false);  // finite
inline constexpr uint64_t kMaxSeed = ~uint64_t(0);
// The --profile table (attend/profile.hpp's report), then `extra`, on stderr: stdout stays the run's.
void print_profile(const std::string& extra = "");
}
