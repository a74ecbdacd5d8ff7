// error.hpp — the one exception type attend throws, and the check macro that builds it.
//
// Every failure a user can cause (a wrong shape, a bad file, an unknown token) is an
// attend::Error whose message says what was expected and what was found, in one line.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace attend {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Parts>
[[noreturn]] void fail(const char* where, const Parts&... parts) {
    std::ostringstream message;
    message << where << ": ";
    (message << ... << parts);
    throw Error(message.str());
}
}  // namespace detail

// Throws Error("<where>: <what>"): a reader's errors name the file (or field, or line) first.
[[noreturn]] void bad_file(const std::string& where, const std::string& what);

}  // namespace attend

// ATTEND_CHECK(cond, "part", value, "part", ...) throws attend::Error("<function>: parts...")
#define ATTEND_CHECK(cond, ...)                                   \
    do {                                                          \
        if (!(cond)) ::attend::detail::fail(__func__, __VA_ARGS__); \
    } while (0)
