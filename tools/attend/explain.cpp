// placeholder until the explain command lands (being written now)
#include "commands.hpp"
namespace attend::cli {
void register_explain(CLI::App& app) { app.add_subcommand("explain", "Walk through self-attention step by step"); }
}
