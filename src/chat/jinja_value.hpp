// chat/jinja_value.hpp — the values a Jinja template computes with, behaving as the Python
// objects Jinja would hold: None, bool, int, float, str (UTF-8), list, dict (insertion order),
// Jinja's Undefined, namespace() objects and callables (globals, macros, bound methods).
//
// Lists and dicts are immutable once built (Hugging Face renders in an immutable sandbox), so
// they are shared, never copied; only a namespace is mutable (`{% set ns.x = ... %}`).
// Internal to src/chat.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace attend::jinja {

class Evaluator;
struct Value;

using List = std::vector<Value>;
struct Dict;
struct Namespace;

// Arguments of a call: positional, then keyword (`f(1, indent=4)`).
struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
};
struct Callable {
    std::string name;
    std::function<Value(Evaluator&, CallArgs&)> fn;
};

struct Value {
    enum class Type { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };
    Type type = Type::Undefined;
    bool boolean = false;
    int64_t integer = 0;
    double number = 0;
    std::string text;  // String; for Undefined: what Jinja's UndefinedError would say if used
    std::shared_ptr<const List> list;
    std::shared_ptr<const Dict> dict;
    std::shared_ptr<Namespace> ns;
    std::shared_ptr<const Callable> callable;
    bool is_tuple = false;  // a List written (a, b): prints as Python's tuple
    uint32_t depth = 0;     // nesting of lists/dicts inside (bounded: printing and freeing recurse)
    static constexpr uint32_t max_depth = 500;

    static Value undefined(std::string why) { Value v; v.text = std::move(why); return v; }
    static Value none() { Value v; v.type = Type::None; return v; }
    static Value from_bool(bool b) { Value v; v.type = Type::Bool; v.boolean = b; return v; }
    static Value from_int(int64_t i) { Value v; v.type = Type::Int; v.integer = i; return v; }
    static Value from_float(double f) { Value v; v.type = Type::Float; v.number = f; return v; }
    static Value from_string(std::string s) { Value v; v.type = Type::String; v.text = std::move(s); return v; }
    static Value from_list(List items, bool tuple = false);
    static Value from_dict(Dict d);
    static Value from_callable(std::string name, std::function<Value(Evaluator&, CallArgs&)> fn);
    static Value from_json(const nlohmann::ordered_json& j, uint32_t depth = 0);  // objects keep their key order

    bool is_undefined() const { return type == Type::Undefined; }
    bool is_none() const { return type == Type::None; }
    bool is_string() const { return type == Type::String; }
    bool is_number() const { return type == Type::Int || type == Type::Float || type == Type::Bool; }
    bool is_list() const { return type == Type::List; }
    bool is_dict() const { return type == Type::Dict; }
    double as_double() const { return type == Type::Float ? number : double(type == Type::Bool ? boolean : integer); }
};

struct Dict {
    std::vector<std::pair<Value, Value>> items;  // insertion order, keys unique
    const Value* find(const Value& key) const;
    const Value* find(std::string_view key) const;
    void set(Value key, Value value);  // replace in place, or append
};
struct Namespace {
    Dict attributes;
};

// Python semantics.
bool truthy(const Value& v);
bool equal(const Value& a, const Value& b);  // ==: 1 == 1.0 == True; Undefined equals only Undefined
// <, for sorting and comparisons: numbers with numbers, strings by code point, lists
// lexicographically; anything else throws (Python's TypeError).
bool less(const Value& a, const Value& b);
std::string to_str(const Value& v);   // str(v): what {{ v }} prints
std::string repr(const Value& v);     // repr(v): how v prints inside a list or dict
std::string type_name(const Value& v);  // "str", "dict", ... (Jinja's messages say "'dict object'")
std::string format_float(double f);     // Python's repr of a float: 1.0, 0.1, 1e+20, inf, nan
// json.dumps(v, ensure_ascii=False, indent=indent) (indent < 0: none) — Hugging Face's tojson.
std::string to_json(const Value& v, int indent);

// UTF-8 helpers with Python str semantics (indexes count code points).
std::u32string decode(std::string_view s);
std::string encode(std::u32string_view s);
size_t code_point_count(std::string_view s);
bool py_isspace(char32_t c);
std::string py_strip(std::string_view s, bool left, bool right, const std::u32string* chars = nullptr);

}  // namespace attend::jinja
