// fuzz/pairs.cpp — libFuzzer target for seq2seq pairs files (pairs.tsv; fuzz/README.md).
//
// Each input is the file's bytes. Every pair parse_pairs returns must have a non-empty source
// and target with no newline in them; a bad file must end in attend::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "attend/error.hpp"
#include "attend/train/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        for (const auto& [source, target] :
             attend::parse_pairs(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz/pairs.tsv"))
            if (source.empty() || target.empty() || source.find('\n') != std::string_view::npos ||
                target.find('\n') != std::string_view::npos)
                __builtin_trap();
    } catch (const attend::Error&) {
    }
    return 0;
}
