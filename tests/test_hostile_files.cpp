// Hostile files, one class per test: sizes taken from a file before they are checked, the
// training checkpoint's metadata (what `--resume` continues from), the JSON readers, pairs
// and token files, and tokenizers that do not fit their model. Each crafted file must give
// one attend::Error line naming the file and the field, quickly — the sizes it claims are
// never allocated (issue 11). The CLI-level rows are in test_cli_hostile_files.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "attend/error.hpp"
#include "attend/generate/text_model.hpp"
#include "attend/io/config_json.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/models/transformer.hpp"
#include "attend/read_file.hpp"
#include "attend/tokenizers/char_level.hpp"
#include "attend/train/checkpoint.hpp"
#include "attend/train/data.hpp"
#include "attend/train/optimizer.hpp"
#include "attend/train/trainer.hpp"
#include "io/loader_internal.hpp"
#include "support/files.hpp"

using namespace attend;
using attend::testing::TempDir;
using attend::testing::write_file;

namespace {

// `action` must throw attend::Error within `seconds`, on one line, containing every part.
void expect_error(const std::function<void()>& action, const std::vector<std::string>& parts, double seconds = 1.0) {
    const auto start = std::chrono::steady_clock::now();
    std::string message;
    try {
        action();
        ADD_FAILURE() << "no error; expected one mentioning " << parts.front();
        return;
    } catch (const Error& e) {
        message = e.what();
    }
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(took, seconds) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const auto& part : parts) EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nlacks: " << part;
    for (const char* raw : {"stoll", "stoull", "map::at", "json.exception", "type must be"})
        EXPECT_EQ(message.find(raw), std::string::npos) << "a raw library message: " << message;
}

TransformerConfig tiny_config() {
    TransformerConfig c = gpt2_small();
    c.name = "tiny";
    c.vocab_size = 16, c.d_model = 8, c.n_layers = 1, c.n_heads = 2, c.d_ff = 16, c.max_positions = 8;
    return c;
}

// An attend checkpoint of one 4-float tensor whose config says whatever `edit` makes it say.
std::string claimed_model(const TempDir& dir, const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json config = nlohmann::json::parse(config_to_json(tiny_config()));
    edit(config);
    const std::string path = dir.path(name);
    save_safetensors(path, {{"w", Tensor::zeros({4})}}, {{"attend_config", config.dump()}});
    return path;
}

std::map<std::string, std::string> good_metadata() {
    return {{"format", "attend-checkpoint-1"}, {"step", "3"},  {"rng.data", "1 2 3 4"}, {"rng.dropout", "5 6 7 8"},
            {"arch", "gpt"}, {"attend_config", config_to_json(tiny_config())}, {"history", "[[1,2.5,null,0.001]]"}};
}

}  // namespace

// ---- sizes from a file, checked before anything is allocated ------------------------------------

TEST(HostileFiles, ConfigClaimingHugeSizesFailsFastNamingTheField) {
    TempDir dir;
    // Past ConfigLimits: refused by the bounds, naming the field.
    const std::string layers = claimed_model(dir, "layers.safetensors", [](auto& j) { j["n_layers"] = 1 << 20; });
    expect_error([&] { load_model(layers); }, {layers, "n_layers must be ≤ 1024, got 1048576"});
    const std::string vocab = claimed_model(dir, "vocab.safetensors", [](auto& j) { j["vocab_size"] = 1 << 26; });
    expect_error([&] { load_model(vocab); }, {vocab, "vocab_size must be ≤ 8388608, got 67108864"});
    // Inside the bounds but far beyond the 4 values the file holds: refused before the model is built.
    const std::string wide = claimed_model(dir, "wide.safetensors", [](auto& j) {
        j["n_layers"] = 1000, j["vocab_size"] = 1 << 22, j["d_model"] = 4096, j["d_ff"] = 16384, j["n_heads"] = 32;
    });
    expect_error([&] { load_model(wide); }, {wide, "n_layers=1000", "parameters, but the file's tensors hold only 4 values"});
    // Position tables the model would compute, not read: bounded by the model's size.
    const std::string positions = claimed_model(dir, "positions.safetensors", [](auto& j) {
        j["positions"] = "sinusoidal", j["max_positions"] = 1 << 24, j["d_model"] = 64;
    });
    expect_error([&] { load_model(positions); }, {positions, "position tables of", "max_positions"});
}

