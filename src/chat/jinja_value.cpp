// chat/jinja_value.cpp — Python's semantics for the values a template computes with: truth,
// equality, ordering, str(), repr(), and json.dumps as Hugging Face's tojson calls it.
#include "chat/jinja_value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/jinja_error.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::jinja {

Value Value::from_list(List items, bool tuple) {
    Value v;
    v.type = Type::List;
    for (const Value& item : items) v.depth = std::max(v.depth, item.depth + 1);
    if (v.depth > max_depth) fail("value nested too deeply (over " + std::to_string(max_depth) + " levels)");
    v.list = std::make_shared<const List>(std::move(items));
    v.is_tuple = tuple;
    return v;
}
Value Value::from_dict(Dict d) {
    Value v;
    v.type = Type::Dict;
    for (const auto& [k, item] : d.items) v.depth = std::max({v.depth, k.depth + 1, item.depth + 1});
    if (v.depth > max_depth) fail("value nested too deeply (over " + std::to_string(max_depth) + " levels)");
    v.dict = std::make_shared<const Dict>(std::move(d));
    return v;
}
Value Value::from_callable(std::string name, std::function<Value(Evaluator&, CallArgs&)> fn) {
    Value v;
    v.type = Type::Callable;
    v.callable = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
    return v;
}
Value Value::from_json(const nlohmann::ordered_json& j, uint32_t depth) {
    if (depth > max_depth) fail("JSON nested too deeply (over " + std::to_string(max_depth) + " levels)");
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null: return none();
        case nlohmann::ordered_json::value_t::boolean: return from_bool(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer: return from_int(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            const uint64_t u = j.get<uint64_t>();
            return u <= uint64_t(INT64_MAX) ? from_int(int64_t(u)) : from_float(double(u));
        }
        case nlohmann::ordered_json::value_t::number_float: return from_float(j.get<double>());
        case nlohmann::ordered_json::value_t::string: return from_string(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            List items;
            items.reserve(j.size());
            for (const auto& e : j) items.push_back(from_json(e, depth + 1));
            return from_list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            Dict d;
            d.items.reserve(j.size());
            for (auto it = j.begin(); it != j.end(); ++it) d.items.emplace_back(from_string(it.key()), from_json(it.value(), depth + 1));
            return from_dict(std::move(d));
        }
        default: return none();  // binary / discarded: not produced by the JSON parser
    }
}

const Value* Dict::find(const Value& key) const {
    for (const auto& [k, v] : items)
        if (equal(k, key)) return &v;
    return nullptr;
}
const Value* Dict::find(std::string_view key) const {
    for (const auto& [k, v] : items)
        if (k.type == Value::Type::String && k.text == key) return &v;
    return nullptr;
}
void Dict::set(Value key, Value value) {
    for (auto& [k, v] : items)
        if (equal(k, key)) {
            v = std::move(value);
            return;
        }
    items.emplace_back(std::move(key), std::move(value));
}

bool truthy(const Value& v) {
    switch (v.type) {
        case Value::Type::Undefined:
        case Value::Type::None: return false;
        case Value::Type::Bool: return v.boolean;
        case Value::Type::Int: return v.integer != 0;
        case Value::Type::Float: return v.number != 0;
        case Value::Type::String: return !v.text.empty();
        case Value::Type::List: return !v.list->empty();
        case Value::Type::Dict: return !v.dict->items.empty();
        default: return true;
    }
}

bool equal(const Value& a, const Value& b) {
    using T = Value::Type;
    if (a.is_number() && b.is_number()) {
        if (a.type != T::Float && b.type != T::Float)
            return (a.type == T::Bool ? a.boolean : a.integer) == (b.type == T::Bool ? b.boolean : b.integer);
        return a.as_double() == b.as_double();
    }
    if (a.type != b.type) return false;
    switch (a.type) {
        case T::Undefined:
        case T::None: return true;
        case T::String: return a.text == b.text;
        case T::List:
            if (a.list->size() != b.list->size()) return false;
            for (size_t i = 0; i < a.list->size(); ++i)
                if (!equal((*a.list)[i], (*b.list)[i])) return false;
            return true;
        case T::Dict:
            if (a.dict->items.size() != b.dict->items.size()) return false;
            for (const auto& [k, v] : a.dict->items) {
                const Value* other = b.dict->find(k);
                if (!other || !equal(v, *other)) return false;
            }
            return true;
        case T::Namespace: return a.ns == b.ns;
        case T::Callable: return a.callable == b.callable;
        default: return false;
    }
}

