// tools/attend/commands.hpp — each subcommand registers itself on the app (its own file).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>

#include "options.hpp"  // the options several commands share

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

}