TEST(HostileFiles, HfConfigSizesAreBoundedAndCheckedAgainstTheWeights) {
    TempDir dir;
    dir.write("big/config.json", R"({"model_type": "gpt2", "n_layer": 1048576})");
    save_safetensors(dir.path("big/model.safetensors"), {{"wte.weight", Tensor::zeros({4})}});
    expect_error([&] { load_model(dir.path("big")); },
                 {dir.path("big/config.json"), "field \"n_layer\": expected an integer in [1, 1024], got 1048576"});
    dir.write("deep/config.json", R"({"model_type": "llama", "num_hidden_layers": 500, "vocab_size": 1000000})");
    save_safetensors(dir.path("deep/model.safetensors"), {{"embed_tokens.weight", Tensor::zeros({4})}});
    expect_error([&] { load_model(dir.path("deep")); }, {dir.path("deep"), "hold only 4 values"});
    expect_error([&] { hf_config_from_json(R"({"model_type": "gpt2", "n_embd": "768"})", "c.json"); },
                 {"c.json: field \"n_embd\": expected an integer in [1, 65536], got the string \"768\""});
    expect_error([&] { hf_config_from_json(R"({"model_type": "llama", "eos_token_id": [2, 40000]})", "c.json"); },
                 {"c.json: field \"eos_token_id[1]\": expected an integer in [0, 31999], got 40000"});
    expect_error([&] { hf_config_from_json(R"({"model_type": "gpt2", "bos_token_id": -7})", "c.json"); },
                 {"c.json: field \"bos_token_id\"", "got -7"});
    expect_error([&] { hf_config_from_json("[1]", "c.json"); }, {"c.json: expected a JSON object, got an array of 1"});
}

TEST(HostileFiles, ShardIndexNamesOnlyPlainFilesBeside) {
    expect_error([&] { parse_safetensors_index(R"({"weight_map": {"a": "../../etc/passwd"}})", "i.json"); },
                 {"i.json: field \"weight_map.a\": expected a plain file name in the index's folder"});
    expect_error([&] { parse_safetensors_index(R"({"weight_map": {"a": 3}})", "i.json"); },
                 {"i.json: field \"weight_map.a\": expected a string, got 3"});
    expect_error([&] { parse_safetensors_index(R"({"metadata": {}})", "i.json"); }, {"i.json: field \"weight_map\"", "missing"});
    expect_error([&] { parse_safetensors_index("{", "i.json"); }, {"i.json: is not valid JSON"});
    EXPECT_EQ(parse_safetensors_index(R"({"weight_map": {"a": "x.safetensors", "b": "x.safetensors"}})", "i.json").size(), 1u);
}

TEST(HostileFiles, ModelMetadataSpecialIdsMustBeInTheVocabulary) {
    TempDir dir;
    Transformer model(tiny_config());
    save_model(dir.path("m.safetensors"), model, {{"bos_id", "999"}});
    expect_error([&] { load_model(dir.path("m.safetensors")); },
                 {dir.path("m.safetensors"), "field \"__metadata__.bos_id\": expected an integer in [0, 16)", "got \"999\""});
    save_model(dir.path("m.safetensors"), model, {{"eos_id", "-1"}});
    expect_error([&] { load_model(dir.path("m.safetensors")); }, {"__metadata__.eos_id", "got \"-1\""});
    save_model(dir.path("m.safetensors"), model, {{"eos_id", "99999999999999999999999"}});
    expect_error([&] { load_model(dir.path("m.safetensors")); }, {"__metadata__.eos_id"});
}

// ---- the training checkpoint: the one reader `--resume` uses --------------------------------------

