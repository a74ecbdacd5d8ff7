// Bad model files: each is an attend::Error whose one-line message names the file and the
// problem — never a crash, never a read outside the file (the suite also runs under ASan).
//
// Every case starts from a good file (one we write, or a copy of a shared checkpoint) and
// breaks one thing, so the message checked is the one for that thing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "attend/error.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/io/safetensors.hpp"
#include "io/mapped_file.hpp"
#include "support/files.hpp"

using namespace attend;
using attend::testing::read_file;
using attend::testing::safetensors_bytes;
using attend::testing::shared_data;
using attend::testing::write_file;
namespace fs = std::filesystem;

namespace {

// A fresh folder per test, removed afterwards.
class IoErrors : public ::testing::Test {
protected:
    std::string path(const std::string& name) const { return dir_.path(name); }
    attend::testing::TempDir dir_;
};

// `action` must throw attend::Error, on one line, containing every one of `parts`.
void expect_error(const std::function<void()>& action, const std::vector<std::string>& parts) {
    try {
        action();
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
        for (const auto& part : parts) EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
        return;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "threw a non-attend exception: " << e.what();
        return;
    }
    ADD_FAILURE() << "no error; expected one containing '" << (parts.empty() ? "" : parts.front()) << "'";
}

// Reading a bad safetensors file: from disk (mapped, and read into memory as load_model does
// by default) and from memory must all refuse it.
void expect_bad_safetensors(const std::string& file, const std::string& bytes, const std::vector<std::string>& parts) {
    write_file(file, bytes);
    std::vector<std::string> with_file = parts;
    with_file.push_back(file + ": ");
    expect_error([&] { read_safetensors(file); }, with_file);
    {
        const ResidentModelFiles read(true);
        expect_error([&] { read_safetensors(file); }, with_file);
    }
    expect_error([&] { parse_safetensors(bytes.data(), bytes.size(), "in-memory"); }, parts);
}

const std::string kData(24, '\0');  // room for six floats

// ---- safetensors --------------------------------------------------------------------------------

TEST_F(IoErrors, TruncatedSafetensors) {
    save_safetensors(path("good.safetensors"), {{"w", Tensor::ones({4, 4})}});
    const std::string good = read_file(path("good.safetensors"));
    expect_bad_safetensors(path("cut_data.safetensors"), good.substr(0, good.size() - 10),
                           {"tensor 'w'", "lie outside the 54-byte data section", "truncated"});
    expect_bad_safetensors(path("cut_header.safetensors"), good.substr(0, 20), {"header length", "exceeds the 12 bytes"});
    expect_bad_safetensors(path("tiny.safetensors"), good.substr(0, 5), {"truncated: 5 bytes"});
    expect_bad_safetensors(path("empty.safetensors"), "", {"truncated: 0 bytes"});
}

TEST_F(IoErrors, HeaderLengthBeyondTheFile) {
    std::string bytes = safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
    const uint64_t lie = uint64_t(1) << 40;
    std::memcpy(bytes.data(), &lie, 8);
    expect_bad_safetensors(path("long_header.safetensors"), bytes, {"header length 1099511627776 exceeds"});
}

TEST_F(IoErrors, HeaderThatLiesAboutOffsets) {
    expect_bad_safetensors(path("far.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})", std::string(8, '\0')),
                           {"tensor 'w'", "data_offsets [16, 24) lie outside the 8-byte data section"});
    expect_bad_safetensors(path("backwards.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", kData),
                           {"tensor 'w'", "end before they begin"});
    expect_bad_safetensors(path("huge.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}})", kData),
                           {"tensor 'w'", "lie outside"});
    expect_bad_safetensors(path("negative.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", kData),
                           {"tensor 'w'", "data_offsets is not a pair of non-negative integers"});
}

TEST_F(IoErrors, HeaderThatLiesAboutShapes) {
    expect_bad_safetensors(path("shape.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":"F32","shape":[3,3],"data_offsets":[0,16]}})", kData),
                           {"tensor 'w'", "shape (3, 3) of F32 needs 36 bytes but data_offsets [0, 16) span 16"});
    expect_bad_safetensors(path("overflow.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})", kData),
                           {"tensor 'w'", "needs more bytes than exist"});
    expect_bad_safetensors(path("zero_overflow.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}})", kData),
                           {"tensor 'w'", "needs more bytes than exist"});
    expect_bad_safetensors(path("negative_dim.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-2,2],"data_offsets":[0,16]}})", kData),
                           {"tensor 'w'", "negative or non-integer dimension"});
    expect_bad_safetensors(path("float_dim.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,16]}})", kData),
                           {"tensor 'w'", "negative or non-integer dimension"});
}

