// tests/support/cli.hpp — running the real `attend` binary the way a user would.
#pragma once
#include <string>

namespace attend::testing {

struct CliRun {
    int status = -1;      // exit code (128 + signal when killed)
    std::string output;   // stdout and stderr together
    double seconds = 0;   // wall time
};

// Runs `<attend> args 2>&1` through the shell: `args` is pasted into the command line, so
// quote as needed.
CliRun run_cli(const std::string& args);

}  // namespace attend::testing
