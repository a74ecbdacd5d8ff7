// serve/routes.hpp — the HTTP endpoints on a cpp-httplib server: authentication, the body
// checks (request.hpp), and every answer in OpenAI's shapes (errors: api_error.hpp).
#pragma once
#include <httplib.h>

#include <string>

#include "serve/scheduler.hpp"

namespace attend::serve {

struct RouteOptions {
    std::string api_key;
    int threads = 0;
};

void install_routes(httplib::Server& server, const ServedModel& model, Scheduler& scheduler,
                    const RouteOptions& options);

}  // namespace attend::serve
