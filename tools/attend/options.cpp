// tools/attend/options.cpp — options that several subcommands share, spelled once.
#include "commands.hpp"

namespace attend::cli {

void add_dtype_option(CLI::App* cmd, std::string& dtype) {
    cmd->add_option("--dtype", dtype,
                    "Weights for inference: f32, bf16 (half the bytes) or int8 (a scale per 32 values); the "
                    "model's matrices are converted after loading")
        ->check(CLI::IsMember({"f32", "bf16", "int8"}))
        ->capture_default_str();
}

}  // namespace attend::cli
