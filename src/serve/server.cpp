// serve/server.cpp — load, bind, serve until a signal (serve/server.hpp).
#include "attend/serve/server.hpp"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "attend/error.hpp"
#include "attend/low_precision.hpp"
#include "attend/parallel.hpp"
#include "serve/routes.hpp"
#include "serve/scheduler.hpp"

namespace attend {

namespace {

// "stories260K.bin" → "stories260K"; a folder keeps its name.
std::string model_id(const std::string& path) {
    std::filesystem::path p(path);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" → "dir"
    if (std::filesystem::is_directory(p)) return p.filename().string();
    return p.stem().string();
}

// cpp-httplib 0.11 listens with a backlog of 5 (compiled into Debian's library): a burst of
// clients connecting at once overflows it and some get reset. Linux lets listen() be called
// again on the bound socket to raise it; the socket is the one of ours listening on `port`.
void widen_backlog(int port) {
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) return;
    while (const dirent* e = readdir(dir)) {
        const int fd = std::atoi(e->d_name);
        if (fd <= 2) continue;
        int listening = 0;
        socklen_t n = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &n) != 0 || !listening) continue;
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
        const int bound = addr.ss_family == AF_INET    ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
                          : addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                                       : -1;
        if (bound == port) ::listen(fd, SOMAXCONN);
    }
    closedir(dir);
}

}  // namespace

int run_server(const ServeOptions& o) {
    ATTEND_CHECK(o.parallel >= 1 && o.parallel <= 256, "--parallel must be in [1, 256], got ", o.parallel);
    ATTEND_CHECK(o.queue >= 0, "--queue must be ≥ 0, got ", o.queue);
    ATTEND_CHECK(o.port >= 0 && o.port <= 65535, "--port must be in [0, 65535], got ", o.port);
    // Before any thread starts (OpenMP's pool included, at the first parallel region of the
    // load), so every thread inherits it: SIGINT and SIGTERM reach only the waiting thread.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a client that hangs up is a failed write, not a dead server
    if (o.threads > 0) set_num_threads(o.threads);

    serve::ServedModel model(load_text_model(o.model, o.tokenizer, parse_weight_type(o.dtype), LoadOptions{.mmap = o.mmap}));
    model.path = o.model;
    model.id = model_id(o.model);
    {  // a folder's template, or the one beside a model file
        const std::filesystem::path where(o.model);
        model.chat_template = ChatTemplate::from_model_dir(std::filesystem::is_directory(where) ? where : where.parent_path());
    }
    model.created = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
    const int64_t max_positions = model.lm.loaded.config.max_positions;
    ATTEND_CHECK(o.ctx >= 0, "--ctx must be ≥ 0, got ", o.ctx);
    if (max_positions > 0 && o.ctx > max_positions)
        throw Error(o.model + ": --ctx " + std::to_string(o.ctx) + " is past the model's " +
                    std::to_string(max_positions) + " positions");
    model.ctx = o.ctx > 0 ? o.ctx : (max_positions > 0 ? max_positions : 4096);
    model.kv_cache = parse_weight_type(o.kv_cache);

    serve::Scheduler scheduler(model, o.parallel, o.queue, o.threads);
    httplib::Server server;
    // One pool thread per connection that may be waiting at once: every slot, the queue, and
    // a few for /health and the like — so a full server answers 503 instead of leaving a
    // connection unserved.
    const size_t pool = size_t(o.parallel + o.queue + 8);
    server.new_task_queue = [pool] { return new httplib::ThreadPool(pool); };
    server.set_payload_max_length(o.max_body_bytes);
    server.set_read_timeout(30, 0);
    server.set_write_timeout(30, 0);
    server.set_keep_alive_timeout(5);
    serve::install_routes(server, model, scheduler, {o.api_key, o.threads});

    const int port = o.port == 0 ? server.bind_to_any_port(o.host) : (server.bind_to_port(o.host, o.port) ? o.port : -1);
    if (port < 0) throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use, or no such address)");
    widen_backlog(port);
    if (o.on_listening) o.on_listening(port);

    // The signal: cancel what runs, then close the listener (listen_after_bind returns).
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        scheduler.stop();
        server.stop();
    });
    const bool ok = server.listen_after_bind();
    if (!ok) pthread_kill(waiter.native_handle(), SIGTERM);  // the listener failed by itself: wake the waiter
    waiter.join();
    scheduler.stop();
    return ok ? 0 : 1;
}

}  // namespace attend