bool less(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.type != Value::Type::Float && b.type != Value::Type::Float)
            return (a.type == Value::Type::Bool ? a.boolean : a.integer) < (b.type == Value::Type::Bool ? b.boolean : b.integer);
        return a.as_double() < b.as_double();
    }
    if (a.is_string() && b.is_string()) return a.text < b.text;  // UTF-8 byte order is code point order
    if (a.is_list() && b.is_list()) {
        const List &x = *a.list, &y = *b.list;
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (equal(x[i], y[i])) continue;
            return less(x[i], y[i]);
        }
        return x.size() < y.size();
    }
    if (a.is_undefined()) fail("'" + a.text + "'");
    fail("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
}

std::string type_name(const Value& v) {
    switch (v.type) {
        case Value::Type::Undefined: return "Undefined";
        case Value::Type::None: return "NoneType";
        case Value::Type::Bool: return "bool";
        case Value::Type::Int: return "int";
        case Value::Type::Float: return "float";
        case Value::Type::String: return "str";
        case Value::Type::List: return v.is_tuple ? "tuple" : "list";
        case Value::Type::Dict: return "dict";
        case Value::Type::Namespace: return "Namespace";
        default: return "function";
    }
}

std::string format_float(double f) {
    if (std::isnan(f)) return "nan";
    if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
    // Python's repr: the shortest digits that round-trip; positional for 1e-4 <= |f| < 1e16,
    // otherwise d.ddde+XX.
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
    std::string s(buf, res.ptr);
    const size_t e = s.find('e');
    std::string mantissa = s.substr(0, e);
    const int exponent = std::stoi(s.substr(e + 1));
    const bool negative = mantissa[0] == '-';
    if (negative) mantissa.erase(0, 1);
    std::string digits;
    for (char c : mantissa)
        if (c != '.') digits += c;
    std::string out;
    if (exponent < -4 || exponent >= 16) {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char ebuf[16];
        std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        out += ebuf;
    } else if (exponent < 0) {
        out = "0." + std::string(size_t(-exponent - 1), '0') + digits;
    } else {
        if (digits.size() <= size_t(exponent) + 1) {
            out = digits + std::string(size_t(exponent) + 1 - digits.size(), '0') + ".0";
        } else {
            out = digits.substr(0, size_t(exponent) + 1) + "." + digits.substr(size_t(exponent) + 1);
        }
    }
    return negative ? "-" + out : out;
}

namespace {

bool py_isprintable(char32_t c) {
    if (c == ' ') return true;
    switch (unicode::classify(c)) {
        case unicode::Class::Control:
        case unicode::Class::Format:
        case unicode::Class::Unassigned:
        case unicode::Class::Separator: return false;
        default: return true;
    }
}

std::string repr_string(const std::string& s) {
    const bool use_double = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char quote = use_double ? '"' : '\'';
    std::string out(1, quote);
    for (size_t i = 0; i < s.size();) {
        const auto step = unicode::next_utf8(s, i);
        const char32_t c = step.cp;
        if (c == char32_t(quote) || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (!step.valid || !py_isprintable(c)) {
            char buf[16];
            const uint32_t u = step.valid ? uint32_t(c) : uint32_t(uint8_t(s[i]));
            if (u < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", u);
            else if (u < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", u);
            else std::snprintf(buf, sizeof buf, "\\U%08x", u);
            out += buf;
        } else {
            out.append(s, i, step.len);
        }
        i += step.len;
    }
    out += quote;
    return out;
}

void json_string(const std::string& s, std::string& out) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += char(c);
                }
        }
    }
    out += '"';
}

