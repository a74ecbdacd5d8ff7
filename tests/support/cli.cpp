#include "support/cli.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "support/files.hpp"

namespace attend::testing {

CliRun run_cli(const std::string& args, const CliOptions& options, const CliEnvironment& environment) {
    CliRun run;
    std::string error_path;
    if (options.separate_stderr) {
        std::string pattern = (std::filesystem::temp_directory_path() / "attend_cli_stderr_XXXXXX").string();
        const int fd = mkstemp(pattern.data());
        if (fd < 0) return run;
        ::close(fd);
        error_path = pattern;
    }
    // Appended piece by piece: GCC 12 warns falsely on " 2>" + string&& (-Warray-bounds).
    std::string command;
    for (const auto& [name, value] : environment) command += name + "=" + shell_quote(value) + " ";
    command += std::string(ATTEND_CLI) + " " + args + " <";
    command += options.stdin_path.empty() ? std::string("/dev/null") : shell_quote(options.stdin_path);
    if (error_path.empty()) {
        command += " 2>&1";
    } else {
        command += " 2>";
        command += shell_quote(error_path);
    }
    const auto start = std::chrono::steady_clock::now();
    if (FILE* pipe = popen(command.c_str(), "r")) {
        char buffer[4096];
        size_t n;
        while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) run.output.append(buffer, n);
        const int status = pclose(pipe);
        run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!error_path.empty()) {
        run.error = read_file(error_path);
        std::filesystem::remove(error_path);
    }
    return run;
}

}  // namespace attend::testing
