// fuzz/safetensors.cpp — libFuzzer target for the safetensors reader (see fuzz/README.md).
//
// Each input is a whole file's bytes. parse_safetensors runs the same validation as the mmap
// reader (parse_safetensors_header) and then makes the tensors (copying instead of borrowing,
// widening F16/BF16), so anything the header claims is checked against bytes that really
// exist. A bad file must end in attend::Error; a crash, an ASan report (a read outside the
// input, a leak) or any other exception is a finding. When the metadata carries our config
// (attend_config), the config JSON reader is fuzzed along.
#include <cstddef>
#include <cstdint>

#include "attend/error.hpp"
#include "attend/io/config_json.hpp"
#include "attend/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const attend::SafetensorsContents contents = attend::parse_safetensors(data, size, "fuzz-input");
        // Touch every value: a tensor that claims more floats than it holds shows up under ASan.
        float sum = 0.f;
        for (const auto& [name, t] : contents.tensors)
            for (int64_t i = 0; i < t.numel(); ++i) sum += t.data()[i];
        (void)sum;
        auto it = contents.metadata.find("attend_config");
        if (it != contents.metadata.end()) {
            try {
                attend::config_from_json(it->second, "fuzz-input attend_config");
            } catch (const attend::Error&) {
            }
        }
    } catch (const attend::Error&) {
        // Refused with a message: the expected outcome for most inputs.
    }
    return 0;
}
