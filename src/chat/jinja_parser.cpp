// chat/jinja_parser.cpp — recursive descent over jinja_lexer's tokens (jinja2/parser.py's
// structure: parse_condexpr → or → and → not → compare → math1 → concat → math2 → pow →
// unary → primary, postfix and filter/test chains).
#include "chat/jinja_parser.hpp"

#include <algorithm>
#include <utility>

#include "chat/jinja_lexer.hpp"

namespace attend::jinja {
namespace {

using TK = Token::Kind;

class Parser {
public:
    Parser(std::vector<Token> tokens, const Limits& limits) : t_(std::move(tokens)), limits_(limits) {}

    Body parse_all() {
        Body body = subparse({});
        if (cur().kind != TK::End) fail("unexpected token", cur().line);
        return body;
    }

private:
    // ---- token stream ----
    const Token& cur() const { return t_[pos_]; }
    const Token& peek(size_t k = 1) const { return t_[std::min(pos_ + k, t_.size() - 1)]; }
    Token next() { return t_[pos_ < t_.size() - 1 ? pos_++ : pos_]; }
    bool is_op(const char* op) const { return cur().kind == TK::Operator && cur().text == op; }
    bool is_name(const char* n) const { return cur().kind == TK::Name && cur().text == n; }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        ++pos_;
        return true;
    }
    bool skip_name(const char* n) {
        if (!is_name(n)) return false;
        ++pos_;
        return true;
    }
    static std::string describe(const Token& t) {
        switch (t.kind) {
            case TK::End: return "end of template";
            case TK::BlockEnd: return "end of statement block";
            case TK::VariableEnd: return "end of print statement";
            case TK::Name: return "'" + t.text + "'";
            case TK::String: return "string";
            case TK::Integer: return "integer";
            case TK::Float: return "float";
            case TK::Operator: return "'" + t.text + "'";
            default: return "template data";
        }
    }
    [[noreturn]] void unexpected(const std::string& expected) const {
        fail("expected " + expected + ", got " + describe(cur()), cur().line);
    }
    void expect_op(const char* op) {
        if (!skip_op(op)) unexpected(std::string("'") + op + "'");
    }
    std::string expect_name() {
        if (cur().kind != TK::Name) unexpected("a name");
        return next().text;
    }
    void expect_block_end() {
        if (cur().kind != TK::BlockEnd) unexpected("end of statement block");
        ++pos_;
    }

    struct Depth {
        Depth(size_t& d, size_t limit, int line) : d_(d) {
            if (++d_ > limit) fail("template nested too deeply (more than " + std::to_string(limit) + " levels)", line);
        }
        ~Depth() { --d_; }
        size_t& d_;
    };

    // Sets e's height from its children; fails past the nesting limit. Chains that the parser
    // builds in a loop (1+1+1..., a.b.c..., x|f|g...) grow deep without recursing here, so
    // every node that takes children is sealed.
    ExprPtr seal(ExprPtr e) const {
        size_t h = 0;
        if (e->a) h = e->a->height;
        for (const auto& c : e->args)
            if (c) h = std::max(h, c->height);
        for (const auto& [k, c] : e->kwargs) h = std::max(h, c->height);
        e->height = h + 1;
        if (e->height > limits_.max_parse_depth)
            fail("expression nested too deeply (more than " + std::to_string(limits_.max_parse_depth) + " levels)", e->line);
        return e;
    }

    static ExprPtr node(Expr::Kind kind, int line) {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->line = line;
        return e;
    }