TEST_F(IoErrors, UnknownAndUnholdableDtypes) {
    expect_bad_safetensors(path("f33.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", kData),
                           {"tensor 'w'", "unknown dtype 'F33'"});
    expect_bad_safetensors(path("i64.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", kData),
                           {"tensor 'w'", "dtype I64, which attend cannot hold"});
    expect_bad_safetensors(path("number.safetensors"),
                           safetensors_bytes(R"({"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})", kData),
                           {"tensor 'w'", "dtype that is not a string"});
}

TEST_F(IoErrors, OverlappingOffsets) {
    expect_bad_safetensors(path("overlap.safetensors"),
                           safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                                             R"("b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}})",
                                             kData),
                           {"tensor 'b' data_offsets [8, 20) overlap tensor 'a' [0, 12)"});
    expect_bad_safetensors(path("inside.safetensors"),
                           safetensors_bytes(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},)"
                                             R"("b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]},)"
                                             R"("c":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
                                             kData),
                           {"tensor 'b'", "overlap tensor 'a'"});
}

TEST_F(IoErrors, MalformedHeaders) {
    expect_bad_safetensors(path("json.safetensors"), safetensors_bytes(R"({"w":{"dtype":"F32",)", kData),
                           {"header is not valid JSON"});
    expect_bad_safetensors(path("array.safetensors"), safetensors_bytes("[1,2,3]", kData), {"header is not a JSON object"});
    expect_bad_safetensors(path("missing.safetensors"), safetensors_bytes(R"({"w":{"dtype":"F32"}})", kData),
                           {"tensor 'w' lacks dtype, shape or data_offsets"});
    expect_bad_safetensors(path("meta.safetensors"), safetensors_bytes(R"({"__metadata__":{"step":3}})", kData),
                           {"__metadata__ value of 'step' is not a string"});
}

TEST_F(IoErrors, NotAFile) {
    expect_error([&] { read_safetensors(path("nothing.safetensors")); }, {path("nothing.safetensors"), "cannot open"});
    expect_error([&] { read_safetensors(dir_.dir().string()); }, {dir_.dir().string(), "not a regular file"});
    expect_error([&] { load_model(path("nothing")); }, {path("nothing"), "no such file or folder"});
}

// Writing fails at its last step (the rename: a folder stands where the file would go): an
// error naming the file and the system's reason, and no temporary file left beside it.
TEST_F(IoErrors, AWriteThatCannotLandLeavesNothingBehind) {
    fs::create_directories(path("taken.safetensors"));
    expect_error([&] { save_safetensors(path("taken.safetensors"), {{"w", Tensor::zeros({2})}}); },
                 {path("taken.safetensors"), "cannot write the file: Is a directory"});
    for (const auto& entry : fs::directory_iterator(dir_.dir()))
        EXPECT_EQ(entry.path().filename(), "taken.safetensors") << "left behind: " << entry.path();
}

// ---- Hugging Face folders -----------------------------------------------------------------------

// A copy of gpt2_fake_hf whose config.json is `config` (the original when empty).
std::string gpt2_copy(const std::string& folder, const std::string& config = "") {
    fs::create_directories(folder);
    const std::string src = shared_data("gpt2_fake_hf");
    fs::copy_file(src + "/model.safetensors", folder + "/model.safetensors");
    write_file(folder + "/config.json", config.empty() ? read_file(src + "/config.json") : config);
    return folder;
}

TEST_F(IoErrors, UnknownModelType) {
    const std::string folder = gpt2_copy(path("t5"), R"({"model_type": "t5", "d_model": 8})");
    expect_error([&] { load_model(folder); }, {folder + "/config.json", "unknown model_type \"t5\""});
    gpt2_copy(path("untyped"), R"({"n_embd": 2})");
    expect_error([&] { load_model(path("untyped")); }, {path("untyped/config.json"), "no 'model_type'"});
}

TEST_F(IoErrors, MissingConfigJson) {
    fs::create_directories(path("noconfig"));
    fs::copy_file(shared_data("gpt2_fake_hf/model.safetensors"), path("noconfig/model.safetensors"));
    expect_error([&] { load_model(path("noconfig")); }, {path("noconfig"), "no config.json"});
    expect_error([&] { load_model(path("noconfig/model.safetensors")); },
                 {path("noconfig/model.safetensors"), "no attend_config metadata and no config.json beside it"});
}

