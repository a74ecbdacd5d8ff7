// serve/responses.cpp — OpenAI response objects (serve/responses.hpp).
#include "serve/responses.hpp"

#include <atomic>
#include <chrono>
#include <random>

namespace attend::serve {

using nlohmann::json;

namespace {

std::string random_id(const char* prefix) {
    static std::atomic<uint64_t> counter{0};
    static const uint64_t salt = std::random_device{}();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%016llx%08llx", prefix, (unsigned long long)salt,
                  (unsigned long long)counter.fetch_add(1));
    return buf;
}

json byte_list(const std::string& s) {
    json out = json::array();
    for (unsigned char c : s) out.push_back(int(c));
    return out;
}

// Logprobs of these events in the endpoint's shape.
json logprobs_of(const ServedModel& model, const GenerationRequest& r, const std::deque<TokenEvent>& events,
                 size_t text_offset) {
    if (r.logprobs < 0) return nullptr;
    const Tokenizer& tok = *model.lm.tokenizer;
    if (r.chat) {
        json content = json::array();
        for (const auto& e : events) {
            json top = json::array();
            for (const auto& t : e.top) {
                const std::string s = tok.token_text(t.token);
                top.push_back({{"token", s}, {"logprob", t.logprob}, {"bytes", byte_list(s)}});
            }
            const std::string s = tok.token_text(e.token);
            content.push_back({{"token", s}, {"logprob", e.logprob}, {"bytes", byte_list(s)}, {"top_logprobs", top}});
        }
        return {{"content", content}};
    }
    json tokens = json::array(), token_logprobs = json::array(), top = json::array(), offsets = json::array();
    size_t offset = text_offset;
    for (const auto& e : events) {
        tokens.push_back(tok.token_text(e.token));
        token_logprobs.push_back(e.logprob);
        json t = json::object();
        for (const auto& x : e.top) t[tok.token_text(x.token)] = x.logprob;
        top.push_back(t);
        offsets.push_back(offset);
        offset += e.text.size();
    }
    return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
}

json finish(const std::string& reason) { return reason.empty() ? json(nullptr) : json(reason); }

}  // namespace

ResponseHeader new_header(const ServedModel& model, bool chat) {
    ResponseHeader h;
    h.chat = chat;
    h.id = random_id(chat ? "chatcmpl-" : "cmpl-");
    h.model = model.id;
    h.created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    return h;
}

json usage(int64_t prompt_tokens, int64_t completion_tokens) {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}};
}

json full_response(const ServedModel& model, const ResponseHeader& h, const GenerationRequest& r,
                   const std::deque<TokenEvent>& events, const std::string& tail, const std::string& finish_reason,
                   int64_t completion_tokens) {
    std::string text;
    for (const auto& e : events) text += e.text;
    text += tail;
    json choice = {{"index", 0}, {"logprobs", logprobs_of(model, r, events, 0)}, {"finish_reason", finish(finish_reason)}};
    if (h.chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
    else choice["text"] = text;
    return {{"id", h.id},
            {"object", h.chat ? "chat.completion" : "text_completion"},
            {"created", h.created},
            {"model", h.model},
            {"choices", json::array({choice})},
            {"usage", usage(int64_t(r.prompt.size()), completion_tokens)}};
}

json chunk(const ServedModel& model, const ResponseHeader& h, const GenerationRequest& r, const std::string& text,
           const std::deque<TokenEvent>& events, const std::string& finish_reason, size_t text_offset) {
    json choice = {{"index", 0}, {"logprobs", logprobs_of(model, r, events, text_offset)},
                   {"finish_reason", finish(finish_reason)}};
    if (h.chat) choice["delta"] = finish_reason.empty() || !text.empty() ? json{{"content", text}} : json::object();
    else choice["text"] = text;
    return {{"id", h.id},
            {"object", h.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", h.created},
            {"model", h.model},
            {"choices", json::array({choice})}};
}

json role_chunk(const ResponseHeader& h) {
    json choice = {{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr},
                   {"finish_reason", nullptr}};
    return {{"id", h.id}, {"object", "chat.completion.chunk"}, {"created", h.created}, {"model", h.model},
            {"choices", json::array({choice})}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace attend::serve
