// serve/server.hpp — `attend serve`: an OpenAI-compatible HTTP server for one model, with
// continuous batching (README, "Serve a model").
//
//   GET  /health, /v1/models
//   POST /v1/completions, /v1/chat/completions (streamed as server-sent events on request)
//   POST /v1/embeddings, /tokenize, /detokenize (llama.cpp's server's shapes)
//
// run_server() loads the model, binds host:port (port 0: any free one), calls on_listening with
// the bound port, and serves until SIGINT or SIGTERM: then in-flight requests are cancelled
// (a stream ends with an error event and [DONE], a waiting request gets 503), the listener
// closes and run_server() returns 0. Both signals are blocked in the calling thread for the
// duration (every thread the server starts inherits that; one thread waits for them).
//
// Implemented in src/serve/server.cpp (routes: routes.cpp, batching: scheduler.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace attend {

struct ServeOptions {
    std::string model, tokenizer;      // as attend generate takes them
    std::string dtype = "f32";         // weights: f32, bf16 or int8
    std::string kv_cache = "f32";      // what the KV caches hold: f32 or bf16
    bool mmap = false;                 // LoadOptions::mmap
    std::string host = "127.0.0.1";
    int port = 8080;                   // 0: any free port
    std::string api_key;               // non-empty: every request needs "Authorization: Bearer KEY"
    int64_t parallel = 4;              // sequences decoded together (slots)
    int64_t ctx = 0;                   // positions per sequence; 0: the model's max_positions
    int threads = 0;                   // 0: all cores
    int64_t queue = 64;                // requests waiting for a slot at most (then 503)
    size_t max_body_bytes = size_t(1) << 20;
    std::function<void(int port)> on_listening;
};

int run_server(const ServeOptions& options);

}  // namespace attend
