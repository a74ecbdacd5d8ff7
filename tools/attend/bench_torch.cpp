// tools/attend/bench_torch.cpp — PyTorch's side of `attend bench`: bench/bench_torch.py
// in a child process, one per thread count, spoken to one JSON line at a time (the protocol
// is in the script's docstring).
//
// A child per thread count because the BLAS's thread count is best fixed before it starts:
// the child's environment (and only the child's — never ours, the tests' or CI's) gets
//   OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = threads
//   LD_LIBRARY_PATH      = Debian's OpenMP OpenBLAS first, when installed (libopenblas0-openmp):
//                          torch's libblas.so.3 then shares torch's OpenMP pool instead of
//                          running a second, pthread one beside it
//   OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE removed, so OpenBLAS picks the kernels for this CPU
// Its stderr goes to a temporary file: when it dies, the last line there (say
// "ModuleNotFoundError: No module named 'torch'") is the reason printed in the table;
// otherwise it is copied to our stderr at the end.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "attend/error.hpp"
#include "attend/read_file.hpp"
#include "bench.hpp"

extern char** environ;

namespace attend::cli::bench {
namespace {

constexpr const char* kOpenMpOpenBlas = "/usr/lib/x86_64-linux-gnu/openblas-openmp";

bool is_directory(const char* path) {
    struct stat st{};
    return ::stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

std::vector<std::string> torch_environment(int threads) {
    std::vector<std::string> env = {"OPENBLAS_NUM_THREADS=" + std::to_string(threads),
                                    "OMP_NUM_THREADS=" + std::to_string(threads)};
    if (is_directory(kOpenMpOpenBlas)) {
        const char* old = std::getenv("LD_LIBRARY_PATH");
        env.push_back(std::string("LD_LIBRARY_PATH=") + kOpenMpOpenBlas + (old && *old ? std::string(":") + old : ""));
    }
    return env;
}

TorchChild::TorchChild(const std::string& python, const std::string& script, int threads) {
    if (::access(python.c_str(), X_OK) != 0) {
        reason_ = "no Python interpreter at " + python;
        return;
    }
    if (::access(script.c_str(), R_OK) != 0) {
        reason_ = "no script at " + script + " (--torch-script)";
        return;
    }
    // The environment: ours, less what the child must not inherit, plus its own settings.
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        const std::string entry = *e;
        if (starts_with(entry, "OPENBLAS_CORETYPE=") || starts_with(entry, "OPENBLAS_L2_SIZE=") ||
            starts_with(entry, "OPENBLAS_NUM_THREADS=") || starts_with(entry, "OMP_NUM_THREADS=") ||
            starts_with(entry, "LD_LIBRARY_PATH="))
            continue;
        env.push_back(entry);
    }
    for (const std::string& e : torch_environment(threads)) env.push_back(e);
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    char stderr_template[] = "/tmp/attend-bench-torch-XXXXXX";
    const int err_fd = ::mkstemp(stderr_template);
    if (err_fd < 0) {
        reason_ = std::string("cannot create a temporary file: ") + std::strerror(errno);
        return;
    }
    stderr_path_ = stderr_template;
    int in_pipe[2], out_pipe[2];  // [0] read end, [1] write end
    if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) {
        ::close(err_fd);
        reason_ = std::string("pipe: ") + std::strerror(errno);
        return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
    const std::string threads_arg = std::to_string(threads);
    std::vector<char*> argv = {const_cast<char*>(python.c_str()), const_cast<char*>("-u"),
                               const_cast<char*>(script.c_str()), const_cast<char*>("--threads"),
                               const_cast<char*>(threads_arg.c_str()), nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, python.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_fd);
    if (rc != 0) {
        ::close(in_pipe[1]);
        ::close(out_pipe[0]);
        reason_ = "cannot start " + python + ": " + std::strerror(rc);
        return;
    }
    pid_ = pid;
    to_child_ = in_pipe[1];
    from_child_ = ::fdopen(out_pipe[0], "r");
    // The first line says it is ready (torch imported, threads set) and which BLAS it got.
    char* line = nullptr;
    size_t capacity = 0;
    if (::getline(&line, &capacity, from_child_) < 0) {
        std::free(line);
        fail("it exited before it was ready");
        return;
    }
    hello_ = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::free(line);
    if (!hello_.is_object() || !hello_.value("ready", false)) fail("its first line was not {\"ready\": true, ...}");
}

std::string TorchChild::stderr_tail() const {
    std::ifstream in(stderr_path_);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last;
}

void TorchChild::fail(const std::string& why) {
    const std::string tail = stderr_tail();
    reason_ = "bench_torch.py: " + why + (tail.empty() ? "" : " (" + tail + ")");
    if (to_child_ >= 0) ::close(to_child_);
    if (from_child_) std::fclose(from_child_);
    to_child_ = -1, from_child_ = nullptr;
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
}

nlohmann::json TorchChild::request(const nlohmann::json& r) {
    if (!available()) return {{"error", reason_}};
    const std::string text = r.dump() + "\n";
    size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(to_child_, text.data() + written, text.size() - written);
        if (n <= 0) {
            fail("it stopped reading requests");
            return {{"error", reason_}};
        }
        written += size_t(n);
    }
    char* line = nullptr;
    size_t capacity = 0;
    if (::getline(&line, &capacity, from_child_) < 0) {
        std::free(line);
        fail("it exited during " + r.value("op", std::string("a request")));
        return {{"error", reason_}};
    }
    nlohmann::json reply = nlohmann::json::parse(line, nullptr, false);
    std::free(line);
    if (!reply.is_object()) return {{"error", "bench_torch.py answered something that is not a JSON object"}};
    return reply;
}

TorchChild::~TorchChild() {
    if (available()) {
        static const char quit[] = "{\"op\": \"quit\"}\n";
        (void)!::write(to_child_, quit, sizeof quit - 1);
        ::close(to_child_);
        std::fclose(from_child_);
        ::waitpid(pid_, nullptr, 0);
    }
    if (!stderr_path_.empty()) {
        std::string text;
        try {
            text = read_file(stderr_path_, "log");
        } catch (const Error&) {  // a destructor: torch's warnings are a courtesy, not worth a throw
        }
        if (!text.empty()) std::fprintf(stderr, "%s", text.c_str());  // torch's own warnings
        std::remove(stderr_path_.c_str());
    }
}

}  // namespace attend::cli::bench
