// serve/sse.cpp — streaming a job as server-sent events (serve/sse.hpp).
#include "serve/sse.hpp"

#include "serve/api_error.hpp"

namespace attend::serve {

namespace {

std::string event(const nlohmann::json& j) { return "data: " + dump(j) + "\n\n"; }

struct StreamState {
    bool started = false, finished = false;
    size_t text_offset = 0;
    int idle_ms = 0;
};

}  // namespace

void respond_streaming(httplib::Response& res, const ServedModel& model, const std::shared_ptr<Job>& job,
                       const GenerationRequest& request, const ResponseHeader& header) {
    auto state = std::make_shared<StreamState>();
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    const ServedModel* m = &model;
    res.set_chunked_content_provider(
        "text/event-stream",
        [m, job, request, header, state](size_t, httplib::DataSink& sink) {
            const auto send = [&](const std::string& s) {
                if (sink.write(s.data(), s.size())) return true;
                job->cancelled = true;  // the client has gone: free its slot
                return false;
            };
            if (!state->started) {
                state->started = true;
                if (header.chat && !send(event(role_chunk(header)))) return false;
            }
            std::deque<TokenEvent> events;
            std::string tail, finish, error;
            bool done = false;
            int64_t completion_tokens = 0;
            {
                std::unique_lock lock(job->mutex);
                if (!job->wait_for_change(lock, 1000)) {
                    lock.unlock();
                    return send(": \n\n");  // nothing new for a second: probe the connection
                }
                events.swap(job->events);
                done = job->done;
                if (done) tail = job->tail, finish = job->finish_reason, error = job->error;
                completion_tokens = job->completion_tokens;
            }
            std::string out;
            // One chunk per token (that has text, or logprobs to show).
            for (auto& e : events) {
                if (e.text.empty() && request.logprobs < 0) continue;
                std::deque<TokenEvent> one{e};
                out += event(chunk(*m, header, request, e.text, one, "", state->text_offset));
                state->text_offset += e.text.size();
            }
            if (done) {
                if (!error.empty() || finish == "cancelled") {
                    out += event(error_body(error.empty() ? "The request was cancelled (the server is stopping)" : error,
                                            error.empty() ? "server_error" : "server_error", "",
                                            error.empty() ? "cancelled" : "generation_failed"));
                } else {
                    out += event(chunk(*m, header, request, tail, {}, finish, state->text_offset));
                    if (request.include_usage) {
                        nlohmann::json u = chunk(*m, header, request, "", {}, "", 0);
                        u["choices"] = nlohmann::json::array();
                        u["usage"] = usage(int64_t(request.prompt.size()), completion_tokens);
                        out += event(u);
                    }
                }
                out += "data: [DONE]\n\n";
            }
            if (!out.empty() && !send(out)) return false;
            if (done) sink.done();
            return true;
        },
        [job](bool success) {
            if (!success) job->cancelled = true;  // the connection broke: stop generating
        });
}

}  // namespace attend::serve
