// io/config_json.cpp — TransformerConfig <-> JSON (io/config_json.hpp).
//
// One table lists every field once, with how to write it and how to read it back, so adding
// a field to TransformerConfig means adding one line here (and a test that round-trips the
// presets catches a forgotten one only if its value differs from the default — keep the
// table complete).
#include "attend/io/config_json.hpp"

#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attend/error.hpp"
#include "io/json_fields.hpp"

namespace attend {

namespace {

using nlohmann::json;


template <class Enum, size_t N>
Enum enum_from(const json& value, const std::string& key, const Enum (&all)[N], const std::string& where) {
    std::string known;
    for (Enum e : all) known += (known.empty() ? "" : ", ") + std::string(name_of(e));
    const std::string s = json_string(value, where, key);
    for (Enum e : all)
        if (s == name_of(e)) return e;
    json_fail(where, key, "one of " + known, value);
}

int64_t int_from(const json& value, const std::string& key, const std::string& where) {
    return json_integer(value, where, key);  // the ranges are TransformerConfig::validate's
}

float float_from(const json& value, const std::string& key, const std::string& where) {
    return float(json_number(value, where, key, -3.4e38, 3.4e38));  // finite as a float
}

bool bool_from(const json& value, const std::string& key, const std::string& where) {
    return json_boolean(value, where, key);
}

constexpr NormType kNorms[] = {NormType::layer_norm, NormType::rms_norm};
constexpr NormPlacement kPlacements[] = {NormPlacement::pre, NormPlacement::post};
constexpr Activation kActivations[] = {Activation::relu, Activation::gelu, Activation::gelu_tanh, Activation::swiglu,
                                       Activation::geglu};
constexpr RopeScalingType kRopeScalings[] = {RopeScalingType::none, RopeScalingType::linear, RopeScalingType::llama3,
                                             RopeScalingType::longrope};

// rope_scaling as Hugging Face's config.json spells it: null for none, else an object with
// rope_type and the numbers that type uses.
json rope_scaling_to_json(const RopeScaling& r) {
    if (r.rope_type == RopeScalingType::none) return nullptr;
    json j = {{"rope_type", name_of(r.rope_type)}};
    switch (r.rope_type) {
        case RopeScalingType::none: break;
        case RopeScalingType::linear: j["factor"] = double(r.factor); break;
        case RopeScalingType::llama3:
            j["factor"] = double(r.factor);
            j["low_freq_factor"] = double(r.low_freq_factor);
            j["high_freq_factor"] = double(r.high_freq_factor);
            j["original_max_position_embeddings"] = r.original_max_position_embeddings;
            break;
        case RopeScalingType::longrope: {
            j["original_max_position_embeddings"] = r.original_max_position_embeddings;
            json shorts = json::array(), longs = json::array();
            for (float v : r.short_factor) shorts.push_back(double(v));
            for (float v : r.long_factor) longs.push_back(double(v));
            j["short_factor"] = shorts;
            j["long_factor"] = longs;
            j["attention_factor"] = double(r.attention_factor);
            break;
        }
    }
    return j;
}

RopeScaling rope_scaling_from_json(const json& v, const std::string& where) {
    RopeScaling r;
    if (v.is_null()) return r;
    json_object(v, where, "rope_scaling");
    const JsonFields f(v, where, "rope_scaling.");
    r.rope_type = enum_from(f.required("rope_type"), "rope_scaling.rope_type", kRopeScalings, where);
    const auto number = [&](const char* key, float fallback) {
        return float(f.number_or(key, fallback, -3.4e38, 3.4e38));
    };
    r.factor = number("factor", 1.f);
    r.low_freq_factor = number("low_freq_factor", 1.f);
    r.high_freq_factor = number("high_freq_factor", 4.f);
    r.original_max_position_embeddings = f.integer_or("original_max_position_embeddings", 0);
    r.attention_factor = number("attention_factor", 1.f);
    for (auto [key, list] : {std::pair{"short_factor", &r.short_factor}, std::pair{"long_factor", &r.long_factor}}) {
        if (!f.has(key)) continue;
        const json& a = json_array(v[key], where, f.field(key));
        if (a.size() > size_t(ConfigLimits::d_model)) json_fail(where, f.field(key), "at most one factor per rotated pair");
        for (size_t i = 0; i < a.size(); ++i)
            list->push_back(float(json_number(a[i], where, f.field(key) + "[" + std::to_string(i) + "]", -3.4e38, 3.4e38)));
    }
    for (const auto& [key, value] : v.items())
        if (key != "rope_type" && key != "factor" && key != "low_freq_factor" && key != "high_freq_factor" &&
            key != "original_max_position_embeddings" && key != "attention_factor" && key != "short_factor" &&
            key != "long_factor")
            json_fail(where, f.field(key), "is not a field of attend's rope_scaling");
    return r;
}
constexpr PositionType kPositions[] = {PositionType::none, PositionType::sinusoidal, PositionType::learned,
                                       PositionType::rope};
constexpr RopeLayout kRopeLayouts[] = {RopeLayout::interleaved, RopeLayout::rotate_half};
constexpr ModelShape kShapes[] = {ModelShape::encoder, ModelShape::decoder, ModelShape::encoder_decoder};
constexpr HeadType kHeads[] = {HeadType::none, HeadType::lm, HeadType::mlm, HeadType::classifier, HeadType::seq2seq};
constexpr InitScheme kInits[] = {InitScheme::torch_default, InitScheme::normal, InitScheme::xavier};

struct Field {
    const char* key;
    std::function<json(const TransformerConfig&)> write;
    std::function<void(TransformerConfig&, const json&, const std::string& where)> read;
};

// A float is written as the double it converts to exactly, so reading it back as float
// gives the same bits.
#define INT_FIELD(f) \
    {#f, [](const TransformerConfig& c) { return json(c.f); }, \
     [](TransformerConfig& c, const json& v, const std::string& w) { c.f = int_from(v, #f, w); }}
#define FLOAT_FIELD(f) \
    {#f, [](const TransformerConfig& c) { return json(double(c.f)); }, \
     [](TransformerConfig& c, const json& v, const std::string& w) { c.f = float_from(v, #f, w); }}
#define BOOL_FIELD(f) \
    {#f, [](const TransformerConfig& c) { return json(c.f); }, \
     [](TransformerConfig& c, const json& v, const std::string& w) { c.f = bool_from(v, #f, w); }}
#define ENUM_FIELD(f, all) \
    {#f, [](const TransformerConfig& c) { return json(name_of(c.f)); }, \
     [](TransformerConfig& c, const json& v, const std::string& w) { c.f = enum_from(v, #f, all, w); }}

const std::vector<Field>& fields() {
    static const std::vector<Field> table = {
        ENUM_FIELD(shape, kShapes),
        ENUM_FIELD(head, kHeads),
        INT_FIELD(vocab_size),
        INT_FIELD(d_model),
        INT_FIELD(n_layers),
        INT_FIELD(n_encoder_layers),
        INT_FIELD(n_heads),
        INT_FIELD(n_kv_heads),
        INT_FIELD(head_size),
        INT_FIELD(d_ff),
        INT_FIELD(max_positions),
        INT_FIELD(type_vocab_size),
        ENUM_FIELD(norm, kNorms),
        ENUM_FIELD(norm_placement, kPlacements),
        BOOL_FIELD(final_norm),
        BOOL_FIELD(embedding_norm),
        FLOAT_FIELD(norm_eps),
        ENUM_FIELD(activation, kActivations),
        ENUM_FIELD(positions, kPositions),
        ENUM_FIELD(rope_layout, kRopeLayouts),
        FLOAT_FIELD(rope_theta),
        {"rope_scaling", [](const TransformerConfig& c) { return rope_scaling_to_json(c.rope_scaling); },
         [](TransformerConfig& c, const json& v, const std::string& w) {
             c.rope_scaling = rope_scaling_from_json(v, w);
         }},
        INT_FIELD(sliding_window),
        BOOL_FIELD(bias),
        BOOL_FIELD(qkv_bias),
        BOOL_FIELD(tie_embeddings),
        FLOAT_FIELD(dropout),
        FLOAT_FIELD(attention_dropout),
        FLOAT_FIELD(embedding_scale),
        INT_FIELD(n_classes),
        ENUM_FIELD(init, kInits),
        FLOAT_FIELD(init_std),
        BOOL_FIELD(init_scale_residual),
        {"name", [](const TransformerConfig& c) { return json(c.name); },
         [](TransformerConfig& c, const json& v, const std::string& w) {
             c.name = json_string(v, w, "name");
         }},
    };
    return table;
}

}  // namespace

std::string config_to_json(const TransformerConfig& config, int indent) {
    json j = json::object();
    j["model_type"] = "attend";  // tells our config.json from Hugging Face's
    for (const auto& f : fields()) j[f.key] = f.write(config);
    return j.dump(indent);
}

TransformerConfig config_from_json(const std::string& text, const std::string& where) {
    const json j = parse_json_object(text, where, "config");
    if (j.contains("model_type") && j["model_type"] != "attend")
        json_fail(where, "model_type", "attend's own \"attend\"", j["model_type"]);
    TransformerConfig c;
    for (const auto& [key, value] : j.items()) {
        if (key == "model_type") continue;
        const Field* field = nullptr;
        for (const auto& f : fields())
            if (key == f.key) field = &f;
        if (!field) json_fail(where, key, "is not a field of attend's config");
        field->read(c, value, where);
    }
    try {
        c.validate();
    } catch (const Error& e) {
        bad_file(where, e.what());
    }
    return c;
}

}  // namespace attend
