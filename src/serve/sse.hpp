// serve/sse.hpp — a job streamed as server-sent events, as OpenAI streams:
//   data: {chunk}\n\n ... data: {last chunk, finish_reason set}\n\n [data: {usage}\n\n] data: [DONE]\n\n
// While a job waits (queued, or between tokens) a comment line ": \n\n" goes out each second:
// SSE readers ignore it, and a write that fails tells the server the client has gone — the
// job is cancelled then (and at any failed write), which frees its slot at the next step.
#pragma once
#include <httplib.h>

#include <memory>

#include "serve/request.hpp"
#include "serve/responses.hpp"
#include "serve/scheduler.hpp"

namespace attend::serve {

void respond_streaming(httplib::Response& res, const ServedModel& model, const std::shared_ptr<Job>& job,
                       const GenerationRequest& request, const ResponseHeader& header);

}  // namespace attend::serve