    // ---- statements ----
    // Parses until a block tag whose keyword is one of `end` (left unconsumed, after `{%`).
    Body subparse(const std::vector<std::string>& end) {
        Depth depth(depth_, limits_.max_parse_depth, cur().line);
        Body body;
        for (;;) {
            const Token& t = cur();
            if (t.kind == TK::End) {
                if (!end.empty()) fail("unexpected end of template, expected '" + end.back() + "'", t.line);
                return body;
            }
            if (t.kind == TK::Data) {
                auto s = std::make_unique<Stmt>();
                s->kind = Stmt::Kind::Text;
                s->line = t.line;
                s->text = t.text;
                body.push_back(std::move(s));
                ++pos_;
            } else if (t.kind == TK::VariableBegin) {
                ++pos_;
                auto s = std::make_unique<Stmt>();
                s->kind = Stmt::Kind::Print;
                s->line = t.line;
                s->expr = parse_tuple(true);
                if (cur().kind != TK::VariableEnd) unexpected("end of print statement");
                ++pos_;
                body.push_back(std::move(s));
            } else if (t.kind == TK::BlockBegin) {
                const Token& keyword = peek();
                if (keyword.kind == TK::Name &&
                    std::find(end.begin(), end.end(), keyword.text) != end.end()) {
                    ++pos_;  // leave the keyword for the caller
                    return body;
                }
                ++pos_;
                body.push_back(parse_statement(end));
            } else {
                unexpected("template data or a tag");
            }
        }
    }

    std::unique_ptr<Stmt> parse_statement(const std::vector<std::string>& end) {
        const Token& t = cur();
        if (t.kind != TK::Name) fail("tag name expected", t.line);
        auto s = std::make_unique<Stmt>();
        s->line = t.line;
        const std::string kw = next().text;
        if (kw == "if") {
            s->kind = Stmt::Kind::If;
            for (;;) {
                s->conditions.push_back(parse_tuple(false));
                expect_block_end();
                s->bodies.push_back(subparse({"elif", "else", "endif"}));
                const std::string which = next().text;
                if (which == "elif") continue;
                if (which == "else") {
                    expect_block_end();
                    s->bodies.push_back(subparse({"endif"}));
                    next();
                }
                break;
            }
        } else if (kw == "for") {
            s->kind = Stmt::Kind::For;
            s->target = parse_target(false);
            if (!skip_name("in")) unexpected("'in'");
            s->expr = parse_tuple(false, true);
            if (skip_name("if")) s->condition = parse_expression();
            if (skip_name("recursive")) s->recursive = true;
            expect_block_end();
            ++loop_depth_;
            s->bodies.push_back(subparse({"endfor", "else"}));
            --loop_depth_;
            if (next().text == "else") {
                expect_block_end();
                s->bodies.push_back(subparse({"endfor"}));
                next();
            }
        } else if (kw == "set") {
            s->target = parse_target(true);
            if (skip_op("=")) {
                s->kind = Stmt::Kind::Set;
                s->expr = parse_tuple(true);
            } else {
                s->kind = Stmt::Kind::SetBlock;
                if (!s->target.attribute.empty() || s->target.names.size() != 1) fail("a block set needs one name", s->line);
                if (is_op("|")) s->filter = parse_filter_chain(nullptr);
                expect_block_end();
                s->bodies.push_back(subparse({"endset"}));
                next();
            }
        } else if (kw == "macro" || kw == "call") {
            s->kind = kw == "macro" ? Stmt::Kind::Macro : Stmt::Kind::CallBlock;
            if (kw == "macro") s->name = expect_name();
            if (kw == "macro" || is_op("(")) {
                expect_op("(");
                while (!skip_op(")")) {
                    if (!s->params.empty()) expect_op(",");
                    if (skip_op(")")) break;
                    s->params.push_back(expect_name());
                    s->defaults.push_back(skip_op("=") ? parse_expression() : nullptr);
                }
            }
            if (kw == "call") {
                s->expr = parse_expression();
                if (s->expr->kind != Expr::Kind::Call) fail("expected a call after {% call %}", s->line);
            }
            expect_block_end();
            const size_t outer_loops = std::exchange(loop_depth_, 0);  // a macro body is not in the loop
            s->bodies.push_back(subparse({kw == "macro" ? "endmacro" : "endcall"}));
            loop_depth_ = outer_loops;
            next();
        } else if (kw == "filter") {
            s->kind = Stmt::Kind::FilterBlock;
            s->filter = parse_filter_chain(nullptr, false);
            expect_block_end();
            s->bodies.push_back(subparse({"endfilter"}));
            next();
        } else if (kw == "with") {
            s->kind = Stmt::Kind::With;
            while (cur().kind != TK::BlockEnd) {
                if (!s->params.empty()) expect_op(",");
                s->params.push_back(expect_name());
                expect_op("=");
                s->defaults.push_back(parse_expression());
            }
            expect_block_end();
            s->bodies.push_back(subparse({"endwith"}));
            next();
        } else if (kw == "break" || kw == "continue") {
            if (loop_depth_ == 0) fail("'" + kw + "' outside of a for loop", s->line);
            s->kind = kw == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
        } else {
            std::string message = "Encountered unknown tag '" + kw + "'.";
            if (!end.empty()) {
                message += " Jinja was looking for the following tags: ";
                for (size_t i = 0; i < end.size(); ++i) message += (i ? " or '" : "'") + end[i] + "'";
                message += ".";
            }
            fail(message, s->line);
        }
        expect_block_end();
        return s;
    }

