// serve/request.cpp — checking request bodies (serve/request.hpp).
#include "serve/request.hpp"

#include <random>

#include "serve/api_error.hpp"
#include "serve/chat_prompt.hpp"

namespace attend::serve {

using nlohmann::json;

namespace {

ApiError wrong(const std::string& field, const std::string& what) {
    return ApiError(400, "'" + field + "' " + what, field, "invalid_value");
}

const json* field(const json& body, const char* name) {
    const auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

double number(const json& body, const char* name, double fallback, double lo, double hi, bool lo_open = false) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_number()) throw wrong(name, "must be a number");
    const double x = v->get<double>();
    if (!(lo_open ? x > lo : x >= lo) || !(x <= hi))
        throw wrong(name, "must be in " + std::string(lo_open ? "(" : "[") + std::to_string(lo) + ", " +
                              std::to_string(hi) + "], got " + v->dump());
    return x;
}

int64_t integer(const json& body, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_number_integer()) throw wrong(name, "must be an integer");
    const int64_t x = v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX : v->get<int64_t>();
    if (x < lo || x > hi)
        throw wrong(name, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + v->dump());
    return x;
}

bool boolean(const json& body, const char* name, bool fallback) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_boolean()) throw wrong(name, "must be true or false");
    return v->get<bool>();
}

void check_model(const ServedModel& model, const json& body) {
    const json* m = field(body, "model");
    if (!m) return;  // optional here (llama.cpp's server serves its one model either way)
    if (!m->is_string()) throw wrong("model", "must be a string");
    if (!model.names(m->get<std::string>()))
        throw ApiError(400, "The model '" + m->get<std::string>() + "' does not exist; this server has '" + model.id + "'",
                       "model", "model_not_found");
}

// Sampling, stop, seed, stream, n: shared by both generation endpoints.
void common_fields(const ServedModel& model, const json& body, GenerationRequest& r) {
    check_model(model, body);
    r.stream = boolean(body, "stream", false);
    if (const json* so = field(body, "stream_options")) {
        if (!so->is_object()) throw wrong("stream_options", "must be an object");
        r.include_usage = boolean(*so, "include_usage", false);
    }
    if (integer(body, "n", 1, 1, 1) != 1) throw wrong("n", "must be 1");
    r.sampling.temperature = float(number(body, "temperature", 1.0, 0.0, 2.0));
    r.sampling.top_p = float(number(body, "top_p", 1.0, 0.0, 1.0, /*lo_open=*/true));
    r.sampling.top_k = integer(body, "top_k", 0, 0, int64_t(1) << 30);
    if (const json* s = field(body, "seed")) {
        if (!s->is_number_integer()) throw wrong("seed", "must be an integer");
        r.seed = s->is_number_unsigned() ? s->get<uint64_t>() : uint64_t(s->get<int64_t>());
    } else {
        r.seed = std::random_device{}() * 0x100000000ull + std::random_device{}();
    }
    if (const json* s = field(body, "stop")) {
        if (s->is_string()) {
            r.stop = {s->get<std::string>()};
        } else if (s->is_array()) {
            if (s->size() > 4) throw wrong("stop", "may hold 4 strings at most");
            for (const auto& x : *s) {
                if (!x.is_string()) throw wrong("stop", "must be a string or a list of strings");
                r.stop.push_back(x.get<std::string>());
            }
        } else {
            throw wrong("stop", "must be a string or a list of strings");
        }
    }
}

