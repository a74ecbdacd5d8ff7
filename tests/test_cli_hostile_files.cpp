// Hostile files through the real `attend` binary (issue 11): each row must exit non-zero with
// one line on stderr naming the file, within a time bound, and — for the files that claim
// huge sizes — without the process growing: its peak resident memory is measured (the
// largest child's, getrusage RUSAGE_CHILDREN; ctest runs each test in a fresh process).
// The flag rows are test_cli_hostile_flags-style tables elsewhere; these are files.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attend/io/config_json.hpp"
#include "attend/io/model_loader.hpp"
#include "attend/io/safetensors.hpp"
#include "attend/models/transformer.hpp"
#include "attend/tokenizers/char_level.hpp"
#include "attend/train/checkpoint.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"

using namespace attend;
using attend::testing::CliOptions;
using attend::testing::CliRun;
using attend::testing::run_cli;
using attend::testing::shell_quote;
using attend::testing::TempDir;

namespace {

TransformerConfig tiny_config() {
    TransformerConfig c = gpt2_small();
    c.name = "tiny";
    c.vocab_size = 16, c.d_model = 8, c.n_layers = 1, c.n_heads = 2, c.d_ff = 16, c.max_positions = 8;
    return c;
}

// Peak RSS of the largest child so far, in MiB.
double children_peak_mib() {
    rusage u{};
    getrusage(RUSAGE_CHILDREN, &u);
    return double(u.ru_maxrss) / 1024.0;
}

// The run failed with one line on stderr containing every part, within `seconds`.
void expect_one_line_failure(const std::string& args, const std::vector<std::string>& parts, double seconds = 10) {
    SCOPED_TRACE(args);
    const CliRun r = run_cli(args, CliOptions{.stdin_path = "", .separate_stderr = true});
    EXPECT_NE(r.status, 0);
    EXPECT_LT(r.seconds, seconds);
    std::string err = r.error;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    EXPECT_EQ(err.find('\n'), std::string::npos) << "more than one line:\n" << r.error;
    for (const auto& p : parts) EXPECT_NE(err.find(p), std::string::npos) << "stderr: " << r.error << "\nlacks: " << p;
}

}  // namespace

TEST(CliHostileFiles, ModelClaimingAMillionLayersFailsFastInBoundedMemory) {
    TempDir dir;
    nlohmann::json config = nlohmann::json::parse(config_to_json(tiny_config()));
    config["n_layers"] = 1000;  // inside ConfigLimits: the file's 4 values are what refuse it
    config["d_model"] = 4096, config["n_heads"] = 32, config["d_ff"] = 16384, config["vocab_size"] = 1 << 22;
    save_safetensors(dir.path("m.safetensors"), {{"w", Tensor::zeros({4})}}, {{"attend_config", config.dump()}});
    CharTokenizer::from_text("abcdefgh").save(dir.path("tokenizer.json"));
    expect_one_line_failure("generate --model " + shell_quote(dir.path("m.safetensors")) + " --prompt ab -n 2",
                            {dir.path("m.safetensors"), "hold only 4 values"}, 5);
    config["n_layers"] = 1 << 20;
    save_safetensors(dir.path("m.safetensors"), {{"w", Tensor::zeros({4})}}, {{"attend_config", config.dump()}});
    expect_one_line_failure("generate --model " + shell_quote(dir.path("m.safetensors")) + " --prompt ab -n 2",
                            {dir.path("m.safetensors"), "n_layers must be ≤ 1024"}, 5);
    // Far below the gigabytes such a model would take (ASan's own bookkeeping included).
    EXPECT_LT(children_peak_mib(), 400.0);
}

TEST(CliHostileFiles, TokenizeAFolderIsAnError) {
    TempDir dir;
    CharTokenizer::from_text("abc").save(dir.path("tokenizer.json"));
    dir.write("folder/x.txt", "abc");
    expect_one_line_failure("tokenize --tokenizer " + shell_quote(dir.path("tokenizer.json")) + " --file " +
                                shell_quote(dir.path("folder")),
                            {dir.path("folder"), "is a folder"});
}

TEST(CliHostileFiles, TokenizerThatDoesNotFitTheModel) {
    TempDir dir;
    TransformerConfig c = tiny_config();
    c.vocab_size = 512;
    save_model(dir.path("m"), Transformer(c));
    CharTokenizer::from_text("abc").save(dir.path("m/tokenizer.json"));
    const std::string text = dir.write("text.txt", "abcabc");
    for (const std::string& command : std::vector<std::string>{"generate --prompt ab -n 2", "perplexity --file " + shell_quote(text), "encode --text ab"}) {
        expect_one_line_failure(command + " --model " + shell_quote(dir.path("m")),
                                {dir.path("m/tokenizer.json"), "vocabulary of 3 tokens", "embeddings for 512"});
    }
}

TEST(CliHostileFiles, ResumeFromACorruptCheckpoint) {
    TempDir dir;
    dir.write("data.txt", std::string(2000, 'a') + std::string(2000, 'b'));
    std::filesystem::create_directories(dir.path("run"));
    CharTokenizer::from_text("ab").save(dir.path("run/tokenizer.json"));
    const std::map<std::string, std::string> good = {
        {"format", "attend-checkpoint-1"}, {"step", "1"}, {"rng.data", "1 2 3 4"}, {"rng.dropout", "5 6 7 8"},
        {"arch", "gpt"}, {"attend_config", config_to_json(tiny_config())}, {"history", "[[1,2.5,null,0.001]]"}};
    const std::string args = "train --data " + shell_quote(dir.path("data.txt")) + " --out " + shell_quote(dir.path("run")) +
                             " --resume --steps 2 --quiet";
    const std::string checkpoint = dir.path("run/checkpoint.safetensors");
    const std::pair<std::pair<const char*, const char*>, const char*> rows[] = {
        {{"history", "[[1]]"}, "field \"__metadata__.history[0]\""},
        {{"step", "-3"}, "field \"__metadata__.step\""},
        {{"rng.data", "0 0 0 0"}, "not all zero"},
        {{"attend_config", "{\"n_layers\": \"1\"}"}, "field \"n_layers\": expected an integer"},
    };
    for (const auto& [edit, expected] : rows) {
        auto metadata = good;
        metadata[edit.first] = edit.second;
        save_safetensors(checkpoint, {{"model.w", Tensor::zeros({1})}}, metadata);
        expect_one_line_failure(args, {checkpoint, expected});
    }
    // A 10-byte file claiming a 1 GiB header.
    std::string bytes(10, '\0');
    const uint64_t claimed = (uint64_t(1) << 30) - 1;
    std::memcpy(bytes.data(), &claimed, 8);
    attend::testing::write_file(checkpoint, bytes);
    expect_one_line_failure(args, {checkpoint, "header length 1073741823 exceeds"});
}
