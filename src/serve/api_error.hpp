// serve/api_error.hpp — a request the server refuses, as OpenAI's error object:
//   HTTP status, {"error": {"message", "type", "param", "code"}}
#pragma once
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace attend::serve {

struct ApiError : std::runtime_error {
    int status;
    std::string type, param, code;
    ApiError(int status, std::string message, std::string param = "", std::string code = "",
             std::string type = "invalid_request_error")
        : std::runtime_error(std::move(message)), status(status), type(std::move(type)), param(std::move(param)),
          code(std::move(code)) {}
};

inline nlohmann::json error_body(const std::string& message, const std::string& type, const std::string& param,
                                 const std::string& code) {
    const auto or_null = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
    return {{"error", {{"message", message}, {"type", type}, {"param", or_null(param)}, {"code", or_null(code)}}}};
}

inline nlohmann::json error_body(const ApiError& e) { return error_body(e.what(), e.type, e.param, e.code); }

}  // namespace attend::serve
