// chat/jinja_filters.cpp — Jinja's builtin filters (jinja2/filters.py) that chat templates use,
// with Hugging Face's tojson (json.dumps, ensure_ascii=False, keys in insertion order) in
// place of Jinja's HTML-escaping one. Unknown filters fail, as Jinja's compiler does.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "chat/jinja_eval.hpp"
#include "chat/jinja_strings.hpp"
#include "tokenizers/unicode.hpp"

namespace attend::jinja {
namespace {

// Python's slice semantics on n items: the indices a[start:stop:step] picks.
std::vector<size_t> slice_indices(int64_t n, const Value& start_v, const Value& stop_v, const Value& step_v) {
    const int64_t step = int_arg(&step_v, 1, "slice step");
    if (step == 0) fail("slice step cannot be zero");
    const auto clamp = [&](const Value& v, int64_t fallback_pos, int64_t fallback_neg) {
        if (v.is_none()) return step > 0 ? fallback_pos : fallback_neg;
        int64_t i = int_arg(&v, 0, "slice index");
        if (i < 0) i += n;
        if (step > 0) return std::clamp<int64_t>(i, 0, n);
        return std::clamp<int64_t>(i, -1, n - 1);
    };
    const int64_t start = clamp(start_v, 0, n - 1), stop = clamp(stop_v, n, -1);
    std::vector<size_t> out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(size_t(i));
    return out;
}

// Case-insensitive sort key, as Jinja's ignore_case (lower() on strings).
Value sort_key(const Value& v, bool case_sensitive) {
    if (!case_sensitive && v.is_string()) return Value::from_string(py_lower(v.text));
    return v;
}

// The attribute path "a.b.0" of an item, as Jinja's make_attrgetter.
Value attribute_of(const Value& item, const std::string& path) {
    Value v = item;
    size_t start = 0;
    for (;;) {
        const size_t dot = path.find('.', start);
        const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        v = numeric ? get_item(v, Value::from_int(std::stoll(part))) : get_item(v, Value::from_string(part));
        if (dot == std::string::npos) return v;
        start = dot + 1;
    }
}

List to_list(Evaluator& ev, const Value& v) {
    List items = iterate(v);
    ev.spend(items.size());
    return items;
}

Value sorted(Evaluator& ev, List items, bool reverse, bool case_sensitive, const Value* attribute) {
    std::vector<std::pair<Value, Value>> keyed;
    keyed.reserve(items.size());
    for (Value& v : items) {
        Value key = attribute && !attribute->is_none() ? attribute_of(v, to_str(*attribute)) : v;
        keyed.emplace_back(sort_key(key, case_sensitive), std::move(v));
    }
    ev.spend(keyed.size() * 16);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
        return reverse ? less(b.first, a.first) : less(a.first, b.first);
    });
    List out;
    for (auto& [k, v] : keyed) out.push_back(std::move(v));
    return ev.make_list(std::move(out));
}

// select/reject/selectattr/rejectattr: the items whose (attribute's) test is `keep`.
Value select(Evaluator& ev, const Value& input, CallArgs& args, bool keep, bool by_attribute) {
    size_t next = 0;
    std::string attribute;
    if (by_attribute) {
        if (args.positional.empty()) fail("missing the attribute name");
        attribute = to_str(args.positional[next++]);
    }
    std::string test;
    CallArgs test_args;
    if (next < args.positional.size()) {
        test = to_str(args.positional[next++]);
        test_args.positional.assign(args.positional.begin() + long(next), args.positional.end());
        test_args.keyword = args.keyword;
    }
    List out;
    for (const Value& item : to_list(ev, input)) {
        const Value subject = by_attribute ? attribute_of(item, attribute) : item;
        const bool passed = test.empty() ? truthy(subject) : apply_test(ev, test, subject, test_args);
        if (passed == keep) out.push_back(item);
    }
    return ev.make_list(std::move(out));
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

// Python's round(x, n): the decimal nearest to x's exact binary value, ties to even — what
// glibc's printf does for %.nf (and Python's own dtoa-based round).
double round_half_even(double x, int64_t digits) {
    if (!std::isfinite(x)) return x;
    if (digits >= 0) {
        char buf[512];
        std::snprintf(buf, sizeof buf, "%.*f", int(std::min<int64_t>(digits, 300)), x);
        return std::strtod(buf, nullptr);
    }
    const double scale = std::pow(10.0, double(-digits));
    return std::nearbyint(x / scale) * scale;
}

Value minmax(Evaluator& ev, const Value& input, CallArgs& args, bool want_max) {
    check_args(args, want_max ? "max" : "min", 2, {"case_sensitive", "attribute"});
    const bool case_sensitive = truthy(find_arg(args, 0, "case_sensitive") ? *find_arg(args, 0, "case_sensitive") : Value());
    const Value* attribute = find_arg(args, 1, "attribute");
    const List items = to_list(ev, input);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    size_t best = 0;
    Value best_key;
    for (size_t i = 0; i < items.size(); ++i) {
        Value key = sort_key(attribute && !attribute->is_none() ? attribute_of(items[i], to_str(*attribute)) : items[i], case_sensitive);
        if (i == 0 || (want_max ? less(best_key, key) : less(key, best_key))) {
            best = i;
            best_key = std::move(key);
        }
    }
    return items[best];
}

}  // namespace

