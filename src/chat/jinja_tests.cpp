// chat/jinja_tests.cpp — Jinja's tests (`x is defined`, `n is divisibleby 3`, ...), as
// jinja2/tests.py defines them on Python values (so `true is number` holds, as in Python).
#include "chat/jinja_eval.hpp"
#include "chat/jinja_strings.hpp"

namespace attend::jinja {

bool apply_test(Evaluator& ev, const std::string& name, const Value& v, CallArgs& args) {
    using T = Value::Type;
    const Value* other = find_arg(args, 0, "other");
    const auto need_other = [&]() -> const Value& {
        if (!other) fail("test '" + name + "' needs an argument");
        return *other;
    };
    const auto need_int = [&](const char* what) {
        if (v.is_undefined()) fail(undefined_message(v));
        if (v.type != T::Int && v.type != T::Bool) fail(std::string("test '") + what + "' needs an integer, got " + type_name(v));
        return v.type == T::Bool ? int64_t(v.boolean) : v.integer;
    };
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.is_none();
    if (name == "string") return v.is_string();
    if (name == "number") return v.is_number();
    if (name == "integer") return v.type == T::Int;
    if (name == "float") return v.type == T::Float;
    if (name == "boolean") return v.type == T::Bool;
    if (name == "true") return v.type == T::Bool && v.boolean;
    if (name == "false") return v.type == T::Bool && !v.boolean;
    if (name == "mapping") return v.is_dict();
    if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
    if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
    if (name == "callable") return v.type == T::Callable;
    if (name == "even") return need_int("even") % 2 == 0;
    if (name == "odd") return need_int("odd") % 2 != 0;
    if (name == "divisibleby") {
        const int64_t n = need_int("divisibleby");
        const Value& d = need_other();
        if (!d.is_number() || d.type == T::Float) fail("divisibleby needs an integer");
        const int64_t k = d.type == T::Bool ? d.boolean : d.integer;
        if (k == 0) fail("integer modulo by zero");
        return n % k == 0;
    }
    if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") return equal(v, need_other());
    if (name == "ne" || name == "!=") return !equal(v, need_other());
    if (name == "lt" || name == "lessthan" || name == "<") return less(v, need_other());
    if (name == "gt" || name == "greaterthan" || name == ">") return less(need_other(), v);
    if (name == "le" || name == "<=") return !less(need_other(), v);
    if (name == "ge" || name == ">=") return !less(v, need_other());
    if (name == "in") {
        const Value& seq = need_other();
        if (seq.is_string()) {
            if (!v.is_string()) fail("'in <string>' requires string as left operand, not " + type_name(v));
            return seq.text.find(v.text) != std::string::npos;
        }
        if (seq.is_dict()) return seq.dict->find(v) != nullptr;
        for (const Value& item : iterate(seq))
            if (equal(item, v)) return true;
        return false;
    }
    if (name == "lower") return v.is_string() && py_lower(v.text) == v.text;
    if (name == "upper") return v.is_string() && py_upper(v.text) == v.text;
    if (name == "escaped") return false;
    (void)ev;
    fail("No test named '" + name + "'.");
}

}  // namespace attend::jinja
