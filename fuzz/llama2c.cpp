// fuzz/llama2c.cpp — libFuzzer target for the llama2.c checkpoint header (fuzz/README.md).
//
// Each input is a whole .bin file. parse_llama2c_header must accept it only when its seven
// numbers are consistent and imply exactly the file's size; then the config the loader would
// build is checked against the file's floats as load_model checks it. Anything but an
// attend::Error on the way is a finding, and so is an accepted header whose implied size
// differs from the input's.
#include <cstddef>
#include <cstdint>

#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "io/loader_internal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const attend::Llama2cHeader h = attend::parse_llama2c_header(data, size, "fuzz/model.bin");
        if (h.expected_file_size() != size) __builtin_trap();
        attend::check_config_fits_file(attend::llama2c_config(h), (size - 28) / 4, "fuzz/model.bin");
    } catch (const attend::Error&) {
    }
    return 0;
}
