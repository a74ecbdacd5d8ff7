// chat/jinja_error.hpp — what goes wrong while lexing, parsing or rendering a template.
//
// Code deep in the evaluator does not know where in the template it is; it throws with line 0
// and the statement or expression that catches it first fills in its own line. The public API
// (attend::ChatTemplateError) turns this into one line: "NAME:LINE: message".
// Internal to src/chat.
#pragma once
#include <stdexcept>
#include <string>

namespace attend::jinja {

struct TemplateError : std::runtime_error {
    int line = 0;
    bool raised = false;  // raise_exception(message) from the template itself
    explicit TemplateError(const std::string& message, int line_ = 0, bool raised_ = false)
        : std::runtime_error(message), line(line_), raised(raised_) {}
};

[[noreturn]] inline void fail(const std::string& message, int line = 0) { throw TemplateError(message, line); }

// Limits that keep a hostile template bounded in time and memory.
struct Limits {
    size_t max_output_bytes = size_t(64) << 20;   // the rendered text, and any one string value
    size_t max_steps = 5'000'000;                 // statements, expressions, loop items, elements filtered, 64-byte units of long strings read
    size_t max_call_depth = 128;                  // macro recursion, nested loops
    size_t max_parse_depth = 200;                 // nesting of blocks, and height of an expression
    size_t max_collection_size = 1'000'000;       // range(n), list * n
};

}  // namespace attend::jinja
