// io/json_fields.hpp — checked reading of the JSON files a user hands us (private to the library).
//
// Every reader of a JSON format (our config, Hugging Face's config.json, the shard index,
// `attend train --config`, a training checkpoint's metadata) goes through here, so a bad
// value gives the same one line wherever it is:
//
//   <file>: field "<name>": expected <what>, got <what>
//
// and never a raw nlohmann::json message ("type must be number, but is array"), a bare
// std::stoll, or a read past an array. Nested fields are named as paths: history[3][1].
#pragma once
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace attend {

// A short description of a JSON value for messages: -3, 2.5, true, null, the string "abc"
// (cut at 40 characters), an array of 2, an object.
std::string describe_json(const nlohmann::json& value);

// Parses `text`; an error names `file` ("<file>: not valid JSON: ..."). `what` says what the
// text is when it is not a whole file (e.g. "metadata \"history\"").
nlohmann::json parse_json(std::string_view text, const std::string& file, const std::string& what = "");
// The same, and the result must be an object.
nlohmann::json parse_json_object(std::string_view text, const std::string& file, const std::string& what = "");

// Values checked one at a time; `field` names the value in the message.
[[noreturn]] void json_fail(const std::string& file, const std::string& field, const std::string& expected,
                            const nlohmann::json& got);
[[noreturn]] void json_fail(const std::string& file, const std::string& field, const std::string& message);
int64_t json_integer(const nlohmann::json& v, const std::string& file, const std::string& field,
                     int64_t lo = std::numeric_limits<int64_t>::min(), int64_t hi = std::numeric_limits<int64_t>::max());
double json_number(const nlohmann::json& v, const std::string& file, const std::string& field,
                   double lo = -std::numeric_limits<double>::infinity(),
                   double hi = std::numeric_limits<double>::infinity());
bool json_boolean(const nlohmann::json& v, const std::string& file, const std::string& field);
std::string json_string(const nlohmann::json& v, const std::string& file, const std::string& field);
const nlohmann::json& json_array(const nlohmann::json& v, const std::string& file, const std::string& field);
const nlohmann::json& json_object(const nlohmann::json& v, const std::string& file, const std::string& field);

// The fields of one JSON object. A key that is absent or null takes the fallback where one is
// given, and is an error ("expected <what>, got nothing") where none is.
class JsonFields {
public:
    JsonFields(const nlohmann::json& object, std::string file, std::string prefix = "");

    bool has(const std::string& key) const;  // present and not null
    const nlohmann::json& required(const std::string& key) const;

    int64_t integer(const std::string& key, int64_t lo = std::numeric_limits<int64_t>::min(),
                    int64_t hi = std::numeric_limits<int64_t>::max()) const;
    int64_t integer_or(const std::string& key, int64_t fallback, int64_t lo = std::numeric_limits<int64_t>::min(),
                       int64_t hi = std::numeric_limits<int64_t>::max()) const;
    double number_or(const std::string& key, double fallback, double lo = -std::numeric_limits<double>::infinity(),
                     double hi = std::numeric_limits<double>::infinity()) const;
    bool boolean_or(const std::string& key, bool fallback) const;
    std::string string(const std::string& key) const;
    std::string string_or(const std::string& key, const std::string& fallback) const;

    // "<prefix>key": what messages call the field.
    std::string field(const std::string& key) const { return prefix_ + key; }
    const std::string& file() const { return file_; }
    [[noreturn]] void fail(const std::string& key, const std::string& expected, const nlohmann::json& got) const;
    [[noreturn]] void fail(const std::string& key, const std::string& message) const;

private:
    const nlohmann::json& j_;
    std::string file_, prefix_;
};

}  // namespace attend