// max_tokens (or max_completion_tokens) against the context left after the prompt.
void fit_context(const ServedModel& model, const json& body, GenerationRequest& r, int64_t fallback) {
    const int64_t P = int64_t(r.prompt.size()), room = model.ctx - P;
    if (room < 1)
        throw ApiError(400, "The prompt has " + std::to_string(P) + " tokens; the context holds " +
                                std::to_string(model.ctx) + " with at least 1 to generate",
                       "prompt", "context_length_exceeded");
    const char* name = field(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    r.max_tokens = integer(body, name, std::min(fallback, room), 1, int64_t(1) << 40);
    if (r.max_tokens > room)
        throw ApiError(400, "This model's context is " + std::to_string(model.ctx) + " tokens; the prompt has " +
                                std::to_string(P) + " and " + name + " asks for " + std::to_string(r.max_tokens) +
                                " more",
                       name, "context_length_exceeded");
}

std::vector<int64_t> token_ids(const ServedModel& model, const json& list, const std::string& name) {
    std::vector<int64_t> ids;
    for (const auto& x : list) {
        if (!x.is_number_integer()) throw wrong(name, "must be a string or a list of token ids");
        const int64_t id = x.get<int64_t>();
        if (id < 0 || id >= model.lm.vocab_limit())
            throw wrong(name, "holds token " + std::to_string(id) + ", outside the vocabulary of " +
                                  std::to_string(model.lm.vocab_limit()));
        ids.push_back(id);
    }
    return ids;
}

void must_generate(const ServedModel& model) {
    if (!model.can_generate())
        throw ApiError(400, "The model '" + model.id + "' cannot generate text (an encoder: use /v1/embeddings)",
                       "model", "model_not_supported");
}

}  // namespace

json parse_body(const std::string& body) {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw ApiError(400, "The request body is not valid JSON", "", "invalid_json");
    if (!j.is_object()) throw ApiError(400, "The request body must be a JSON object", "", "invalid_json");
    return j;
}

GenerationRequest parse_completion(const ServedModel& model, const json& body) {
    GenerationRequest r;
    common_fields(model, body, r);
    must_generate(model);
    const json* p = field(body, "prompt");
    if (!p) throw ApiError(400, "'prompt' is required", "prompt", "missing_required_parameter");
    if (p->is_string()) {
        r.prompt = model.lm.prompt_ids(p->get<std::string>());
    } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
        r.prompt = model.lm.prompt_ids((*p)[0].get<std::string>());
    } else if (p->is_array() && !p->empty() && (*p)[0].is_number()) {
        r.prompt = token_ids(model, *p, "prompt");
    } else if (p->is_array() && p->size() == 1 && (*p)[0].is_array() && !(*p)[0].empty()) {
        r.prompt = token_ids(model, (*p)[0], "prompt");
    } else {
        throw wrong("prompt", "must be a string, a list of token ids, or a list of one of them (n = 1)");
    }
    if (const json* lp = field(body, "logprobs")) {
        if (!lp->is_number_integer()) throw wrong("logprobs", "must be an integer in [0, 20]");
        r.logprobs = integer(body, "logprobs", 0, 0, 20);
    }
    if (boolean(body, "echo", false)) throw wrong("echo", "is not supported (false only)");
    fit_context(model, body, r, 16);
    return r;
}

GenerationRequest parse_chat(const ServedModel& model, const json& body) {
    GenerationRequest r;
    r.chat = true;
    common_fields(model, body, r);
    must_generate(model);
    const json* m = field(body, "messages");
    if (!m) throw ApiError(400, "'messages' is required", "messages", "missing_required_parameter");
    r.prompt = chat_prompt_ids(model, *m, /*add_generation_prompt=*/true);
    if (boolean(body, "logprobs", false)) r.logprobs = integer(body, "top_logprobs", 0, 0, 20);
    else if (field(body, "top_logprobs")) throw wrong("top_logprobs", "needs \"logprobs\": true");
    fit_context(model, body, r, model.ctx);
    return r;
}

std::vector<std::string> parse_embedding_inputs(const ServedModel& model, const json& body) {
    check_model(model, body);
    if (model.lm.loaded.config.shape == ModelShape::encoder_decoder)
        throw ApiError(400, "The model '" + model.id + "' has no embeddings (an encoder-decoder)", "model",
                       "model_not_supported");
    const json* in = field(body, "input");
    if (!in) throw ApiError(400, "'input' is required", "input", "missing_required_parameter");
    if (const json* f = field(body, "encoding_format"); f && (!f->is_string() || *f != "float"))
        throw wrong("encoding_format", "must be \"float\"");
    std::vector<std::string> texts;
    if (in->is_string()) texts.push_back(in->get<std::string>());
    else if (in->is_array() && !in->empty() && in->size() <= 256) {
        for (const auto& x : *in) {
            if (!x.is_string()) throw wrong("input", "must be a string or a list of strings");
            texts.push_back(x.get<std::string>());
        }
    } else {
        throw wrong("input", "must be a string or a list of 1 to 256 strings");
    }
    return texts;
}

}  // namespace attend::serve
