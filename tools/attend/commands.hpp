// tools/attend/commands.hpp — each subcommand registers itself on the app (its own file).
#pragma once
#include <CLI/CLI.hpp>

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
void register_serve(CLI::App& app);       // serve.cpp

// Options shared by the commands that run a model (options.cpp).
void add_dtype_option(CLI::App* cmd, std::string& dtype);  // --dtype f32|bf16|int8
void add_profile_option(CLI::App* cmd, bool& profile);     // --profile: time per phase and op kind
// The --profile table (attend/profile.hpp's report), then `extra`, on stderr: stdout stays the run's.
void print_profile(const std::string& extra = "");
}
