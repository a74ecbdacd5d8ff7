// io/json_fields.cpp — checked reading of JSON values (io/json_fields.hpp).
#include "io/json_fields.hpp"

#include <cmath>
#include <sstream>

#include "attend/error.hpp"

namespace attend {

using nlohmann::json;

namespace {

std::string range_text(int64_t lo, int64_t hi) {
    constexpr int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
    if (lo == kMin && hi == kMax) return "an integer";
    if (hi == kMax) return "an integer ≥ " + std::to_string(lo);
    if (lo == kMin) return "an integer ≤ " + std::to_string(hi);
    return "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

std::string number_text(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

std::string range_text(double lo, double hi) {
    if (std::isinf(lo) && std::isinf(hi)) return "a number";
    if (std::isinf(hi)) return "a number ≥ " + number_text(lo);
    if (std::isinf(lo)) return "a number ≤ " + number_text(hi);
    return "a number in [" + number_text(lo) + ", " + number_text(hi) + "]";
}

}  // namespace

std::string describe_json(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float: return v.dump();
        case json::value_t::string: {
            const std::string& s = v.get_ref<const std::string&>();
            // dump() escapes control characters and invalid UTF-8 (replace): one printable line.
            const std::string shown = json(s.size() > 40 ? s.substr(0, 40) : s).dump(-1, ' ', false, json::error_handler_t::replace);
            return "the string " + (s.size() > 40 ? shown.substr(0, shown.size() - 1) + "...\"" : shown);
        }
        case json::value_t::array: return "an array of " + std::to_string(v.size());
        case json::value_t::object: return "an object";
        default: return "a binary value";
    }
}

json parse_json(std::string_view text, const std::string& file, const std::string& what) {
    try {
        return json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
        // nlohmann's message: "[json.exception.parse_error.101] parse error at line 1, column 3: ..."
        std::string why = e.what();
        if (const size_t at = why.find("] "); at != std::string::npos) why = why.substr(at + 2);
        throw Error(file + ": " + (what.empty() ? "" : what + " ") + "is not valid JSON: " + why);
    }
}

json parse_json_object(std::string_view text, const std::string& file, const std::string& what) {
    json j = parse_json(text, file, what);
    if (!j.is_object())
        throw Error(file + ": " + (what.empty() ? "" : what + ": ") + "expected a JSON object, got " + describe_json(j));
    return j;
}

namespace {
// The field's name quoted, control characters and bad UTF-8 escaped: a key from a hostile file
// cannot break the one-line message.
std::string quoted(const std::string& field) {
    return json(field.size() > 80 ? field.substr(0, 80) + "..." : field).dump(-1, ' ', false, json::error_handler_t::replace);
}
}  // namespace

void json_fail(const std::string& file, const std::string& field, const std::string& expected, const json& got) {
    throw Error(file + ": field " + quoted(field) + ": expected " + expected + ", got " + describe_json(got));
}

void json_fail(const std::string& file, const std::string& field, const std::string& message) {
    throw Error(file + ": field " + quoted(field) + ": " + message);
}

int64_t json_integer(const json& v, const std::string& file, const std::string& field, int64_t lo, int64_t hi) {
    // An unsigned value above INT64_MAX is out of every range we take.
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(hi)))
        json_fail(file, field, range_text(lo, hi), v);
    const int64_t n = v.get<int64_t>();
    if (n < lo || n > hi) json_fail(file, field, range_text(lo, hi), v);
    return n;
}

double json_number(const json& v, const std::string& file, const std::string& field, double lo, double hi) {
    if (!v.is_number()) json_fail(file, field, range_text(lo, hi), v);
    const double x = v.get<double>();
    if (!(x >= lo && x <= hi)) json_fail(file, field, range_text(lo, hi), v);
    return x;
}

bool json_boolean(const json& v, const std::string& file, const std::string& field) {
    if (!v.is_boolean()) json_fail(file, field, "true or false", v);
    return v.get<bool>();
}

std::string json_string(const json& v, const std::string& file, const std::string& field) {
    if (!v.is_string()) json_fail(file, field, "a string", v);
    return v.get<std::string>();
}

const json& json_array(const json& v, const std::string& file, const std::string& field) {
    if (!v.is_array()) json_fail(file, field, "an array", v);
    return v;
}

const json& json_object(const json& v, const std::string& file, const std::string& field) {
    if (!v.is_object()) json_fail(file, field, "an object", v);
    return v;
}

JsonFields::JsonFields(const json& object, std::string file, std::string prefix)
    : j_(object), file_(std::move(file)), prefix_(std::move(prefix)) {
    if (!j_.is_object()) throw Error(file_ + ": expected a JSON object, got " + describe_json(j_));
}

bool JsonFields::has(const std::string& key) const {
    auto it = j_.find(key);
    return it != j_.end() && !it->is_null();
}

const json& JsonFields::required(const std::string& key) const {
    auto it = j_.find(key);
    if (it == j_.end()) json_fail(file_, field(key), "a value, got nothing (the field is missing)");
    return *it;
}

int64_t JsonFields::integer(const std::string& key, int64_t lo, int64_t hi) const {
    return json_integer(required(key), file_, field(key), lo, hi);
}
int64_t JsonFields::integer_or(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
    return has(key) ? json_integer(j_.at(key), file_, field(key), lo, hi) : fallback;
}
double JsonFields::number_or(const std::string& key, double fallback, double lo, double hi) const {
    return has(key) ? json_number(j_.at(key), file_, field(key), lo, hi) : fallback;
}
bool JsonFields::boolean_or(const std::string& key, bool fallback) const {
    return has(key) ? json_boolean(j_.at(key), file_, field(key)) : fallback;
}
std::string JsonFields::string(const std::string& key) const { return json_string(required(key), file_, field(key)); }
std::string JsonFields::string_or(const std::string& key, const std::string& fallback) const {
    return has(key) ? json_string(j_.at(key), file_, field(key)) : fallback;
}
void JsonFields::fail(const std::string& key, const std::string& expected, const json& got) const {
    json_fail(file_, field(key), expected, got);
}
void JsonFields::fail(const std::string& key, const std::string& message) const { json_fail(file_, field(key), message); }

}  // namespace attend
