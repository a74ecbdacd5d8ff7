// tests/support/cli.hpp — running the real `attend` binary the way a user would.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace attend::testing {

struct CliRun {
    int status = -1;      // exit code (128 + signal when killed)
    std::string output;   // stdout, and stderr too unless CliOptions::separate_stderr
    std::string error;    // stderr, when CliOptions::separate_stderr
    double seconds = 0;   // wall time
};

struct CliOptions {
    std::string stdin_path;        // the file on standard input; "" → /dev/null
    bool separate_stderr = false;  // stderr into CliRun::error instead of CliRun::output
};

// Variables set for one run only (NAME=value before the command), e.g. {{"ATTEND_MAX_ISA", "avx2"}}.
using CliEnvironment = std::vector<std::pair<std::string, std::string>>;

// Runs `<attend> args` through the shell: `args` is pasted into the command line, so quote
// as needed (shell_quote in support/files.hpp). Standard input is never the terminal's.
CliRun run_cli(const std::string& args, const CliOptions& options = {}, const CliEnvironment& environment = {});

}  // namespace attend::testing
