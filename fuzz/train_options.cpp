// fuzz/train_options.cpp — libFuzzer target for `attend train --config FILE.json` (fuzz/README.md).
//
// Each input is the options file's text, read by parse_train_options. A bad file must end in
// attend::Error (never a raw nlohmann::json type error).
#include <cstddef>
#include <cstdint>
#include <string>

#include "attend/error.hpp"
#include "attend/train/trainer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        (void)attend::parse_train_options(std::string(reinterpret_cast<const char*>(data), size), "fuzz/train.json");
    } catch (const attend::Error&) {
    }
    return 0;
}