TEST(HostileFiles, TinyCheckpointClaimingAHugeHeaderAllocatesNothing) {
    TempDir dir;
    std::string bytes(10, '\0');
    const uint64_t claimed = (uint64_t(1) << 30) - 1;
    std::memcpy(bytes.data(), &claimed, 8);
    bytes[8] = '{';
    const std::string path = dir.write("checkpoint.safetensors", bytes);
    expect_error([&] { read_training_metadata(path); }, {path, "header length 1073741823 exceeds the 2 bytes"}, 0.1);
    expect_error([&] { read_safetensors_metadata(path); }, {path, "header length"}, 0.1);
}

TEST(HostileFiles, CheckpointMetadataEveryFieldChecked) {
    const std::string f = "ck.safetensors";
    struct Case {
        std::string key, value;  // value "<erase>" removes the key
        std::vector<std::string> parts;
    };
    const Case cases[] = {
        {"history", "[[1]]", {"field \"__metadata__.history[0]\": expected [step, train loss, val loss or null, lr], got an array of 1"}},
        {"history", "[[\"1\", 2, null, 3]]", {"field \"__metadata__.history[0][0]\": expected an integer ≥ 0, got the string \"1\""}},
        {"history", "[[-1, 2, null, 3]]", {"history[0][0]", "got -1"}},
        {"history", "[[1, 2, \"x\", 3]]", {"history[0][2]", "expected a number"}},
        {"history", "{\"a\": 1}", {"field \"__metadata__.history\": expected an array, got an object"}},
        {"history", "[[1, 2", {"metadata \"history\" is not valid JSON"}},
        {"step", "-5", {"field \"__metadata__.step\": expected a step count ≥ 0 (decimal), got \"-5\""}},
        {"step", "12abc", {"__metadata__.step", "got \"12abc\""}},
        {"step", "99999999999999999999999", {"__metadata__.step"}},
        {"step", "<erase>", {"field \"__metadata__.step\": expected a step count, got nothing"}},
        {"rng.data", "0 0 0 0", {"field \"__metadata__.rng.data\": expected four decimal 64-bit words, not all zero, got \"0 0 0 0\""}},
        {"rng.data", "1 2 3", {"__metadata__.rng.data", "got \"1 2 3\""}},
        {"rng.data", "1 2 3 4 5", {"__metadata__.rng.data"}},
        {"rng.dropout", "1 2 x 4", {"__metadata__.rng.dropout"}},
        {"attend_config", "{\"d_model\": [1]}", {"ck.safetensors (metadata attend_config): field \"d_model\": expected an integer, got an array of 1"}},
        {"arch", "transformer", {"field \"__metadata__.arch\": expected gpt, bert or seq2seq, got \"transformer\""}},
        {"format", "attend-checkpoint-0", {"not an attend training checkpoint", "got \"attend-checkpoint-0\""}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.key + " = " + c.value);
        auto metadata = good_metadata();
        if (c.value == "<erase>") metadata.erase(c.key);
        else metadata[c.key] = c.value;
        std::vector<std::string> parts = c.parts;
        parts.push_back(f);
        expect_error([&] { check_training_metadata(metadata, f); }, parts);
    }
    EXPECT_NO_THROW(check_training_metadata(good_metadata(), f));
    // What `--resume` needs beyond a valid checkpoint: the trainer's streams and its config.
    TempDir dir;
    for (const char* key : {"rng.dropout", "attend_config"}) {
        auto metadata = good_metadata();
        metadata.erase(key);
        const std::string path = dir.path("ck.safetensors");
        save_safetensors(path, {{"model.w", Tensor::zeros({1})}}, metadata);
        expect_error([&] { read_training_metadata(path); },
                     {path + ": field \"__metadata__." + key + "\": expected", "got nothing"});
    }
    const TrainingState state = training_state_from(good_metadata(), f);
    EXPECT_EQ(state.step, 3);
    EXPECT_EQ(state.generators.at("dropout").state()[3], 8u);
}