    Target parse_target(bool allow_attribute) {
        Target target;
        const bool parens = skip_op("(");
        target.names.push_back(expect_name());
        if (allow_attribute && skip_op(".")) {
            target.attribute = expect_name();
            return target;
        }
        while (skip_op(",")) {
            if (cur().kind != TK::Name || is_name("in")) break;
            target.names.push_back(expect_name());
        }
        if (parens) expect_op(")");
        return target;
    }

    // ---- expressions ----
    // An expression, or several separated by commas (a tuple).
    ExprPtr parse_tuple(bool with_condexpr, bool stop_at_recursive = false) {
        const int line = cur().line;
        std::vector<ExprPtr> items;
        bool comma = false;
        for (;;) {
            if (!items.empty()) {
                if (!skip_op(",")) break;
                comma = true;
            }
            if (cur().kind == TK::BlockEnd || cur().kind == TK::VariableEnd || is_op(")") ||
                (stop_at_recursive && (is_name("recursive") || is_name("if"))))
                break;
            items.push_back(with_condexpr ? parse_expression() : parse_or());
        }
        if (items.empty()) unexpected("an expression");
        if (!comma) return std::move(items[0]);
        auto e = node(Expr::Kind::Tuple, line);
        e->args = std::move(items);
        return seal(std::move(e));
    }

    ExprPtr parse_expression() {
        Depth depth(depth_, limits_.max_parse_depth, cur().line);
        ExprPtr expr = parse_or();
        while (is_name("if")) {
            const int line = next().line;
            auto e = node(Expr::Kind::Conditional, line);
            e->a = parse_or();
            e->args.push_back(std::move(expr));
            e->args.push_back(skip_name("else") ? parse_expression() : nullptr);
            expr = seal(std::move(e));
        }
        return expr;
    }

    ExprPtr binary(const std::string& op, ExprPtr left, ExprPtr right, int line) {
        auto e = node(Expr::Kind::Binary, line);
        e->name = op;
        e->a = std::move(left);
        e->args.push_back(std::move(right));
        return seal(std::move(e));
    }

