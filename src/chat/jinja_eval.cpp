// chat/jinja_eval.cpp — statements and operators: what the code Jinja compiles a template to
// would do, with Python's arithmetic, comparison and truth rules.
#include "chat/jinja_eval.hpp"

#include <cmath>

namespace attend::jinja {
namespace {

[[noreturn]] void fail_undefined(const Value& v) { fail(undefined_message(v)); }

int64_t as_int(const Value& v) { return v.type == Value::Type::Bool ? v.boolean : v.integer; }

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
    fail("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

Value arithmetic(Evaluator& ev, const std::string& op, const Value& a, const Value& b) {
    if (a.is_undefined()) fail_undefined(a);
    if (b.is_undefined()) fail_undefined(b);
    const bool ints = a.is_number() && b.is_number() && a.type != Value::Type::Float && b.type != Value::Type::Float;
    if (op == "+") {
        if (ints) {
            int64_t r;
            if (__builtin_add_overflow(as_int(a), as_int(b), &r)) fail("integer overflow");
            return Value::from_int(r);
        }
        if (a.is_number() && b.is_number()) return Value::from_float(a.as_double() + b.as_double());
        if (a.is_string() && b.is_string()) return ev.make_string(a.text + b.text);
        if (a.is_list() && b.is_list()) {
            ev.spend(a.list->size() + b.list->size());
            List items = *a.list;
            items.insert(items.end(), b.list->begin(), b.list->end());
            return ev.make_list(std::move(items), a.is_tuple);
        }
        if (a.is_string()) fail("can only concatenate str (not \"" + type_name(b) + "\") to str");
        if (a.is_list()) fail("can only concatenate list (not \"" + type_name(b) + "\") to list");
        unsupported(op, a, b);
    }
    if (op == "*") {
        if (ints) {
            int64_t r;
            if (__builtin_mul_overflow(as_int(a), as_int(b), &r)) fail("integer overflow");
            return Value::from_int(r);
        }
        if (a.is_number() && b.is_number()) return Value::from_float(a.as_double() * b.as_double());
        const Value* seq = a.is_string() || a.is_list() ? &a : &b;
        const Value* count = seq == &a ? &b : &a;
        if ((seq->is_string() || seq->is_list()) && count->is_number() && count->type != Value::Type::Float) {
            const int64_t n = std::max<int64_t>(0, as_int(*count));
            if (seq->is_string()) {
                if (n > 0 && seq->text.size() > ev.limits().max_output_bytes / size_t(n))
                    fail("string too long (over " + std::to_string(ev.limits().max_output_bytes) + " bytes)");
                std::string s;
                s.reserve(seq->text.size() * size_t(n));
                for (int64_t i = 0; i < n; ++i) s += seq->text;
                return ev.make_string(std::move(s));
            }
            if (n > 0 && seq->list->size() > ev.limits().max_collection_size / size_t(n))
                fail("list too long (over " + std::to_string(ev.limits().max_collection_size) + " items)");
            ev.spend(seq->list->size() * size_t(n));
            List items;
            for (int64_t i = 0; i < n; ++i) items.insert(items.end(), seq->list->begin(), seq->list->end());
            return ev.make_list(std::move(items), seq->is_tuple);
        }
        if (a.is_string() || b.is_string()) fail("can't multiply sequence by non-int of type '" + type_name(*count) + "'");
        unsupported(op, a, b);
    }
    if (!a.is_number() || !b.is_number()) unsupported(op, a, b);
    if (op == "-") {
        if (ints) {
            int64_t r;
            if (__builtin_sub_overflow(as_int(a), as_int(b), &r)) fail("integer overflow");
            return Value::from_int(r);
        }
        return Value::from_float(a.as_double() - b.as_double());
    }
    if (op == "/") {
        if (b.as_double() == 0) fail("division by zero");
        return Value::from_float(a.as_double() / b.as_double());
    }
    if (op == "//" || op == "%") {
        if (b.as_double() == 0) fail(op == "//" ? "integer division or modulo by zero" : "integer modulo by zero");
        if (ints) {
            const int64_t x = as_int(a), y = as_int(b);
            if (x == INT64_MIN && y == -1) fail("integer overflow");
            int64_t q = x / y, r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) {
                --q;
                r += y;
            }
            return Value::from_int(op == "//" ? q : r);
        }
        const double x = a.as_double(), y = b.as_double();
        const double m = std::fmod(x, y);
        const double r = m != 0 && ((m < 0) != (y < 0)) ? m + y : m;
        return Value::from_float(op == "//" ? std::floor((x - r) / y + 0.5) : r);
    }
    if (op == "**") {
        if (ints && as_int(b) >= 0) {
            int64_t r = 1, base = as_int(a), e = as_int(b);
            if (base == 0 || base == 1) return Value::from_int(e == 0 ? 1 : base);
            if (base == -1) return Value::from_int(e % 2 ? -1 : 1);
            for (; e > 0; --e)  // |base| >= 2: overflows within 64 steps
                if (__builtin_mul_overflow(r, base, &r)) fail("integer overflow");
            return Value::from_int(r);
        }
        return Value::from_float(std::pow(a.as_double(), b.as_double()));
    }
    fail("unknown operator " + op);
}

bool contains(const Value& needle, const Value& hay) {
    switch (hay.type) {
        case Value::Type::Undefined: return false;
        case Value::Type::String:
            if (needle.is_undefined()) fail_undefined(needle);
            if (!needle.is_string())
                fail("'in <string>' requires string as left operand, not " + type_name(needle));
            return hay.text.find(needle.text) != std::string::npos;
        case Value::Type::List:
            for (const Value& v : *hay.list)
                if (equal(v, needle)) return true;
            return false;
        case Value::Type::Dict: return hay.dict->find(needle) != nullptr;
        default: fail("argument of type '" + type_name(hay) + "' is not iterable");
    }
}

bool compare(Evaluator& ev, const std::string& op, const Value& a, const Value& b) {
    if (a.is_list()) ev.spend(a.list->size());  // == and `in` walk lists
    if (b.is_list()) ev.spend(b.list->size());
    if (a.is_dict()) ev.spend(a.dict->items.size());
    if (b.is_dict()) ev.spend(b.dict->items.size());
    if (op == "==") return equal(a, b);
    if (op == "!=") return !equal(a, b);
    if (op == "in") return contains(a, b);
    if (op == "notin") return !contains(a, b);
    if (a.is_undefined()) fail_undefined(a);
    if (b.is_undefined()) fail_undefined(b);
    const auto ordered = [&] {
        if (!((a.is_number() && b.is_number()) || (a.is_string() && b.is_string()) || (a.is_list() && b.is_list())))
            fail("'" + op + "' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
    };
    ordered();
    if (op == "<") return less(a, b);
    if (op == ">") return less(b, a);
    if (op == "<=") return !less(b, a);
    return !less(a, b);  // >=
}

}  // namespace

Evaluator::Evaluator(const Limits& limits, std::unordered_map<std::string, Value> variables) : limits_(limits) {
    frame_ = std::make_shared<Frame>();
    frame_->vars = make_globals();
    for (auto& [k, v] : variables) frame_->vars[k] = std::move(v);
}

Evaluator::~Evaluator() {
    for (auto& ns : namespaces_) ns->attributes.items.clear();
    for (auto& f : macro_frames_) f->vars.clear();
}

Value Evaluator::make_namespace() {
    spend(1);
    Value v;
    v.type = Value::Type::Namespace;
    v.ns = std::make_shared<Namespace>();
    namespaces_.push_back(v.ns);
    return v;
}

void Evaluator::spend(size_t steps) {
    steps_ += steps;
    if (steps_ > limits_.max_steps) fail("template took too many steps (over " + std::to_string(limits_.max_steps) + ")");
}

Value Evaluator::make_string(std::string s) const {
    if (s.size() > limits_.max_output_bytes)
        fail("string too long (over " + std::to_string(limits_.max_output_bytes) + " bytes)");
    return Value::from_string(std::move(s));
}

Value Evaluator::make_list(List items, bool tuple) const {
    if (items.size() > limits_.max_collection_size)
        fail("list too long (over " + std::to_string(limits_.max_collection_size) + " items)");
    return Value::from_list(std::move(items), tuple);
}

void Evaluator::append(std::string& out, const std::string& text) const {
    if (out.size() + text.size() > limits_.max_output_bytes)
        fail("output too long (over " + std::to_string(limits_.max_output_bytes) + " bytes)");
    out += text;
}

std::string Evaluator::render(const Body& body) {
    std::string out;
    if (exec(body, out) != Flow::Normal) fail("break or continue outside of a loop");
    return out;
}

Value Evaluator::lookup(const std::string& name) const {
    for (const Frame* f = frame_.get(); f; f = f->parent.get()) {
        auto it = f->vars.find(name);
        if (it != f->vars.end()) return it->second;
    }
    return Value::undefined("'" + name + "' is undefined");
}

Evaluator::Flow Evaluator::exec(const Body& body, std::string& out) {
    for (const auto& s : body) {
        const Flow flow = exec(*s, out);
        if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
}

void Evaluator::assign(const Target& target, Value value, int line) {
    if (!target.attribute.empty()) {
        const Value ns = lookup(target.names[0]);
        if (ns.type != Value::Type::Namespace) fail("can only assign attributes to namespace objects, not to '" + target.names[0] + "'", line);
        ns.ns->attributes.set(Value::from_string(target.attribute), std::move(value));
        return;
    }
    if (target.names.size() == 1) {
        frame_->vars[target.names[0]] = std::move(value);
        return;
    }
    const List items = iterate(value);
    if (items.size() != target.names.size())
        fail(items.size() > target.names.size() ? "too many values to unpack (expected " + std::to_string(target.names.size()) + ")"
                                                 : "not enough values to unpack (expected " + std::to_string(target.names.size()) +
                                                       ", got " + std::to_string(items.size()) + ")",
             line);
    for (size_t i = 0; i < items.size(); ++i) frame_->vars[target.names[i]] = items[i];
}

namespace {
// Restores the scope (and the depth count) when a frame's statement ends, however it ends.
struct ScopeGuard {
    std::shared_ptr<Frame>& frame;
    std::shared_ptr<Frame> saved;
    size_t& depth;
    ScopeGuard(std::shared_ptr<Frame>& f, std::shared_ptr<Frame> next, size_t& d, size_t limit) : frame(f), saved(f), depth(d) {
        if (++depth > limit) {
            --depth;
            fail("recursion too deep (over " + std::to_string(limit) + " levels)");
        }
        frame = std::move(next);
    }
    ~ScopeGuard() {
        frame = saved;
        --depth;
    }
};
std::shared_ptr<Frame> child_of(const std::shared_ptr<Frame>& parent) {
    auto f = std::make_shared<Frame>();
    f->parent = parent;
    return f;
}
}  // namespace

void Evaluator::exec_for(const Stmt& s, std::string& out) {
    const Value iterable = eval(*s.expr);
    if (s.recursive) fail("recursive for loops are not supported", s.line);
    if (iterable.type != Value::Type::List && iterable.type != Value::Type::Dict && iterable.type != Value::Type::String &&
        !iterable.is_undefined())
        fail("'" + type_name(iterable) + "' object is not iterable", s.line);
    List items = iterate(iterable);
    spend(items.size());
    ScopeGuard loop_scope(frame_, child_of(frame_), depth_, limits_.max_call_depth);
    if (s.condition) {  // `for x in xs if cond`: the loop (and loop.length) sees only the kept items
        List kept;
        for (Value& item : items) {
            ScopeGuard scope(frame_, child_of(frame_), depth_, limits_.max_call_depth);
            assign(s.target, item, s.line);
            if (truthy(eval(*s.condition))) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    const size_t n = items.size();
    for (size_t i = 0; i < n; ++i) {
        spend(1);
        ScopeGuard scope(frame_, child_of(frame_), depth_, limits_.max_call_depth);
        assign(s.target, items[i], s.line);
        Dict loop;
        loop.items.reserve(12);
        const auto put = [&](const char* k, Value v) { loop.items.emplace_back(Value::from_string(k), std::move(v)); };
        put("index", Value::from_int(int64_t(i) + 1));
        put("index0", Value::from_int(int64_t(i)));
        put("revindex", Value::from_int(int64_t(n - i)));
        put("revindex0", Value::from_int(int64_t(n - i - 1)));
        put("first", Value::from_bool(i == 0));
        put("last", Value::from_bool(i + 1 == n));
        put("length", Value::from_int(int64_t(n)));
        put("depth", Value::from_int(1));
        put("depth0", Value::from_int(0));
        put("previtem", i > 0 ? items[i - 1] : Value::undefined("there is no previous item"));
        put("nextitem", i + 1 < n ? items[i + 1] : Value::undefined("there is no next item"));
        put("cycle", Value::from_callable("cycle", [i](Evaluator&, CallArgs& args) {
                if (args.positional.empty()) fail("no items for cycling given");
                return args.positional[i % args.positional.size()];
            }));
        frame_->vars["loop"] = Value::from_dict(std::move(loop));
        const Flow flow = exec(s.bodies[0], out);
        if (flow == Flow::Break) break;
    }
    if (n == 0 && s.bodies.size() > 1) exec(s.bodies[1], out);
}

Value Evaluator::make_macro(const Stmt& s) {
    std::shared_ptr<Frame> closure = frame_;
    macro_frames_.push_back(frame_);  // the frame will hold the macro, which holds the frame
    const Stmt* def = &s;
    return Value::from_callable(s.kind == Stmt::Kind::Macro ? s.name : "caller", [def, closure](Evaluator& ev, CallArgs& args) {
        auto frame = child_of(closure);
        const size_t n = def->params.size();
        if (args.positional.size() > n)
            fail("macro '" + def->name + "' takes not more than " + std::to_string(n) + " argument(s)");
        std::vector<bool> given(n, false);
        for (size_t i = 0; i < args.positional.size(); ++i) {
            frame->vars[def->params[i]] = args.positional[i];
            given[i] = true;
        }
        for (auto& [k, v] : args.keyword) {
            size_t i = 0;
            while (i < n && def->params[i] != k) ++i;
            if (i == n) {
                if (k == "caller") {
                    frame->vars[k] = v;
                    continue;
                }
                fail("macro '" + def->name + "' takes no keyword argument '" + k + "'");
            }
            if (given[i]) fail("macro '" + def->name + "' got multiple values for argument '" + k + "'");
            frame->vars[k] = v;
            given[i] = true;
        }
        ScopeGuard scope(ev.frame_, frame, ev.depth_, ev.limits_.max_call_depth);
        for (size_t i = 0; i < n; ++i)
            if (!given[i])
                frame->vars[def->params[i]] = def->defaults[i] ? ev.eval(*def->defaults[i])
                                                              : Value::undefined("parameter '" + def->params[i] + "' was not provided");
        std::string out;
        ev.exec(def->bodies[0], out);
        return Value::from_string(std::move(out));
    });
}

Evaluator::Flow Evaluator::exec(const Stmt& s, std::string& out) {
    spend(1);
    try {
        switch (s.kind) {
            case Stmt::Kind::Text: append(out, s.text); break;
            case Stmt::Kind::Print: append(out, to_str(eval(*s.expr))); break;
            case Stmt::Kind::If: {
                for (size_t i = 0; i < s.conditions.size(); ++i)
                    if (truthy(eval(*s.conditions[i]))) return exec(s.bodies[i], out);
                if (s.bodies.size() > s.conditions.size()) return exec(s.bodies.back(), out);
                break;
            }
            case Stmt::Kind::For: exec_for(s, out); break;
            case Stmt::Kind::Set: assign(s.target, eval(*s.expr), s.line); break;
            case Stmt::Kind::SetBlock: {
                std::string body;
                {
                    const Flow flow = exec(s.bodies[0], body);
                    if (flow != Flow::Normal) return flow;
                }
                Value v = make_string(std::move(body));
                if (s.filter) v = filter(*s.filter, std::move(v));
                assign(s.target, std::move(v), s.line);
                break;
            }
            case Stmt::Kind::Macro: frame_->vars[s.name] = make_macro(s); break;
            case Stmt::Kind::CallBlock: {
                const Expr& call_expr = *s.expr;
                CallArgs args;
                for (const auto& a : call_expr.args) args.positional.push_back(eval(*a));
                for (const auto& [k, v] : call_expr.kwargs) args.keyword.emplace_back(k, eval(*v));
                args.keyword.emplace_back("caller", make_macro(s));
                append(out, to_str(call(eval(*call_expr.a), args, s.line)));
                break;
            }
            case Stmt::Kind::FilterBlock: {
                std::string body;
                const Flow flow = exec(s.bodies[0], body);
                append(out, to_str(filter(*s.filter, make_string(std::move(body)))));
                if (flow != Flow::Normal) return flow;
                break;
            }
            case Stmt::Kind::With: {
                auto frame = child_of(frame_);
                for (size_t i = 0; i < s.params.size(); ++i) frame->vars[s.params[i]] = eval(*s.defaults[i]);
                ScopeGuard scope(frame_, frame, depth_, limits_.max_call_depth);
                return exec(s.bodies[0], out);
            }
            case Stmt::Kind::Break: return Flow::Break;
            case Stmt::Kind::Continue: return Flow::Continue;
        }
    } catch (TemplateError& e) {
        if (e.line == 0) e.line = s.line;
        throw;
    }
    return Flow::Normal;
}

// A filter chain: e.a is the input (null at the chain's start for {% filter %} blocks).
Value Evaluator::filter(const Expr& e, Value input) {
    if (e.a) input = e.a->kind == Expr::Kind::Filter ? filter(*e.a, std::move(input)) : eval(*e.a);
    CallArgs args;
    for (const auto& a : e.args) args.positional.push_back(eval(*a));
    for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, eval(*v));
    try {
        return apply_filter(*this, e.name, input, args);
    } catch (TemplateError& err) {
        if (err.line == 0) err.line = e.line;
        throw;
    }
}

Value Evaluator::call(const Value& callee, CallArgs& args, int line) {
    if (callee.is_undefined()) fail_undefined(callee);
    if (callee.type != Value::Type::Callable) fail("'" + type_name(callee) + "' object is not callable", line);
    return callee.callable->fn(*this, args);
}

Value Evaluator::eval(const Expr& e) {
    spend(1);
    Value v = eval_node(e);
    // Reading a long string costs in proportion (its length, a search in it, a copy), so
    // a loop over a huge string runs out of steps rather than running for hours.
    if (v.is_string() && v.text.size() > 4096) spend(v.text.size() / 64);
    return v;
}

Value Evaluator::eval_node(const Expr& e) {
    try {
        switch (e.kind) {
            case Expr::Kind::Literal: return e.value;
            case Expr::Kind::Name: return lookup(e.name);
            case Expr::Kind::List:
            case Expr::Kind::Tuple: {
                List items;
                items.reserve(e.args.size());
                for (const auto& a : e.args) items.push_back(eval(*a));
                return make_list(std::move(items), e.kind == Expr::Kind::Tuple);
            }
            case Expr::Kind::Dict: {
                Dict d;
                for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
                    Value k = eval(*e.args[i]);
                    if (k.is_list() && !k.is_tuple) fail("unhashable type: 'list'");
                    if (k.is_dict()) fail("unhashable type: 'dict'");
                    d.set(std::move(k), eval(*e.args[i + 1]));
                }
                return Value::from_dict(std::move(d));
            }
            case Expr::Kind::GetAttr: return get_attribute(eval(*e.a), e.name);
            case Expr::Kind::GetItem: return get_item(eval(*e.a), eval(*e.args[0]));
            case Expr::Kind::Slice: {
                const Value target = eval(*e.a);
                Value parts[3];
                for (int i = 0; i < 3; ++i) parts[i] = e.args[size_t(i)] ? eval(*e.args[size_t(i)]) : Value::none();
                CallArgs args;
                for (auto& p : parts) args.positional.push_back(p);
                return apply_filter(*this, "__slice__", target, args);
            }
            case Expr::Kind::Call: {
                const Value callee = eval(*e.a);
                CallArgs args;
                for (const auto& a : e.args) args.positional.push_back(eval(*a));
                for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, eval(*v));
                return call(callee, args, e.line);
            }
            case Expr::Kind::Filter: return filter(e, Value());
            case Expr::Kind::Test: {
                const Value input = eval(*e.a);
                CallArgs args;
                for (const auto& a : e.args) args.positional.push_back(eval(*a));
                for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, eval(*v));
                return Value::from_bool(apply_test(*this, e.name, input, args) != e.negated);
            }
            case Expr::Kind::Unary: {
                const Value v = eval(*e.a);
                if (e.name == "not") return Value::from_bool(!truthy(v));
                if (v.is_undefined()) fail_undefined(v);
                if (!v.is_number()) fail("bad operand type for unary " + e.name + ": '" + type_name(v) + "'");
                if (e.name == "+") return v.type == Value::Type::Bool ? Value::from_int(v.boolean) : v;
                if (v.type == Value::Type::Float) return Value::from_float(-v.number);
                if (as_int(v) == INT64_MIN) fail("integer overflow");
                return Value::from_int(-as_int(v));
            }
            case Expr::Kind::Binary: {
                if (e.name == "and") {
                    Value a = eval(*e.a);
                    return truthy(a) ? eval(*e.args[0]) : a;
                }
                if (e.name == "or") {
                    Value a = eval(*e.a);
                    return truthy(a) ? a : eval(*e.args[0]);
                }
                const Value a = eval(*e.a), b = eval(*e.args[0]);
                if (e.name == "~") return make_string(to_str(a) + to_str(b));
                return arithmetic(*this, e.name, a, b);
            }
            case Expr::Kind::Compare: {
                Value left = eval(*e.a);
                for (size_t i = 0; i < e.ops.size(); ++i) {
                    Value right = eval(*e.args[i]);
                    if (!compare(*this, e.ops[i], left, right)) return Value::from_bool(false);
                    left = std::move(right);
                }
                return Value::from_bool(true);
            }
            case Expr::Kind::Conditional:
                if (truthy(eval(*e.a))) return eval(*e.args[0]);
                return e.args[1] ? eval(*e.args[1]) : Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
        }
    } catch (TemplateError& err) {
        if (err.line == 0) err.line = e.line;
        throw;
    }
    fail("unknown expression", e.line);
}

}  // namespace attend::jinja
