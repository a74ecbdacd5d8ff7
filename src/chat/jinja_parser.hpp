// chat/jinja_parser.hpp — tokens to a statement tree, following jinja2/parser.py's grammar and
// operator precedence (filters and tests bind tighter than arithmetic, `~` between + and *).
// Internal to src/chat.
#pragma once
#include <string_view>

#include "chat/jinja_ast.hpp"
#include "chat/jinja_error.hpp"

namespace attend::jinja {

Body parse(std::string_view source, const Limits& limits);  // throws TemplateError (with the line)

}  // namespace attend::jinja