TEST_F(IoErrors, MissingOrUnsupportedWeights) {
    fs::create_directories(path("noweights"));
    write_file(path("noweights/config.json"), read_file(shared_data("gpt2_fake_hf/config.json")));
    expect_error([&] { load_model(path("noweights")); }, {path("noweights"), "no model.safetensors"});
    write_file(path("noweights/pytorch_model.bin"), "PK\x03\x04 a zip");
    expect_error([&] { load_model(path("noweights")); }, {path("noweights/pytorch_model.bin"), "out of scope"});
    write_file(path("pickle.bin"), std::string("\x80\x02}q\x00.", 6));
    expect_error([&] { load_model(path("pickle.bin")); }, {path("pickle.bin"), "out of scope"});
}

TEST_F(IoErrors, WeightsThatDoNotFitTheConfig) {
    // n_embd 4 in config.json, 2 in the weights.
    std::string config = read_file(shared_data("gpt2_fake_hf/config.json"));
    config.replace(config.find("\"n_embd\": 2"), 11, "\"n_embd\": 4");
    const std::string folder = gpt2_copy(path("wide"), config);
    expect_error([&] { load_model(folder); }, {folder + ": ", "h.0.attn.c_attn has weight (2, 6)", "expected (4, 12)"});
    // A tensor missing.
    const auto tensors = read_safetensors(shared_data("gpt2_fake_hf/model.safetensors")).tensors;
    auto fewer = tensors;
    fewer.erase("transformer.ln_f.bias");
    fs::create_directories(path("fewer"));
    write_file(path("fewer/config.json"), read_file(shared_data("gpt2_fake_hf/config.json")));
    save_safetensors(path("fewer/model.safetensors"), fewer);
    expect_error([&] { load_model(path("fewer")); }, {path("fewer") + ": ", "no tensor transformer.ln_f.bias"});
    // A tensor too many.
    auto more = tensors;
    more["transformer.h.7.ln_1.weight"] = Tensor::ones({2});
    save_safetensors(path("fewer/model.safetensors"), more);
    expect_error([&] { load_model(path("fewer")); }, {path("fewer") + ": ", "tensor 'transformer.h.7.ln_1.weight' matches no parameter"});
}

TEST_F(IoErrors, UnsupportedHfFeatures) {
    std::string config = read_file(shared_data("gpt2_fake_hf/config.json"));
    config.replace(config.find("\"scale_attn_by_inverse_layer_idx\": false"), 40, "\"scale_attn_by_inverse_layer_idx\": true");
    const std::string folder = gpt2_copy(path("scaled"), config);
    expect_error([&] { load_model(folder); }, {folder + "/config.json", "scale_attn_by_inverse_layer_idx"});
    expect_error([&] { hf_config_from_json(R"({"model_type": "llama", "rope_scaling": {"type": "yarn", "factor": 2.0}})", "l.json"); },
                 {"l.json: ", "rope_scaling.type", "\"yarn\" is not supported"});
    expect_error([&] { hf_config_from_json(R"({"model_type": "gpt2", "activation_function": "swish"})", "g.json"); },
                 {"g.json: ", "'activation_function' is \"swish\""});
}

// ---- our checkpoints ------------------------------------------------------------------------------

TEST_F(IoErrors, OurCheckpointWithAMissingTensorOrABadConfig) {
    TransformerConfig c = gpt2_small();
    c.name = "tiny";
    c.vocab_size = 20, c.d_model = 8, c.n_layers = 1, c.n_heads = 2, c.d_ff = 16, c.max_positions = 8;
    Transformer model(c);
    save_model(path("m.safetensors"), model);
    auto contents = read_safetensors(path("m.safetensors"));
    contents.tensors.erase("norm.bias");
    save_safetensors(path("m.safetensors"), contents.tensors, contents.metadata);
    expect_error([&] { load_model(path("m.safetensors")); }, {path("m.safetensors"), "no tensor for parameter norm.bias"});

    contents.metadata["attend_config"] = "{\"d_model\": \"eight\"}";
    save_safetensors(path("m.safetensors"), contents.tensors, contents.metadata);
    expect_error([&] { load_model(path("m.safetensors")); }, {path("m.safetensors"), "field \"d_model\": expected an integer"});

    expect_error([&] { save_model(path("x.safetensors"), model, {{"attend_config", "{}"}}); }, {"reserved"});
}

// ---- llama2.c ------------------------------------------------------------------------------------

std::string with_header(std::string bytes, const std::vector<int32_t>& header) {
    std::memcpy(bytes.data(), header.data(), 28);
    return bytes;
}

