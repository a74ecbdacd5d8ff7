// fuzz/gguf.cpp — libFuzzer target for the GGUF reader (see fuzz/README.md).
//
// Each input is a whole file's bytes. GgufFile::parse runs the validation the mmap reader runs;
// then every metadata value is read through the typed getters, every tensor the reader
// decodes is widened to f32 and summed (a span that claims more bytes than the input holds
// shows up under ASan), and the tokenizer in the metadata is built (tokenizers/gguf_vocab.hpp)
// and run on a short text. A bad file must end in attend::Error; anything else is a finding.
#include <cstddef>
#include <cstdint>

#include "attend/error.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "io/gguf.hpp"
#include "tokenizers/gguf_vocab.hpp"

namespace {

template <class F>
void refused_or_ok(F&& f) {
    try {
        f();
    } catch (const attend::Error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const attend::GgufFile f = attend::GgufFile::parse(data, size, "fuzz-input");
        for (const std::string& key : f.keys()) {
            refused_or_ok([&] { f.get_string(key); });
            refused_or_ok([&] { f.get_u32(key); });
            refused_or_ok([&] { f.get_i32(key); });
            refused_or_ok([&] { f.get_u64(key); });
            refused_or_ok([&] { f.get_f32(key); });
            refused_or_ok([&] { f.get_bool(key); });
            refused_or_ok([&] { f.get_string_array(key); });
            refused_or_ok([&] { f.get_int_array(key); });
            refused_or_ok([&] { f.get_float_array(key); });
        }
        float sum = 0.f;
        for (const auto& t : f.tensors())
            refused_or_ok([&] {
                const attend::Tensor x = f.tensor_f32(t);
                for (int64_t i = 0; i < x.numel(); ++i) sum += x.data()[i];
            });
        (void)sum;
        refused_or_ok([&] {
            const auto tok = attend::tokenizer_from_gguf(f);
            const auto ids = tok->encode("Hello world, 123 héllo!", true);
            tok->decode(ids);
        });
    } catch (const attend::Error&) {
        // Refused with a message: the expected outcome for most inputs.
    }
    return 0;
}
