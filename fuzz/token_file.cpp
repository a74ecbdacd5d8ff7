// fuzz/token_file.cpp — libFuzzer target for uint16 token files (train.bin; fuzz/README.md).
//
// The first two bytes are the tokenizer's vocabulary size (little-endian), the rest is the
// file. check_uint16_tokens must refuse an odd or empty file and any id ≥ the vocabulary with
// an attend::Error; when it accepts, every id is re-checked here.
#include <cstddef>
#include <cstdint>

#include "attend/error.hpp"
#include "attend/train/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const int64_t vocab = int64_t(data[0]) | int64_t(data[1]) << 8;
    try {
        attend::check_uint16_tokens(data + 2, size - 2, vocab, "fuzz/train.bin");
        for (size_t i = 2; i + 1 < size; i += 2)
            if ((int64_t(data[i]) | int64_t(data[i + 1]) << 8) >= vocab) __builtin_trap();
    } catch (const attend::Error&) {
    }
    return 0;
}