// A model file read into memory (LoadOptions::mmap = false, the default): the bytes are the
// file's, an empty file is empty, and what cannot be read is one line naming the path.
TEST_F(IoErrors, ModelFileReadIntoMemory) {
    std::string bytes(3 * (size_t(2) << 20) + 12345, '\0');  // two threads' blocks and a short last one
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char((i * 2654435761u) >> 13);
    write_file(path("blob"), bytes);
    const auto read = read_file_resident(path("blob"));
    ASSERT_EQ(read->size(), bytes.size());
    EXPECT_EQ(std::memcmp(read->bytes(), bytes.data(), bytes.size()), 0);
    // Released pages are freed for good: what remains is intact.
    read->release(size_t(2) << 20, size_t(2) << 20);
    EXPECT_EQ(std::memcmp(read->bytes(), bytes.data(), size_t(2) << 20), 0);
    write_file(path("empty"), "");
    EXPECT_EQ(read_file_resident(path("empty"))->size(), 0u);
    expect_error([&] { read_file_resident(path("missing")); }, {path("missing") + ": cannot open"});
    fs::create_directories(path("folder"));
    expect_error([&] { read_file_resident(path("folder")); }, {path("folder") + ": not a regular file"});
}

TEST_F(IoErrors, TruncatedLlama2c) {
    const std::string good = read_file(shared_data("stories260K/stories260K.bin"));
    ASSERT_EQ(good.size(), 1056540u);
    {  // mapped, as well as read (the default, below)
        write_file(path("cut_mapped.bin"), good.substr(0, good.size() - 4));
        expect_error([&] { load_model(path("cut_mapped.bin"), LoadOptions{.mmap = true}); },
                     {path("cut_mapped.bin"), "is 1056536 bytes but its header", "(truncated)"});
    }
    write_file(path("cut.bin"), good.substr(0, good.size() - 4));
    expect_error([&] { load_model(path("cut.bin")); },
                 {path("cut.bin"), "is 1056536 bytes but its header", "dim=64", "implies 1056540 bytes (truncated)"});
    write_file(path("long.bin"), good + "xxxx");
    expect_error([&] { load_model(path("long.bin")); }, {path("long.bin"), "trailing bytes"});
    write_file(path("header_only.bin"), good.substr(0, 20));
    expect_error([&] { load_model(path("header_only.bin")); }, {path("header_only.bin"), "too short for the 28-byte header"});
    // The classifier flag flipped: the file would need a separate wcls it does not have.
    write_file(path("no_wcls.bin"), with_header(good, {64, 172, 5, 8, 4, -512, 512}));
    expect_error([&] { load_model(path("no_wcls.bin")); }, {path("no_wcls.bin"), "vocab_size=-512", "(truncated)"});
}

TEST_F(IoErrors, Llama2cHeaderWithImpossibleNumbers) {
    const std::string good = read_file(shared_data("stories260K/stories260K.bin"));
    struct Case {
        std::vector<int32_t> header;
        std::string expected;
    };
    const Case cases[] = {
        {{64, 172, 5, 0, 4, 512, 512}, "n_heads=0, must be positive"},
        {{-64, 172, 5, 8, 4, 512, 512}, "dim=-64, must be positive"},
        {{64, 172, 5, 8, 4, 0, 512}, "vocab_size=0"},
        {{64, 172, 5, 8, 4, INT32_MIN, 512}, "vocab_size=-2147483648"},
        {{64, 172, 5, 7, 7, 512, 512}, "dim=64 not divisible by n_heads=7"},
        {{64, 172, 5, 8, 3, 512, 512}, "n_heads=8 not a multiple of n_kv_heads=3"},
        {{64, 172, 5, 8, 16, 512, 512}, "n_heads=8 not a multiple of n_kv_heads=16"},
        {{48, 172, 5, 16, 4, 512, 512}, "head size dim/n_heads=3, but RoPE needs it even"},
        {{INT32_MAX - 3, INT32_MAX, INT32_MAX, 2, 2, INT32_MAX, INT32_MAX}, "implies an impossible"},
        {{65536, 65536, 65536, 2, 2, 65536, 65536}, "implies an impossible"},
    };
    for (const Case& c : cases) {
        write_file(path("bad.bin"), with_header(good, c.header));
        expect_error([&] { load_model(path("bad.bin")); }, {path("bad.bin"), c.expected});
        expect_error([&] { read_llama2c_header(path("bad.bin")); }, {path("bad.bin"), c.expected});
    }
    std::string v1 = good;
    const uint32_t magic = 0x616b3432u, version = 1;
    std::memcpy(v1.data(), &magic, 4);
    std::memcpy(v1.data() + 4, &version, 4);
    write_file(path("v1.bin"), v1);
    expect_error([&] { load_model(path("v1.bin")); }, {path("v1.bin"), "export version 1", "version-0"});
}

}  // namespace
