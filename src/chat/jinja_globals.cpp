// chat/jinja_globals.cpp — the functions a template can call by name: Jinja's range, dict,
// namespace, plus the two Hugging Face adds (raise_exception, strftime_now).
#include <ctime>

#include "chat/jinja_eval.hpp"
#include "chat/jinja_strings.hpp"

namespace attend::jinja {

std::unordered_map<std::string, Value> make_globals() {
    std::unordered_map<std::string, Value> g;
    g["range"] = Value::from_callable("range", [](Evaluator& ev, CallArgs& args) {
        if (!args.keyword.empty()) fail("range() takes no keyword arguments");
        if (args.positional.empty() || args.positional.size() > 3)
            fail("range expected 1 to 3 arguments, got " + std::to_string(args.positional.size()));
        int64_t start = 0, stop, step = 1;
        if (args.positional.size() == 1) {
            stop = int_arg(&args.positional[0], 0, "range");
        } else {
            start = int_arg(&args.positional[0], 0, "range");
            stop = int_arg(&args.positional[1], 0, "range");
            if (args.positional.size() == 3) step = int_arg(&args.positional[2], 1, "range");
        }
        if (step == 0) fail("range() arg 3 must not be zero");
        // the length first, so a huge range fails before it is built
        const __int128 span = step > 0 ? __int128(stop) - start : __int128(start) - stop;
        const __int128 count = span <= 0 ? 0 : (span + (step > 0 ? step : -__int128(step)) - 1) / (step > 0 ? step : -__int128(step));
        if (count > __int128(ev.limits().max_collection_size))
            fail("range too large (over " + std::to_string(ev.limits().max_collection_size) + " items)");
        ev.spend(size_t(count));
        List items;
        items.reserve(size_t(count));
        for (int64_t i = 0; i < int64_t(count); ++i) items.push_back(Value::from_int(start + i * step));
        return ev.make_list(std::move(items));
    });
    g["dict"] = Value::from_callable("dict", [](Evaluator&, CallArgs& args) {
        Dict d;
        if (!args.positional.empty()) {
            if (args.positional.size() > 1) fail("dict expected at most 1 argument");
            const Value& src = args.positional[0];
            if (src.is_dict()) d = *src.dict;
            else
                for (const Value& pair : iterate(src)) {
                    if (!pair.is_list() || pair.list->size() != 2) fail("dictionary update sequence element has the wrong length");
                    d.set((*pair.list)[0], (*pair.list)[1]);
                }
        }
        for (auto& [k, v] : args.keyword) d.set(Value::from_string(k), v);
        return Value::from_dict(std::move(d));
    });
    g["namespace"] = Value::from_callable("namespace", [](Evaluator& ev, CallArgs& args) {
        Value v = ev.make_namespace();
        for (const Value& src : args.positional) {
            if (!src.is_dict()) fail("namespace() takes a mapping or keyword arguments");
            for (const auto& [k, val] : src.dict->items) v.ns->attributes.set(k, val);
        }
        for (auto& [k, val] : args.keyword) v.ns->attributes.set(Value::from_string(k), val);
        return v;
    });
    g["raise_exception"] = Value::from_callable("raise_exception", [](Evaluator&, CallArgs& args) -> Value {
        const Value* message = find_arg(args, 0, "message");
        throw TemplateError(message ? to_str(*message) : std::string(), 0, true);
    });
    g["strftime_now"] = Value::from_callable("strftime_now", [](Evaluator& ev, CallArgs& args) {
        const std::string format = str_arg(find_arg(args, 0, "format"), "", "strftime_now");
        if (format.size() > 1024) fail("strftime_now: format too long");
        const std::time_t now = std::time(nullptr);
        std::tm local{};
        localtime_r(&now, &local);
        std::string out(format.size() * 8 + 64, '\0');
        const size_t n = std::strftime(out.data(), out.size(), format.c_str(), &local);
        out.resize(n);
        return ev.make_string(std::move(out));
    });
    return g;
}

}  // namespace attend::jinja