    ExprPtr parse_or() {
        ExprPtr left = parse_and();
        while (is_name("or")) {
            const int line = next().line;
            left = binary("or", std::move(left), parse_and(), line);
        }
        return left;
    }
    ExprPtr parse_and() {
        ExprPtr left = parse_not();
        while (is_name("and")) {
            const int line = next().line;
            left = binary("and", std::move(left), parse_not(), line);
        }
        return left;
    }
    ExprPtr parse_not() {
        if (is_name("not")) {
            Depth depth(depth_, limits_.max_parse_depth, cur().line);
            auto e = node(Expr::Kind::Unary, next().line);
            e->name = "not";
            e->a = parse_not();
            return seal(std::move(e));
        }
        return parse_compare();
    }
    ExprPtr parse_compare() {
        const int line = cur().line;
        ExprPtr first = parse_math1();
        ExprPtr result;
        for (;;) {
            std::string op;
            if (cur().kind == TK::Operator &&
                (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" || cur().text == "<=" ||
                 cur().text == ">=")) {
                op = next().text;
            } else if (skip_name("in")) {
                op = "in";
            } else if (is_name("not") && peek().kind == TK::Name && peek().text == "in") {
                pos_ += 2;
                op = "notin";
            } else {
                break;
            }
            if (!result) {
                result = node(Expr::Kind::Compare, line);
                result->a = std::move(first);
            }
            result->ops.push_back(op);
            result->args.push_back(parse_math1());
        }
        return result ? seal(std::move(result)) : std::move(first);
    }
    ExprPtr parse_math1() {
        ExprPtr left = parse_concat();
        while (is_op("+") || is_op("-")) {
            const Token t = next();
            left = binary(t.text, std::move(left), parse_concat(), t.line);
        }
        return left;
    }
    ExprPtr parse_concat() {
        ExprPtr left = parse_math2();
        while (is_op("~")) {
            const int line = next().line;
            left = binary("~", std::move(left), parse_math2(), line);
        }
        return left;
    }
    ExprPtr parse_math2() {
        ExprPtr left = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const Token t = next();
            left = binary(t.text, std::move(left), parse_pow(), t.line);
        }
        return left;
    }
    ExprPtr parse_pow() {
        ExprPtr left = parse_unary(true);
        while (is_op("**")) {
            const int line = next().line;
            left = binary("**", std::move(left), parse_unary(true), line);
        }
        return left;
    }
    ExprPtr parse_unary(bool with_filter) {
        Depth depth(depth_, limits_.max_parse_depth, cur().line);
        ExprPtr e;
        if (is_op("-") || is_op("+")) {
            const Token t = next();
            e = node(Expr::Kind::Unary, t.line);
            e->name = t.text;
            e->a = parse_unary(false);
            e = seal(std::move(e));
        } else {
            e = parse_primary();
        }
        e = parse_postfix(std::move(e));
        if (with_filter) e = parse_filter_expr(std::move(e));
        return e;
    }

    ExprPtr parse_primary() {
        const Token t = cur();
        switch (t.kind) {
            case TK::Name: {
                ++pos_;
                auto e = node(Expr::Kind::Literal, t.line);
                if (t.text == "true" || t.text == "True") e->value = Value::from_bool(true);
                else if (t.text == "false" || t.text == "False") e->value = Value::from_bool(false);
                else if (t.text == "none" || t.text == "None") e->value = Value::none();
                else {
                    e->kind = Expr::Kind::Name;
                    e->name = t.text;
                }
                return e;
            }
            case TK::String: {
                std::string s;
                while (cur().kind == TK::String) s += next().text;  // adjacent literals concatenate
                auto e = node(Expr::Kind::Literal, t.line);
                e->value = Value::from_string(std::move(s));
                return e;
            }
            case TK::Integer:
            case TK::Float: {
                ++pos_;
                auto e = node(Expr::Kind::Literal, t.line);
                e->value = t.kind == TK::Integer ? Value::from_int(t.integer) : Value::from_float(t.number);
                return e;
            }
            case TK::Operator:
                if (t.text == "(") {
                    ++pos_;
                    if (skip_op(")")) {
                        auto e = node(Expr::Kind::Tuple, t.line);
                        return e;
                    }
                    ExprPtr inner = parse_tuple(true);
                    expect_op(")");
                    return inner;
                }
                if (t.text == "[") {
                    ++pos_;
                    auto e = node(Expr::Kind::List, t.line);
                    while (!skip_op("]")) {
                        if (!e->args.empty()) expect_op(",");
                        if (skip_op("]")) break;
                        e->args.push_back(parse_expression());
                    }
                    return seal(std::move(e));
                }
                if (t.text == "{") {
                    ++pos_;
                    auto e = node(Expr::Kind::Dict, t.line);
                    while (!skip_op("}")) {
                        if (!e->args.empty()) expect_op(",");
                        if (skip_op("}")) break;
                        e->args.push_back(parse_expression());
                        expect_op(":");
                        e->args.push_back(parse_expression());
                    }
                    return seal(std::move(e));
                }
                break;
            default: break;
        }
        unexpected("an expression");
    }

