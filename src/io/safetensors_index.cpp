// io/safetensors_index.cpp — model.safetensors.index.json, the list of a sharded checkpoint's
// files (io/loader_internal.hpp). Only the weight_map matters: which shard holds a tensor is
// found again from the shards' own headers. Fuzzed by fuzz/safetensors_index.cpp.
#include <nlohmann/json.hpp>

#include "io/json_fields.hpp"
#include "io/loader_internal.hpp"

namespace attend {

std::set<std::string> parse_safetensors_index(const std::string& text, const std::string& where) {
    const nlohmann::json j = parse_json_object(text, where);
    const JsonFields fields(j, where);
    const nlohmann::json& map = json_object(fields.required("weight_map"), where, "weight_map");
    std::set<std::string> shards;
    for (const auto& [name, shard] : map.items()) {
        const std::string file = json_string(shard, where, "weight_map." + name);
        if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
            file.find('\0') != std::string::npos)
            json_fail(where, "weight_map." + name, "a plain file name in the index's folder", shard);
        shards.insert(file);
    }
    return shards;
}

}  // namespace attend
