// chat/jinja_access.cpp — `a.b`, `a[b]` and iteration as Jinja's sandbox does them: attribute
// first then item for `.`, item first then attribute for `[]`, and a missing one is Undefined
// (an error only when that Undefined is then used). Attributes of str, dict and list are the
// Python methods templates call (`content.split(...)`, `message.get(...)`); the mutating ones
// (`append`, `update`, ...) are refused, as in Hugging Face's immutable sandbox.
#include <algorithm>

#include "chat/jinja_eval.hpp"
#include "chat/jinja_strings.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::jinja {
namespace {

std::string object_repr(const Value& v) {
    if (v.is_none()) return "None";
    return type_name(v) + " object";
}

// Jinja's message for a missing attribute or element, e.g. "'dict object' has no attribute 'x'"
// (appended piece by piece: GCC 12 warns falsely, -Wrestrict, on long operator+ chains).
Value missing(const std::string& owner, const std::string& what, const std::string& name) {
    std::string m = "'";
    m += owner;
    m += "' has no ";
    m += what;
    m += ' ';
    m += name;
    return Value::undefined(std::move(m));
}
std::string quoted(const std::string& s) { return "'" + s + "'"; }

Value bound(const std::string& name, std::function<Value(Evaluator&, CallArgs&)> fn) {
    return Value::from_callable(name, std::move(fn));
}

Value string_method(const Value& self, const std::string& name) {
    const std::string s = self.text;
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        return bound(name, [s, name](Evaluator& ev, CallArgs& args) {
            check_args(args, name.c_str(), 1, {"chars"});
            const Value* chars = find_arg(args, 0, "chars");
            std::u32string set;
            if (chars && !chars->is_none()) set = decode(str_arg(chars, "", name.c_str()));
            return ev.make_string(py_strip(s, name != "rstrip", name != "lstrip", chars && !chars->is_none() ? &set : nullptr));
        });
    }
    if (name == "split" || name == "rsplit") {
        return bound(name, [s, name](Evaluator& ev, CallArgs& args) {
            check_args(args, name.c_str(), 2, {"sep", "maxsplit"});
            List items;
            for (auto& p : py_split(s, find_arg(args, 0, "sep"), int_arg(find_arg(args, 1, "maxsplit"), -1, "maxsplit"), name == "rsplit"))
                items.push_back(Value::from_string(std::move(p)));
            ev.spend(items.size());
            return ev.make_list(std::move(items));
        });
    }
    if (name == "splitlines") {
        return bound(name, [s](Evaluator& ev, CallArgs& args) {
            check_args(args, "splitlines", 0, {});
            List items;
            for (auto& p : py_splitlines(s)) items.push_back(Value::from_string(std::move(p)));
            return ev.make_list(std::move(items));
        });
    }
    if (name == "startswith" || name == "endswith") {
        return bound(name, [s, name](Evaluator&, CallArgs& args) {
            check_args(args, name.c_str(), 1, {});
            const Value* arg = find_arg(args, 0, "prefix");
            if (!arg) fail(name + "() takes at least 1 argument (0 given)");
            List options = arg->is_list() && arg->is_tuple ? *arg->list : List{*arg};
            for (const Value& o : options) {
                if (!o.is_string()) fail(name + " first arg must be str or a tuple of str, not " + type_name(o));
                const std::string& p = o.text;
                if (p.size() <= s.size() && (name == "startswith" ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0))
                    return Value::from_bool(true);
            }
            return Value::from_bool(false);
        });
    }
    if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" || name == "swapcase") {
        return bound(name, [s, name](Evaluator& ev, CallArgs& args) {
            check_args(args, name.c_str(), 0, {});
            if (name == "upper") return ev.make_string(py_upper(s));
            if (name == "lower") return ev.make_string(py_lower(s));
            if (name == "title") return ev.make_string(py_title_method(s));
            if (name == "capitalize") return ev.make_string(py_capitalize(s));
            fail("swapcase() is not supported");
        });
    }
    if (name == "replace") {
        return bound(name, [s](Evaluator& ev, CallArgs& args) {
            check_args(args, "replace", 3, {});
            const Value* old = find_arg(args, 0, "old");
            const Value* with = find_arg(args, 1, "new");
            if (!old || !with) fail("replace() takes at least 2 arguments");
            const std::string o = str_arg(old, "", "replace"), w = str_arg(with, "", "replace");
            if (o.empty() && !w.empty() && s.size() * (w.size() + 4) > ev.limits().max_output_bytes) fail("string too long");
            if (!o.empty() && w.size() > o.size() && (s.size() / o.size()) * w.size() > ev.limits().max_output_bytes) fail("string too long");
            return ev.make_string(py_replace(s, o, w, int_arg(find_arg(args, 2, "count"), -1, "count")));
        });
    }
    if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
        return bound(name, [s, name](Evaluator&, CallArgs& args) {
            check_args(args, name.c_str(), 1, {});
            const std::string sub = str_arg(find_arg(args, 0, "sub"), "", name.c_str());
            if (name == "count") {
                if (sub.empty()) return Value::from_int(int64_t(code_point_count(s)) + 1);
                int64_t n = 0;
                for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
                return Value::from_int(n);
            }
            const size_t at = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
            if (at == std::string::npos) {
                if (name == "index" || name == "rindex") fail("substring not found");
                return Value::from_int(-1);
            }
            return Value::from_int(int64_t(code_point_count(std::string_view(s).substr(0, at))));
        });
    }
    if (name == "isdigit" || name == "isalpha" || name == "isspace" || name == "isalnum" || name == "isupper" || name == "islower") {
        return bound(name, [s, name](Evaluator&, CallArgs&) {
            const std::u32string u = decode(s);
            if (u.empty()) return Value::from_bool(false);
            if (name == "isupper" || name == "islower") {
                const std::string other = name == "isupper" ? py_lower(s) : py_upper(s);
                return Value::from_bool(other != s && (name == "isupper" ? py_upper(s) : py_lower(s)) == s);
            }
            for (char32_t c : u) {
                const bool ok = name == "isdigit" ? (c >= '0' && c <= '9') || unicode::is_number(c)
                              : name == "isalpha" ? unicode::is_letter(c)
                              : name == "isspace" ? py_isspace(c)
                                                  : unicode::is_letter(c) || unicode::is_number(c);
                if (!ok) return Value::from_bool(false);
            }
            return Value::from_bool(true);
        });
    }
    if (name == "join") {
        return bound(name, [s](Evaluator& ev, CallArgs& args) {
            check_args(args, "join", 1, {});
            const Value* items = find_arg(args, 0, "iterable");
            if (!items) fail("join() takes exactly one argument");
            std::string out;
            bool first = true;
            for (const Value& v : iterate(*items)) {
                if (!v.is_string()) fail("sequence item: expected str instance, " + type_name(v) + " found");
                if (!first) out += s;
                first = false;
                out += v.text;
                if (out.size() > ev.limits().max_output_bytes) fail("string too long");
            }
            return ev.make_string(std::move(out));
        });
    }
    return missing("str object", "attribute", quoted(name));
}