Value apply_filter(Evaluator& ev, const std::string& name, const Value& input, CallArgs& args) {
    const auto arg = [&](size_t i, const char* n) { return find_arg(args, i, n); };
    const auto text = [&] { return to_str(input); };

    if (name == "__slice__") {
        if (input.is_undefined()) fail(undefined_message(input));
        if (input.is_string()) {
            const std::u32string u = decode(input.text);
            std::u32string out;
            for (size_t i : slice_indices(int64_t(u.size()), args.positional[0], args.positional[1], args.positional[2])) out += u[i];
            return Value::from_string(encode(out));
        }
        if (input.is_list()) {
            List out;
            for (size_t i : slice_indices(int64_t(input.list->size()), args.positional[0], args.positional[1], args.positional[2]))
                out.push_back((*input.list)[i]);
            ev.spend(out.size());
            return ev.make_list(std::move(out), input.is_tuple);
        }
        fail("'" + type_name(input) + "' object is not subscriptable");
    }
    if (name == "trim") {
        check_args(args, "trim", 1, {"chars"});
        const Value* chars = arg(0, "chars");
        std::u32string set;
        if (chars && !chars->is_none()) set = decode(str_arg(chars, "", "trim"));
        return ev.make_string(py_strip(text(), true, true, chars && !chars->is_none() ? &set : nullptr));
    }
    if (name == "tojson") {
        check_args(args, "tojson", 1, {"indent", "ensure_ascii", "separators", "sort_keys"});
        const Value* indent = arg(0, "indent");
        if (input.is_undefined()) fail("Object of type Undefined is not JSON serializable");
        int ind = -1;
        if (indent && !indent->is_none()) ind = int(std::clamp<int64_t>(int_arg(indent, 0, "tojson indent"), 0, 64));
        if (const Value* sk = find_arg(args, 99, "sort_keys"); sk && truthy(*sk)) {
            fail("tojson(sort_keys=True) is not supported");
        }
        return ev.make_string(to_json(input, ind));
    }
    if (name == "length" || name == "count") {
        switch (input.type) {
            case Value::Type::Undefined: return Value::from_int(0);
            case Value::Type::String: return Value::from_int(int64_t(code_point_count(input.text)));
            case Value::Type::List: return Value::from_int(int64_t(input.list->size()));
            case Value::Type::Dict: return Value::from_int(int64_t(input.dict->items.size()));
            case Value::Type::Namespace: return Value::from_int(int64_t(input.ns->attributes.items.size()));
            default: fail("object of type '" + type_name(input) + "' has no len()");
        }
    }
    if (name == "upper") return ev.make_string(py_upper(text()));
    if (name == "lower") return ev.make_string(py_lower(text()));
    if (name == "title") return ev.make_string(jinja_title(text()));
    if (name == "capitalize") return ev.make_string(py_capitalize(text()));
    if (name == "string") return input.is_string() ? input : ev.make_string(text());
    if (name == "safe") return input;
    if (name == "e" || name == "escape" || name == "forceescape") return ev.make_string(html_escape(text()));
    if (name == "join") {
        check_args(args, "join", 2, {"d", "attribute"});
        const std::string sep = to_str(arg(0, "d") ? *arg(0, "d") : Value::from_string(""));
        const Value* attribute = arg(1, "attribute");
        std::string out;
        bool first = true;
        for (const Value& item : to_list(ev, input)) {
            if (!first) out += sep;
            first = false;
            out += to_str(attribute && !attribute->is_none() ? attribute_of(item, to_str(*attribute)) : item);
            if (out.size() > ev.limits().max_output_bytes) fail("string too long");
        }
        return ev.make_string(std::move(out));
    }
    if (name == "default" || name == "d") {
        check_args(args, name.c_str(), 2, {"default_value", "boolean"});
        const Value* fallback = arg(0, "default_value");
        const Value* boolean = arg(1, "boolean");
        const bool use = input.is_undefined() || (boolean && truthy(*boolean) && !truthy(input));
        return use ? (fallback ? *fallback : Value::from_string("")) : input;
    }
    if (name == "items") {
        if (input.is_undefined()) return ev.make_list({});
        if (!input.is_dict()) fail("Can only get item pairs from a mapping.");
        List out;
        for (const auto& [k, v] : input.dict->items) out.push_back(Value::from_list({k, v}, true));
        ev.spend(out.size());
        return ev.make_list(std::move(out));
    }
    if (name == "list") return ev.make_list(to_list(ev, input));
    if (name == "first") {
        const List items = to_list(ev, input);
        return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
    }
    if (name == "last") {
        const List items = to_list(ev, input);
        return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
    }
    if (name == "reverse") {
        if (input.is_string()) {
            std::u32string u = decode(input.text);
            std::reverse(u.begin(), u.end());
            return Value::from_string(encode(u));
        }
        List items = to_list(ev, input);
        std::reverse(items.begin(), items.end());
        return ev.make_list(std::move(items));
    }
    if (name == "replace") {
        check_args(args, "replace", 3, {"old", "new", "count"});
        const Value* old = arg(0, "old");
        const Value* with = arg(1, "new");
        if (!old || !with) fail("replace() needs the old and the new string");
        const std::string s = text(), o = to_str(*old), w = to_str(*with);
        if ((o.empty() ? s.size() + 1 : s.size() / o.size() + 1) * w.size() > ev.limits().max_output_bytes) fail("string too long");
        return ev.make_string(py_replace(s, o, w, int_arg(arg(2, "count"), -1, "count")));
    }
    if (name == "int") {
        check_args(args, "int", 2, {"default", "base"});
        const int64_t fallback = int_arg(arg(0, "default"), 0, "int default");
        if (input.is_undefined()) fail(undefined_message(input));
        if (input.type == Value::Type::Int) return input;
        if (input.type == Value::Type::Bool) return Value::from_int(input.boolean);
        if (input.type == Value::Type::Float) {
            if (!std::isfinite(input.number) || std::fabs(input.number) >= 9.2e18) return Value::from_int(fallback);
            return Value::from_int(int64_t(input.number));
        }
        if (input.is_string()) {
            const std::string s = py_strip(input.text, true, true);
            const int base = int(int_arg(arg(1, "base"), 10, "int base"));
            try {
                size_t used = 0;
                std::string digits;
                for (char c : s)
                    if (c != '_') digits += c;
                const long long v = std::stoll(digits, &used, base);
                if (used == digits.size() && !digits.empty()) return Value::from_int(v);
            } catch (const std::exception&) {
            }
            try {
                size_t used = 0;
                const double d = std::stod(s, &used);
                if (used == s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value::from_int(int64_t(d));
            } catch (const std::exception&) {
            }
        }
        return Value::from_int(fallback);
    }
    if (name == "float") {
        check_args(args, "float", 1, {"default"});
        const Value* fallback = arg(0, "default");
        if (input.is_undefined()) fail(undefined_message(input));
        if (input.is_number()) return Value::from_float(input.as_double());
        if (input.is_string()) {
            const std::string s = py_strip(input.text, true, true);
            try {
                size_t used = 0;
                const double d = std::stod(s, &used);
                if (used == s.size()) return Value::from_float(d);
            } catch (const std::exception&) {
            }
        }
        return fallback ? Value::from_float(fallback->as_double()) : Value::from_float(0.0);
    }
    if (name == "abs") {
        if (!input.is_number()) fail("bad operand type for abs(): '" + type_name(input) + "'");
        if (input.type == Value::Type::Float) return Value::from_float(std::fabs(input.number));
        const int64_t i = input.type == Value::Type::Bool ? input.boolean : input.integer;
        if (i == INT64_MIN) fail("integer overflow");
        return Value::from_int(i < 0 ? -i : i);
    }
    if (name == "round") {
        check_args(args, "round", 2, {"precision", "method"});
        const int64_t precision = std::clamp<int64_t>(int_arg(arg(0, "precision"), 0, "round precision"), -300, 300);
        const std::string method = str_arg(arg(1, "method"), "common", "round method");
        if (!input.is_number()) fail("round: expected a number, got " + type_name(input));
        const double x = input.as_double(), scale = std::pow(10.0, double(precision));
        if (method == "common") {
            if (input.type != Value::Type::Float) {  // Python's round(int, n) stays an int
                const int64_t i = input.type == Value::Type::Bool ? input.boolean : input.integer;
                if (precision >= 0) return Value::from_int(i);
                return Value::from_int(int64_t(round_half_even(double(i), precision)));
            }
            return Value::from_float(round_half_even(x, precision));
        }
        if (method == "ceil") return Value::from_float(std::ceil(x * scale) / scale);
        if (method == "floor") return Value::from_float(std::floor(x * scale) / scale);
        fail("method must be common, ceil or floor");
    }
    if (name == "map") {
        CallArgs rest;
        const Value* attribute = nullptr;
        for (const auto& [k, v] : args.keyword)
            if (k == "attribute") attribute = &v;
        List out;
        if (attribute) {
            const Value* fallback = nullptr;
            for (const auto& [k, v] : args.keyword)
                if (k == "default") fallback = &v;
            for (const Value& item : to_list(ev, input)) {
                Value v = attribute_of(item, to_str(*attribute));
                out.push_back(v.is_undefined() && fallback ? *fallback : v);
            }
            return ev.make_list(std::move(out));
        }
        if (args.positional.empty()) fail("map requires a filter argument");
        const std::string filter_name = to_str(args.positional[0]);
        rest.positional.assign(args.positional.begin() + 1, args.positional.end());
        rest.keyword = args.keyword;
        for (const Value& item : to_list(ev, input)) out.push_back(apply_filter(ev, filter_name, item, rest));
        return ev.make_list(std::move(out));
    }
    if (name == "select") return select(ev, input, args, true, false);
    if (name == "reject") return select(ev, input, args, false, false);
    if (name == "selectattr") return select(ev, input, args, true, true);
    if (name == "rejectattr") return select(ev, input, args, false, true);
    if (name == "unique") {
        check_args(args, "unique", 2, {"case_sensitive", "attribute"});
        const bool case_sensitive = arg(0, "case_sensitive") && truthy(*arg(0, "case_sensitive"));
        const Value* attribute = arg(1, "attribute");
        List out, seen;
        for (const Value& item : to_list(ev, input)) {
            Value key = sort_key(attribute && !attribute->is_none() ? attribute_of(item, to_str(*attribute)) : item, case_sensitive);
            ev.spend(seen.size() / 16 + 1);
            if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, key); })) continue;
            seen.push_back(std::move(key));
            out.push_back(item);
        }
        return ev.make_list(std::move(out));
    }
    if (name == "indent") {
        check_args(args, "indent", 3, {"width", "first", "blank"});
        const Value* width = arg(0, "width");
        std::string indention = width && width->is_string() ? width->text : std::string(size_t(std::clamp<int64_t>(int_arg(width, 4, "indent width"), 0, 256)), ' ');
        const bool first = arg(1, "first") && truthy(*arg(1, "first"));
        const bool blank = arg(2, "blank") && truthy(*arg(2, "blank"));
        const std::vector<std::string> lines = py_splitlines(text() + "\n");
        std::string out;
        for (size_t i = 0; i < lines.size(); ++i) {
            if (i) out += "\n";
            if (i && (blank || !lines[i].empty())) out += indention;
            out += lines[i];
            if (out.size() > ev.limits().max_output_bytes) fail("string too long");
        }
        if (first) out = indention + out;
        return ev.make_string(std::move(out));
    }
    if (name == "wordcount") {
        int64_t n = 0;
        bool in_word = false;
        for (char32_t c : decode(text())) {
            const bool w = c == '_' || unicode::is_letter(c) || unicode::is_number(c) || unicode::is_nonspacing_mark(c) ||
                           unicode::classify(c) == unicode::Class::OtherMark;
            if (w && !in_word) ++n;
            in_word = w;
        }
        return Value::from_int(n);
    }
    if (name == "sum") {
        check_args(args, "sum", 2, {"attribute", "start"});
        const Value* attribute = arg(0, "attribute");
        Value total = arg(1, "start") ? *arg(1, "start") : Value::from_int(0);
        for (const Value& item : to_list(ev, input)) {
            const Value v = attribute && !attribute->is_none() ? attribute_of(item, to_str(*attribute)) : item;
            if (!v.is_number() || !total.is_number()) fail("unsupported operand type(s) for +: '" + type_name(total) + "' and '" + type_name(v) + "'");
            if (total.type == Value::Type::Float || v.type == Value::Type::Float) total = Value::from_float(total.as_double() + v.as_double());
            else {
                int64_t r;
                const int64_t t = total.type == Value::Type::Bool ? total.boolean : total.integer;
                if (__builtin_add_overflow(t, v.type == Value::Type::Bool ? int64_t(v.boolean) : v.integer, &r))
                    fail("integer overflow");
                total = Value::from_int(r);
            }
        }
        return total;
    }
    if (name == "min") return minmax(ev, input, args, false);
    if (name == "max") return minmax(ev, input, args, true);
    if (name == "sort") {
        check_args(args, "sort", 3, {"reverse", "case_sensitive", "attribute"});
        const bool reverse = arg(0, "reverse") && truthy(*arg(0, "reverse"));
        const bool case_sensitive = arg(1, "case_sensitive") && truthy(*arg(1, "case_sensitive"));
        return sorted(ev, to_list(ev, input), reverse, case_sensitive, arg(2, "attribute"));
    }
    if (name == "dictsort") {
        check_args(args, "dictsort", 3, {"case_sensitive", "by", "reverse"});
        if (!input.is_dict()) fail("You can only sort by either \"key\" or \"value\" of a mapping");
        const bool case_sensitive = arg(0, "case_sensitive") && truthy(*arg(0, "case_sensitive"));
        const std::string by = str_arg(arg(1, "by"), "key", "dictsort by");
        if (by != "key" && by != "value") fail("You can only sort by either \"key\" or \"value\"");
        const bool reverse = arg(2, "reverse") && truthy(*arg(2, "reverse"));
        List pairs;
        for (const auto& [k, v] : input.dict->items) pairs.push_back(Value::from_list({k, v}, true));
        const Value index = Value::from_string(by == "key" ? "0" : "1");
        return sorted(ev, std::move(pairs), reverse, case_sensitive, &index);
    }
    if (name == "batch") {
        check_args(args, "batch", 2, {"linecount", "fill_with"});
        const int64_t size = int_arg(arg(0, "linecount"), 0, "batch size");
        if (size <= 0) fail("batch size must be positive");
        const Value* fill = arg(1, "fill_with");
        List out, row;
        for (const Value& item : to_list(ev, input)) {
            row.push_back(item);
            if (int64_t(row.size()) == size) {
                out.push_back(Value::from_list(std::move(row)));
                row.clear();
            }
        }
        if (!row.empty()) {
            if (fill && !fill->is_none())
                while (int64_t(row.size()) < size) row.push_back(*fill);
            out.push_back(Value::from_list(std::move(row)));
        }
        return ev.make_list(std::move(out));
    }
    if (name == "attr") {
        const Value* n = arg(0, "name");
        if (!n) fail("attr needs a name");
        return get_attribute(input, to_str(*n));
    }
    if (name == "center") {
        const int64_t width = std::clamp<int64_t>(int_arg(arg(0, "width"), 80, "center width"), 0, 4096);
        const std::string s = text();
        const int64_t n = int64_t(code_point_count(s));
        if (n >= width) return input.is_string() ? input : Value::from_string(s);
        const int64_t pad = width - n, left = pad / 2 + (pad & width & 1);
        return ev.make_string(std::string(size_t(left), ' ') + s + std::string(size_t(pad - left), ' '));
    }
    fail("No filter named '" + name + "'.");
}

}  // namespace attend::jinja
