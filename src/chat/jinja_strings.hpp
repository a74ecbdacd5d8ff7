// chat/jinja_strings.hpp — Python's str operations on UTF-8 text, shared by the filters and
// the string methods, plus the argument lookup every builtin uses.
// Internal to src/chat.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_value.hpp"

namespace attend::jinja {

// The argument at `position`, else the keyword `name`; nullptr when neither was given.
const Value* find_arg(const CallArgs& args, size_t position, const char* name);
// Fails on arguments a builtin does not take (more positional than `max_positional`, or a
// keyword not in `names`), as Python's TypeError would.
void check_args(const CallArgs& args, const char* function, size_t max_positional, std::vector<const char*> names);
int64_t int_arg(const Value* v, int64_t fallback, const char* what);
std::string str_arg(const Value* v, const std::string& fallback, const char* what);

std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_capitalize(std::string_view s);   // str.capitalize()
std::string py_title_method(std::string_view s); // str.title()
std::string jinja_title(std::string_view s);     // the `title` filter (splits at - whitespace ( { [ <)
std::vector<std::string> py_split(std::string_view s, const Value* sep, int64_t maxsplit, bool from_right);
std::string py_replace(std::string_view s, std::string_view old, std::string_view with, int64_t count);
std::vector<std::string> py_splitlines(std::string_view s);

}  // namespace attend::jinja
