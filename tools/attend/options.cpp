// tools/attend/options.cpp — options that several subcommands share, spelled once.
#include <cstdio>

#include "attend/profile.hpp"
#include "commands.hpp"

namespace attend::cli {

void add_dtype_option(CLI::App* cmd, std::string& dtype) {
    cmd->add_option("--dtype", dtype,
                    "Weights for inference: f32, bf16 (half the bytes) or int8 (a scale per 32 values); the "
                    "model's matrices are converted after loading")
        ->check(CLI::IsMember({"f32", "bf16", "int8"}))
        ->capture_default_str();
}

void add_profile_option(CLI::App* cmd, bool& profile) {
    cmd->add_flag("--profile", profile,
                  "After the run, print to stderr the time per phase and per op kind (calls, self time, share, "
                  "mean per call)");
}

void print_profile(const std::string& extra) {
    std::fflush(stdout);  // the run's own output first, when both go to one terminal
    const std::string table = profile::report() + extra;
    std::fputs(table.c_str(), stderr);
}

}  // namespace attend::cli