Value dict_method(const Value& self, const std::string& name) {
    const auto d = self.dict;
    if (name == "get") {
        return bound(name, [d](Evaluator&, CallArgs& args) {
            check_args(args, "get", 2, {});
            const Value* key = find_arg(args, 0, "key");
            if (!key) fail("get expected at least 1 argument, got 0");
            const Value* found = d->find(*key);
            if (found) return *found;
            const Value* fallback = find_arg(args, 1, "default");
            return fallback ? *fallback : Value::none();
        });
    }
    if (name == "items" || name == "keys" || name == "values") {
        return bound(name, [d, name](Evaluator& ev, CallArgs& args) {
            check_args(args, name.c_str(), 0, {});
            List out;
            out.reserve(d->items.size());
            for (const auto& [k, v] : d->items) {
                if (name == "items") out.push_back(Value::from_list({k, v}, true));
                else out.push_back(name == "keys" ? k : v);
            }
            ev.spend(out.size());
            return ev.make_list(std::move(out));
        });
    }
    if (name == "copy") {
        Value copy = self;
        return bound(name, [copy](Evaluator&, CallArgs&) { return copy; });
    }
    return Value();  // not a method: the caller looks the key up
}

bool mutating_method(const Value& obj, const std::string& name) {
    static const char* const dict_names[] = {"clear", "pop", "popitem", "setdefault", "update", "fromkeys"};
    static const char* const list_names[] = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"};
    if (obj.is_dict())
        return std::any_of(std::begin(dict_names), std::end(dict_names), [&](const char* n) { return name == n; });
    if (obj.is_list())
        return std::any_of(std::begin(list_names), std::end(list_names), [&](const char* n) { return name == n; });
    return false;
}

