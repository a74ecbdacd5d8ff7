// fuzz/safetensors_index.cpp — libFuzzer target for model.safetensors.index.json (fuzz/README.md).
//
// Each input is the index's text. It must give shard names that are plain file names in the
// folder (no '/', no "..", nothing empty) or an attend::Error; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "attend/error.hpp"
#include "io/loader_internal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        for (const std::string& shard :
             attend::parse_safetensors_index(std::string(reinterpret_cast<const char*>(data), size), "fuzz/index.json"))
            if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos) __builtin_trap();
    } catch (const attend::Error&) {
    }
    return 0;
}
