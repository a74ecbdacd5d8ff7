#include "support/cli.hpp"

#include <sys/wait.h>

#include <chrono>
#include <cstdio>

namespace attend::testing {

CliRun run_cli(const std::string& args) {
    const std::string command = std::string(ATTEND_CLI) + " " + args + " 2>&1";
    CliRun run;
    const auto start = std::chrono::steady_clock::now();
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return run;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) run.output.append(buffer, n);
    const int status = pclose(pipe);
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return run;
}

}  // namespace attend::testing