TEST(HostileFiles, CheckpointTensorsCheckedBeforeTheModelIsTouched) {
    TempDir dir;
    Transformer model(tiny_config(), 1);
    NamedParameters params = model.parameters();
    for (auto& [name, p] : params) p->requires_grad_(true);
    AdamW optimizer(params, {});
    TrainingState state;
    state.step = 2;
    state.generators["data"] = Generator(1);
    state.generators["dropout"] = Generator(2);
    state.metadata = {{"arch", "gpt"}};  // attend_config: written from the model
    const std::string path = dir.path("checkpoint.safetensors");
    save_training_checkpoint(path, model, optimizer, state);
    auto contents = read_safetensors(path);

    const Tensor before = params.front().second->detach().contiguous();
    auto tamper = [&](const std::string& name, float value) {
        auto tensors = contents.tensors;
        const Tensor& source = tensors.at(name);  // a view of the mapped file: write into a copy
        Tensor t = Tensor::empty(source.shape());
        std::memcpy(t.data(), source.contiguous().data(), size_t(source.numel()) * 4);
        t.data()[0] = value;
        tensors[name] = t;
        save_safetensors(path, tensors, contents.metadata);
    };
    tamper("optim.v." + params.front().first, -1.f);
    expect_error([&] { load_training_checkpoint(path, params, optimizer); },
                 {path, "tensor 'optim.v." + params.front().first + "' holds -1", "finite values ≥ 0"});
    tamper("model." + params.front().first, NAN);
    expect_error([&] { load_training_checkpoint(path, params, optimizer); }, {path, "model." + params.front().first, "finite"});
    tamper("optim.step", 2.5f);
    expect_error([&] { load_training_checkpoint(path, params, optimizer); }, {path, "optim.step", "whole step count"});
    // Nothing was written into the model by the refused loads.
    const Tensor after = params.front().second->detach().contiguous();
    EXPECT_EQ(std::memcmp(before.data(), after.data(), size_t(before.numel()) * 4), 0);
}

// ---- the other readers -----------------------------------------------------------------------------

TEST(HostileFiles, TrainConfigJsonValuesAreTypeChecked) {
    expect_error([&] { parse_train_options(R"({"layers": "2"})", "t.json"); },
                 {"t.json: field \"layers\": expected an integer", "got the string \"2\""});
    expect_error([&] { parse_train_options(R"({"seed": -1})", "t.json"); },
                 {"t.json: field \"seed\": expected an integer ≥ 0, got -1"});
    expect_error([&] { parse_train_options(R"({"lr": [0.1]})", "t.json"); }, {"t.json: field \"lr\": expected a number"});
    expect_error([&] { parse_train_options(R"({"threads": 1e30})", "t.json"); }, {"t.json: field \"threads\""});
    expect_error([&] { parse_train_options(R"({"arch": 3})", "t.json"); }, {"t.json: field \"arch\": expected a string"});
    expect_error([&] { parse_train_options("[1, 2]", "t.json"); }, {"t.json: expected a JSON object"});
    expect_error([&] { parse_train_options("{\"layers\": ", "t.json"); }, {"t.json: is not valid JSON"});
    EXPECT_EQ(parse_train_options(R"({"layers": 3, "lr": 0.5, "seed": 9})", "t.json").layers, 3);
}

TEST(HostileFiles, PairsAndTokenFiles) {
    expect_error([&] { parse_pairs("a\tb\nno tab here\n", "p.tsv"); }, {"p.tsv line 2: expected \"source<TAB>target\", found no tab"});
    expect_error([&] { parse_pairs("a\t\n", "p.tsv"); }, {"p.tsv line 1: ", "found an empty target"});
    expect_error([&] { parse_pairs("\tb\n", "p.tsv"); }, {"p.tsv line 1: ", "found an empty source"});
    expect_error([&] { parse_pairs("\n\r\n", "p.tsv"); }, {"p.tsv holds no pairs"});
    EXPECT_EQ(parse_pairs("a\tb\r\n\nc\td", "p.tsv").size(), 2u);
    const unsigned char odd[] = {1, 0, 2};
    expect_error([&] { check_uint16_tokens(odd, 3, 10, "t.bin"); }, {"t.bin: a uint16 token file must have an even size"});
    const unsigned char outside[] = {1, 0, 10, 0};
    expect_error([&] { check_uint16_tokens(outside, 4, 10, "t.bin"); }, {"t.bin: token 1 is 10, outside the tokenizer's vocabulary of 10"});
    expect_error([&] { check_uint16_tokens(outside, 0, 10, "t.bin"); }, {"t.bin: the token file is empty"});
    TempDir dir;
    expect_error([&] { read_text_file(dir.dir().string()); }, {dir.dir().string(), "is a folder, not a text file"});
}

