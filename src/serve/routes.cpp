// serve/routes.cpp — the endpoints (serve/routes.hpp).
#include "serve/routes.hpp"

#include "attend/autograd.hpp"
#include "attend/error.hpp"
#include "attend/generate/embed.hpp"
#include "attend/parallel.hpp"
#include "serve/api_error.hpp"
#include "serve/request.hpp"
#include "serve/responses.hpp"
#include "serve/sse.hpp"

namespace attend::serve {

using nlohmann::json;

namespace {

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
    if (e.status == 503) res.set_header("Retry-After", "1");
    send_json(res, e.status, error_body(e));
}

// Runs a handler; what it throws becomes an OpenAI error object (never a dropped connection).
template <class F>
httplib::Server::Handler guarded(F f) {
    return [f](const httplib::Request& req, httplib::Response& res) {
        try {
            f(req, res);
        } catch (const ApiError& e) {
            send_error(res, e);
        } catch (const attend::Error& e) {  // tokenizer or model refusing the input
            send_error(res, ApiError(400, e.what()));
        } catch (const std::exception& e) {
            send_error(res, ApiError(500, e.what(), "", "internal_error", "server_error"));
        }
    };
}

void generation(const ServedModel& model, Scheduler& scheduler, const httplib::Request& req, httplib::Response& res,
                bool chat) {
    const json body = parse_body(req.body);
    const GenerationRequest r = chat ? parse_chat(model, body) : parse_completion(model, body);
    auto job = std::make_shared<Job>();
    job->prompt = r.prompt;
    job->sampling = r.sampling;
    job->seed = r.seed;
    job->max_tokens = r.max_tokens;
    job->stop = r.stop;
    job->logprobs = r.logprobs;
    if (!scheduler.submit(job))
        throw ApiError(503, "The server is busy: every slot and the queue are full; retry later", "", "server_busy",
                       "server_error");
    const ResponseHeader header = new_header(model, chat);
    if (r.stream) return respond_streaming(res, model, job, r, header);

    std::unique_lock lock(job->mutex);
    job->changed.wait(lock, [&] { return job->done; });
    if (!job->error.empty()) throw ApiError(500, job->error, "", "generation_failed", "server_error");
    if (job->finish_reason == "cancelled")
        throw ApiError(503, "The request was cancelled: the server is stopping", "", "cancelled", "server_error");
    send_json(res, 200,
              full_response(model, header, r, job->events, job->tail, job->finish_reason, job->completion_tokens));
}

}  // namespace

void install_routes(httplib::Server& server, const ServedModel& model, Scheduler& scheduler,
                    const RouteOptions& options) {
    const std::string bearer = "Bearer " + options.api_key;
    server.set_pre_routing_handler([bearer, options](const httplib::Request& req, httplib::Response& res) {
        if (options.api_key.empty() || req.get_header_value("Authorization") == bearer)
            return httplib::Server::HandlerResponse::Unhandled;
        send_error(res, ApiError(401, "Missing or wrong API key: send \"Authorization: Bearer <key>\"", "",
                                 "invalid_api_key"));
        return httplib::Server::HandlerResponse::Handled;
    });
    // httplib's own refusals (no such route, body too large, unreadable request) get a body too.
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        const std::string what = res.status == 404   ? "No route " + req.method + " " + req.path
                                 : res.status == 413 ? "The request body is too large"
                                                     : "The request could not be read";
        send_json(res, res.status, error_body(what, "invalid_request_error", "", res.status == 404 ? "not_found" : ""));
    });
    server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        send_json(res, 500, error_body("internal error", "server_error", "", "internal_error"));
    });

    server.Get("/health", guarded([&scheduler](const httplib::Request&, httplib::Response& res) {
        const Scheduler::Stats s = scheduler.stats();
        send_json(res, 200, {{"status", "ok"}, {"slots_idle", s.slots - s.busy}, {"slots_processing", s.busy},
                             {"queued", s.queued}, {"requests_served", s.served}, {"requests_cancelled", s.cancelled}, {"decode_steps", s.steps}});
    }));
    server.Get("/v1/models", guarded([&model](const httplib::Request&, httplib::Response& res) {
        const json m = {{"id", model.id}, {"object", "model"}, {"created", model.created}, {"owned_by", "attend"},
                        {"meta", {{"n_ctx", model.ctx}, {"n_vocab", model.lm.vocab_limit()},
                                  {"n_params", parameter_count(model.lm.loaded.config)}}}};
        send_json(res, 200, {{"object", "list"}, {"data", json::array({m})}});
    }));
    server.Post("/v1/completions", guarded([&](const httplib::Request& req, httplib::Response& res) {
        generation(model, scheduler, req, res, false);
    }));
    server.Post("/v1/chat/completions", guarded([&](const httplib::Request& req, httplib::Response& res) {
        generation(model, scheduler, req, res, true);
    }));
    server.Post("/v1/embeddings", guarded([&model, options](const httplib::Request& req, httplib::Response& res) {
        const json body = parse_body(req.body);
        const std::vector<std::string> texts = parse_embedding_inputs(model, body);
        json data = json::array();
        int64_t tokens = 0;
        std::lock_guard forward(model.forward_mutex);
        if (options.threads > 0) set_num_threads(options.threads);
        for (size_t i = 0; i < texts.size(); ++i) {
            const TextEmbedding e = embed_text(model.lm, texts[i]);
            tokens += e.tokens;
            data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", e.values}});
        }
        send_json(res, 200, {{"object", "list"}, {"data", data}, {"model", model.id},
                             {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
    }));
    // llama.cpp's server: {"content", "add_special", "with_pieces"} → {"tokens": [...]}
    server.Post("/tokenize", guarded([&model](const httplib::Request& req, httplib::Response& res) {
        const json body = parse_body(req.body);
        if (!body.contains("content") || !body["content"].is_string())
            throw ApiError(400, "'content' must be a string", "content", "invalid_value");
        const auto flag = [&](const char* name) {
            if (!body.contains(name)) return false;
            if (!body[name].is_boolean()) throw ApiError(400, std::string("'") + name + "' must be true or false", name);
            return body[name].get<bool>();
        };
        const bool add_special = flag("add_special"), with_pieces = flag("with_pieces");
        const std::vector<int64_t> ids = model.lm.tokenizer->encode(body["content"].get<std::string>(), add_special);
        json tokens = json::array();
        for (int64_t id : ids)
            tokens.push_back(with_pieces ? json{{"id", id}, {"piece", model.lm.tokenizer->decode({id})}} : json(id));
        send_json(res, 200, {{"tokens", tokens}});
    }));
    // {"tokens": [...]} → {"content"}
    server.Post("/detokenize", guarded([&model](const httplib::Request& req, httplib::Response& res) {
        const json body = parse_body(req.body);
        if (!body.contains("tokens") || !body["tokens"].is_array())
            throw ApiError(400, "'tokens' must be a list of token ids", "tokens", "invalid_value");
        std::vector<int64_t> ids;
        for (const auto& t : body["tokens"]) {
            if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= model.lm.vocab_limit())
                throw ApiError(400, "'tokens' must hold ids in [0, " + std::to_string(model.lm.vocab_limit()) + ")",
                               "tokens", "invalid_value");
            ids.push_back(t.get<int64_t>());
        }
        send_json(res, 200, {{"content", model.lm.tokenizer->decode(ids)}});
    }));
}

}  // namespace attend::serve
