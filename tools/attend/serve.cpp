// tools/attend/serve.cpp — `attend serve --model PATH`: an OpenAI-compatible HTTP server
// (attend/serve/server.hpp; README, "Serve a model").
#include <cstdio>
#include <memory>
#include <string>

#include "attend/serve/server.hpp"
#include "commands.hpp"

namespace attend::cli {

void register_serve(CLI::App& app) {
    auto o = std::make_shared<ServeOptions>();
    auto model = std::make_shared<ModelOptions>();
    CLI::App* cmd = app.add_subcommand("serve", "Serve a model over HTTP with OpenAI's API (continuous batching)");
    cmd->footer(
        "\nEndpoints: GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions,\n"
        "POST /v1/embeddings, POST /tokenize, POST /detokenize. Binds 127.0.0.1 unless --host says\n"
        "otherwise; prints \"attend serve: listening on http://HOST:PORT\" once ready (--port 0: any\n"
        "free port). SIGINT or SIGTERM cancels what is running and exits.\n\n"
        "Example:\n"
        "  attend serve --model stories260K/stories260K.bin --port 8080 --parallel 8\n"
        "  curl http://127.0.0.1:8080/v1/completions -H 'Content-Type: application/json' \\\n"
        "       -d '{\"prompt\": \"Once upon a time\", \"max_tokens\": 40, \"temperature\": 0}'");
    add_model_options(cmd, *model, DtypeOption::offered);
    add_kv_cache_option(cmd, o->kv_cache);
    cmd->add_option("--host", o->host, "Address to bind")->capture_default_str();
    cmd->add_option("--port", o->port, "Port (0: any free port)")->check(CLI::Range(0, 65535))->capture_default_str();
    cmd->add_option("--api-key", o->api_key, "Require \"Authorization: Bearer KEY\" on every request");
    cmd->add_option("--parallel", o->parallel, "Sequences decoded together (slots)")
        ->check(CLI::Range(int64_t(1), int64_t(256)))
        ->capture_default_str();
    cmd->add_option("--ctx", o->ctx, "Positions per sequence (0: the model's context)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--threads", o->threads, "Threads per forward pass (0: all cores)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--queue", o->queue, "Requests that may wait for a slot (more: 503)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--max-body", o->max_body_bytes, "Largest request body in bytes (more: 413)")
        ->check(CLI::Range(size_t(1024), size_t(1) << 30))
        ->capture_default_str();
    cmd->callback([o, model] {
        ServeOptions opts = *o;
        // run_server loads it as ModelOptions::load does (load_text_model).
        opts.model = model->model;
        opts.tokenizer = model->tokenizer;
        opts.dtype = model->dtype;
        opts.mmap = model->mmap;
        opts.on_listening = [&opts](int port) {
            std::printf("attend serve: listening on http://%s:%d\n", opts.host.c_str(), port);
            std::fflush(stdout);
        };
        const int rc = run_server(opts);
        std::fprintf(stderr, "attend serve: stopped\n");
        if (rc != 0) throw CLI::RuntimeError(rc);
    });
}

}  // namespace attend::cli