    ExprPtr parse_postfix(ExprPtr e) {
        for (;;) {
            if (is_op(".")) {
                const int line = next().line;
                auto g = node(Expr::Kind::GetAttr, line);
                if (cur().kind == TK::Name) {
                    g->name = next().text;
                } else if (cur().kind == TK::Integer) {
                    g->kind = Expr::Kind::GetItem;
                    auto idx = node(Expr::Kind::Literal, line);
                    idx->value = Value::from_int(next().integer);
                    g->args.push_back(std::move(idx));
                } else {
                    unexpected("an attribute name");
                }
                g->a = std::move(e);
                e = seal(std::move(g));
            } else if (is_op("[")) {
                e = parse_subscript(std::move(e));
            } else if (is_op("(")) {
                e = parse_call(std::move(e));
            } else {
                return e;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr target) {
        const int line = next().line;  // '['
        ExprPtr parts[3];
        bool slice = false;
        if (!is_op(":")) parts[0] = parse_expression();
        if (skip_op(":")) {
            slice = true;
            if (!is_op("]") && !is_op(":")) parts[1] = parse_expression();
            if (skip_op(":") && !is_op("]")) parts[2] = parse_expression();
        }
        expect_op("]");
        auto e = node(slice ? Expr::Kind::Slice : Expr::Kind::GetItem, line);
        e->a = std::move(target);
        for (int i = 0; i < (slice ? 3 : 1); ++i) e->args.push_back(std::move(parts[i]));
        return seal(std::move(e));
    }

    void parse_call_args(Expr& e) {
        expect_op("(");
        bool first = true;
        while (!skip_op(")")) {
            if (!first) {
                expect_op(",");
                if (skip_op(")")) break;
            }
            first = false;
            if (cur().kind == TK::Name && peek().kind == TK::Operator && peek().text == "=") {
                std::string key = next().text;
                ++pos_;
                e.kwargs.emplace_back(std::move(key), parse_expression());
            } else {
                if (!e.kwargs.empty()) fail("positional argument after a keyword argument", cur().line);
                e.args.push_back(parse_expression());
            }
        }
    }

    ExprPtr parse_call(ExprPtr callee) {
        auto e = node(Expr::Kind::Call, cur().line);
        e->a = std::move(callee);
        parse_call_args(*e);
        return seal(std::move(e));
    }

    // `| name(args) | name ...` applied to `input` (null: a {% filter %} block's body).
    ExprPtr parse_filter_chain(ExprPtr input, bool need_pipe = true) {
        bool first = true;
        while (need_pipe ? is_op("|") : (first || is_op("|"))) {
            if (need_pipe || !first) ++pos_;
            first = false;
            auto f = node(Expr::Kind::Filter, cur().line);
            f->name = expect_name();
            while (skip_op(".")) {  // appended in two steps: GCC 12 warns falsely on "." + string&&
                f->name += '.';
                f->name += expect_name();
            }
            if (is_op("(")) parse_call_args(*f);
            f->a = std::move(input);
            input = seal(std::move(f));
        }
        return input;
    }

    ExprPtr parse_filter_expr(ExprPtr e) {
        for (;;) {
            if (is_op("|")) {
                e = parse_filter_chain(std::move(e));
            } else if (is_name("is")) {
                const int line = next().line;
                auto t = node(Expr::Kind::Test, line);
                t->negated = skip_name("not");
                t->name = expect_name();
                while (skip_op(".")) t->name += "." + expect_name();
                if (is_op("(")) {
                    parse_call_args(*t);
                } else if ((cur().kind == TK::Name || cur().kind == TK::String || cur().kind == TK::Integer ||
                            cur().kind == TK::Float || is_op("(") || is_op("[") || is_op("{")) &&
                           !is_name("else") && !is_name("or") && !is_name("and")) {
                    if (is_name("is")) fail("You cannot chain multiple tests with is", cur().line);
                    t->args.push_back(parse_postfix(parse_primary()));
                }
                t->a = std::move(e);
                e = seal(std::move(t));
            } else if (is_op("(")) {
                e = parse_call(std::move(e));
            } else {
                return e;
            }
        }
    }

    std::vector<Token> t_;
    size_t pos_ = 0;
    const Limits& limits_;
    size_t depth_ = 0;
    size_t loop_depth_ = 0;
};

}  // namespace

Body parse(std::string_view source, const Limits& limits) { return Parser(tokenize(source), limits).parse_all(); }

}  // namespace attend::jinja