void json_dump(const Value& v, int indent, int level, std::string& out, int depth) {
    if (depth > 512) fail("tojson: nesting too deep");
    using T = Value::Type;
    const auto newline = [&](int lvl) {
        out += '\n';
        out.append(size_t(indent) * size_t(lvl), ' ');
    };
    switch (v.type) {
        case T::None: out += "null"; return;
        case T::Bool: out += v.boolean ? "true" : "false"; return;
        case T::Int: out += std::to_string(v.integer); return;
        case T::Float:
            if (std::isnan(v.number)) out += "NaN";
            else if (std::isinf(v.number)) out += v.number < 0 ? "-Infinity" : "Infinity";
            else out += format_float(v.number);
            return;
        case T::String: json_string(v.text, out); return;
        case T::List: {
            if (v.list->empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (size_t i = 0; i < v.list->size(); ++i) {
                if (i) out += indent >= 0 ? "," : ", ";
                if (indent >= 0) newline(level + 1);
                json_dump((*v.list)[i], indent, level + 1, out, depth + 1);
            }
            if (indent >= 0) newline(level);
            out += ']';
            return;
        }
        case T::Dict: {
            if (v.dict->items.empty()) {
                out += "{}";
                return;
            }
            out += '{';
            bool first = true;
            for (const auto& [k, val] : v.dict->items) {
                if (!first) out += indent >= 0 ? "," : ", ";
                first = false;
                if (indent >= 0) newline(level + 1);
                // json.dumps turns non-string keys into strings; others are a TypeError
                if (k.is_string()) json_string(k.text, out);
                else if (k.type == T::Bool) json_string(k.boolean ? "true" : "false", out);
                else if (k.type == T::Int) json_string(std::to_string(k.integer), out);
                else if (k.type == T::Float) json_string(format_float(k.number), out);
                else if (k.is_none()) json_string("null", out);
                else fail("keys must be str, int, float, bool or None, not " + type_name(k));
                out += ": ";
                json_dump(val, indent, level + 1, out, depth + 1);
            }
            if (indent >= 0) newline(level);
            out += '}';
            return;
        }
        default: fail("Object of type " + type_name(v) + " is not JSON serializable");
    }
}

}  // namespace

std::string repr(const Value& v) {
    switch (v.type) {
        case Value::Type::Undefined: return "Undefined";
        case Value::Type::String: return repr_string(v.text);
        default: return to_str(v);
    }
}

namespace {
// A namespace can hold itself ({% set ns.me = ns %}): printing stops at a depth, as no
// list or dict (their depth is bounded when built) could reach it.
thread_local int print_depth = 0;
struct PrintDepth {
    PrintDepth() {
        if (++print_depth > int(Value::max_depth) * 2) {
            print_depth = 0;
            fail("value nested too deeply to print");
        }
    }
    ~PrintDepth() {
        if (print_depth > 0) --print_depth;
    }
};
}  // namespace

std::string to_str(const Value& v) {
    PrintDepth guard;
    switch (v.type) {
        case Value::Type::Undefined: return "";
        case Value::Type::None: return "None";
        case Value::Type::Bool: return v.boolean ? "True" : "False";
        case Value::Type::Int: return std::to_string(v.integer);
        case Value::Type::Float: return format_float(v.number);
        case Value::Type::String: return v.text;
        case Value::Type::List: {
            std::string out(1, v.is_tuple ? '(' : '[');
            for (size_t i = 0; i < v.list->size(); ++i) out += (i ? ", " : "") + repr((*v.list)[i]);
            if (v.is_tuple && v.list->size() == 1) out += ',';
            out += v.is_tuple ? ')' : ']';
            return out;
        }
        case Value::Type::Dict: {
            std::string out = "{";
            bool first = true;
            for (const auto& [k, val] : v.dict->items) {
                out += (first ? "" : ", ") + repr(k) + ": " + repr(val);
                first = false;
            }
            return out + "}";
        }
        case Value::Type::Namespace: {
            Value d = Value::from_dict(v.ns->attributes);
            return "<Namespace " + to_str(d) + ">";
        }
        default: return "<function " + v.callable->name + ">";
    }
}

std::string to_json(const Value& v, int indent) {
    std::string out;
    json_dump(v, indent, 0, out, 0);
    return out;
}

std::u32string decode(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const auto step = unicode::next_utf8(s, i);
        out += step.valid ? step.cp : char32_t(0xDC00 + uint8_t(s[i]));  // surrogateescape, so bytes survive
        i += step.len;
    }
    return out;
}

std::string encode(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) {
        if (c >= 0xDC80 && c <= 0xDCFF) out += char(c - 0xDC00);
        else unicode::append_utf8(out, c);
    }
    return out;
}

size_t code_point_count(std::string_view s) {
    size_t n = 0;
    for (size_t i = 0; i < s.size();) {
        if (uint8_t(s[i]) < 0x80) {  // ASCII: one byte, one code point
            ++i;
        } else {
            i += unicode::next_utf8(s, i).len;
        }
        ++n;
    }
    return n;
}

bool py_isspace(char32_t c) { return unicode::is_white_space(c) || (c >= 0x1c && c <= 0x1f); }

std::string py_strip(std::string_view s, bool left, bool right, const std::u32string* chars) {
    const std::u32string u = decode(s);
    const auto strip = [&](char32_t c) { return chars ? chars->find(c) != std::u32string::npos : py_isspace(c); };
    size_t b = 0, e = u.size();
    if (left)
        while (b < e && strip(u[b])) ++b;
    if (right)
        while (e > b && strip(u[e - 1])) --e;
    return encode(std::u32string_view(u).substr(b, e - b));
}

}  // namespace attend::jinja
