// fuzz/checkpoint_metadata.cpp — libFuzzer target for a training checkpoint's metadata, the
// state `attend train --resume` continues from (fuzz/README.md).
//
// The first byte picks what the rest is:
//   0        a whole checkpoint file: its safetensors header read, its metadata checked
//   1..5     one field of an otherwise valid checkpoint's metadata — step, rng.data,
//            config, arch, history — replaced by the input
// then training_state_from reads it as load_training_checkpoint does. A bad value must end in
// attend::Error; a crash, a sanitizer report, a raw std::stoll / map::at / nlohmann message,
// or an accepted all-zero random state is a finding.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "attend/error.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/train/checkpoint.hpp"

namespace {

std::map<std::string, std::string> valid_metadata() {
    return {{"format", "attend-checkpoint-1"},
            {"step", "3"},
            {"rng.data", "1 2 3 4"},
            {"rng.dropout", "5 6 7 8"},
            {"arch", "gpt"},
            {"attend_config", R"({"model_type":"attend","vocab_size":16,"d_model":8,"n_layers":1,"n_heads":2,"d_ff":16,)"
                       R"("max_positions":8,"positions":"learned"})"},
            {"history", "[[1,2.5,null,0.001],[2,2.25,2.4,0.001]]"}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::map<std::string, std::string> metadata;
    try {
        const char* fields[] = {"step", "rng.data", "attend_config", "arch", "history"};
        if (data[0] % 6 == 0) {
            metadata = attend::parse_safetensors_header(rest.data(), rest.size(), "fuzz/checkpoint.safetensors").metadata;
        } else {
            metadata = valid_metadata();
            metadata[fields[data[0] % 6 - 1]] = rest;
        }
        const attend::TrainingState state = attend::training_state_from(metadata, "fuzz/checkpoint.safetensors");
        if (state.step < 0) __builtin_trap();
        for (const auto& [name, g] : state.generators) {
            const auto s = g.state();
            if ((s[0] | s[1] | s[2] | s[3]) == 0) __builtin_trap();
        }
        if (auto h = state.metadata.find("history"); h != state.metadata.end())
            (void)attend::parse_training_history(h->second, "fuzz/checkpoint.safetensors");
    } catch (const attend::Error&) {
    }
    return 0;
}
