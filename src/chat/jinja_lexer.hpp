// chat/jinja_lexer.hpp — a template's text as tokens, with Jinja's whitespace rules applied
// the way Hugging Face configures them: trim_blocks and lstrip_blocks on, `{%-`/`-%}` strip,
// `{%+`/`+%}` keep, one trailing newline of the source dropped (keep_trailing_newline off),
// newlines normalised to "\n". Comments vanish here; `{% raw %}` comes out as data.
// Internal to src/chat.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace attend::jinja {

struct Token {
    enum class Kind { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, End };
    Kind kind;
    std::string text;  // Data: the text; String: the unescaped value; Operator/Name: as written
    int line;
    int64_t integer = 0;
    double number = 0;
};

std::vector<Token> tokenize(std::string_view source);  // throws TemplateError (with the line)

}  // namespace attend::jinja