Value unsafe(const Value& obj, const std::string& name) {
    const std::string what = "access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe.";
    return Value::from_callable(name, [what](Evaluator&, CallArgs&) -> Value { fail(what); });
}

Value list_method(const Value& self, const std::string& name) {
    const auto l = self.list;
    if (name == "index" || name == "count") {
        return bound(name, [l, name](Evaluator&, CallArgs& args) {
            const Value* x = find_arg(args, 0, "value");
            if (!x) fail(name + "() takes exactly one argument (0 given)");
            int64_t n = 0;
            for (size_t i = 0; i < l->size(); ++i) {
                if (!equal((*l)[i], *x)) continue;
                if (name == "index") return Value::from_int(int64_t(i));
                ++n;
            }
            if (name == "index") fail(repr(*x) + " is not in list");
            return Value::from_int(n);
        });
    }
    return missing(type_name(self) + " object", "attribute", quoted(name));
}

}  // namespace

std::string undefined_message(const Value& v) { return v.text.empty() ? "value is undefined" : v.text; }

Value get_attribute(const Value& obj, const std::string& name) {
    switch (obj.type) {
        case Value::Type::Undefined: fail(undefined_message(obj));
        case Value::Type::String: return string_method(obj, name);
        case Value::Type::Dict: {
            if (mutating_method(obj, name)) return unsafe(obj, name);
            Value method = dict_method(obj, name);
            if (!method.is_undefined() || !method.text.empty()) return method;
            if (const Value* v = obj.dict->find(std::string_view(name))) return *v;
            return missing("dict object", "attribute", quoted(name));
        }
        case Value::Type::List:
            if (mutating_method(obj, name)) return unsafe(obj, name);
            return list_method(obj, name);
        case Value::Type::Namespace:
            if (const Value* v = obj.ns->attributes.find(std::string_view(name))) return *v;
            return missing("Namespace object", "attribute", quoted(name));
        default: return missing(object_repr(obj), "attribute", quoted(name));
    }
}

Value get_item(const Value& obj, const Value& key) {
    if (obj.is_undefined()) fail(undefined_message(obj));
    if (obj.is_dict()) {
        if (const Value* v = obj.dict->find(key)) return *v;
    } else if ((obj.is_list() || obj.is_string()) && key.is_number() && key.type != Value::Type::Float) {
        const int64_t i = key.type == Value::Type::Bool ? key.boolean : key.integer;
        if (obj.is_list()) {
            const int64_t n = int64_t(obj.list->size());
            const int64_t at = i < 0 ? i + n : i;
            if (at >= 0 && at < n) return (*obj.list)[size_t(at)];
        } else {
            const std::u32string u = decode(obj.text);
            const int64_t n = int64_t(u.size());
            const int64_t at = i < 0 ? i + n : i;
            if (at >= 0 && at < n) return Value::from_string(encode(std::u32string(1, u[size_t(at)])));
        }
    } else if (obj.type == Value::Type::Namespace && key.is_string()) {
        return get_attribute(obj, key.text);
    }
    if (key.is_string() && !obj.is_dict()) {
        Value v = get_attribute(obj, key.text);
        if (!v.is_undefined()) return v;
    } else if (key.is_string() && obj.is_dict()) {
        Value method = dict_method(obj, key.text);
        if (method.type == Value::Type::Callable) return method;
    }
    if (key.is_string()) return missing(object_repr(obj), "attribute", quoted(key.text));
    return missing(object_repr(obj), "element", repr(key));
}

List iterate(const Value& v) {
    switch (v.type) {
        case Value::Type::Undefined: return {};
        case Value::Type::List: return *v.list;
        case Value::Type::Dict: {
            List keys;
            keys.reserve(v.dict->items.size());
            for (const auto& [k, val] : v.dict->items) keys.push_back(k);
            return keys;
        }
        case Value::Type::String: {
            List chars;
            for (char32_t c : decode(v.text)) chars.push_back(Value::from_string(encode(std::u32string(1, c))));
            return chars;
        }
        default: fail("'" + type_name(v) + "' object is not iterable");
    }
}

}  // namespace attend::jinja
