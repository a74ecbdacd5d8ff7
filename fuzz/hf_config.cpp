// fuzz/hf_config.cpp — libFuzzer target for the Hugging Face config.json reader (fuzz/README.md).
//
// Each input is a config.json's text, read as load_model reads it (parse_hf_config, and
// hf_config_from_json, which also takes our own "attend" config). A bad file must end in
// attend::Error; a crash, a sanitizer report, or any other exception (a raw nlohmann::json
// message, std::bad_alloc from a size taken on trust) is a finding. A config that reads is
// then checked against a file of 4096 values, as the loader checks it before building the
// model: that must be an Error too, never an allocation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "io/loader_internal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const attend::HfConfig hf = attend::parse_hf_config(text, "fuzz/config.json");
        attend::check_config_fits_file(hf.config, 4096, "fuzz/model.safetensors");
    } catch (const attend::Error&) {
    }
    try {
        (void)attend::hf_config_from_json(text, "fuzz/config.json");
    } catch (const attend::Error&) {
    }
    return 0;
}