// The one whole-file reader (attend/read_file.hpp) under configs, tokenizers, templates and text.
TEST(HostileFiles, ReadFile) {
    TempDir dir;
    const std::string bytes("a\0b\n", 4);
    const std::string file = dir.write("f.bin", bytes);
    EXPECT_EQ(read_file(file), bytes);
    EXPECT_EQ(read_file(file, "file", 4), bytes);  // the limit is inclusive
    expect_error([&] { read_file(file, "JSON file", 3); }, {file, "4 bytes is too large for a JSON file (limit 3)"});
    expect_error([&] { read_file(dir.path("missing.json"), "JSON file"); }, {dir.path("missing.json"), "cannot open: no such file"});
    expect_error([&] { read_file(dir.dir().string(), "JSON file"); }, {dir.dir().string(), "is a folder, not a JSON file"});
    // A file with no size to check first (a device, a pipe) stops at the limit, not at its end.
    expect_error([&] { read_file("/dev/zero", "text file", 1 << 20); }, {"/dev/zero", "too large for a text file (limit 1048576)"});
}

// ---- tokenizer vs model ----------------------------------------------------------------------------

TEST(HostileFiles, TokenizerThatDoesNotFitTheModel) {
    const CharTokenizer three = CharTokenizer::from_text("abc");
    const CharTokenizer many = CharTokenizer::from_text(std::string("abcdefghijklmnopqrstuvwxyz0123456789"));
    // Larger than the model: ids without embeddings.
    expect_error([&] { check_tokenizer_fits(many, "tok.json", 16, "model"); },
                 {"tok.json: a vocabulary of 36 tokens does not fit the model model, which has embeddings for 16"});
    // Far smaller: another model's tokenizer (a 512-token tokenizer.bin on a 32000-token model).
    expect_error([&] { check_tokenizer_fits(three, "tok.json", 32000, "model"); },
                 {"tok.json: a vocabulary of 3 tokens", "embeddings for 32000", "padding"});
    // Padding a checkpoint adds is fine (nanoGPT's GPT-2: 50257 → 50304).
    EXPECT_NO_THROW(check_tokenizer_fits(three, "tok.json", 3 + 128, "model"));
    EXPECT_NO_THROW(check_tokenizer_fits(many, "tok.json", 36, "model"));

    // Through load_text_model, as generate, perplexity, viz and encode load them.
    TempDir dir;
    TransformerConfig c = tiny_config();
    c.vocab_size = 512;
    save_model(dir.path("m"), Transformer(c));
    three.save(dir.path("m/tokenizer.json"));
    expect_error([&] { load_text_model(dir.path("m")); },
                 {dir.path("m/tokenizer.json"), "vocabulary of 3 tokens", "embeddings for 512"});
    // The model's own special ids must be tokens of the tokenizer.
    c.vocab_size = 16;
    const CharTokenizer sixteen = CharTokenizer::from_text("abcdefghijklmnop");
    save_model(dir.path("s"), Transformer(c), {{"eos_id", "15"}});
    CharTokenizer::from_text("abcdefghij").save(dir.path("s/tokenizer.json"));
    expect_error([&] { load_text_model(dir.path("s")); },
                 {dir.path("s"), "eos token id 15 lies outside the vocabulary of 10 tokens", "s/tokenizer.json"});
    sixteen.save(dir.path("s/tokenizer.json"));
    EXPECT_NO_THROW(load_text_model(dir.path("s")));
}
