// tools/attend/commands.hpp — each subcommand registers itself on the app (its own file).
#pragma once
#include <CLI/CLI.hpp>

namespace attend::cli {
void register_explain(CLI::App& app);  // explain.cpp
}
