// End-to-end tests of `attend generate`, `tokenize`, `perplexity` and `encode` on the real
// checkpoints and vocabularies in ATTEND_SHARED_DATA: the binary (ATTEND_CLI) is run as a user
// would run it, and what it prints is checked against published outputs (llama2.c's greedy
// stories260K story, Hugging Face's token ids from llama.cpp's vocabulary tests) and against
// the library called directly. Bad files must give one line on stderr naming the file, exit
// code 1, and nothing on stdout.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "attend/autograd.hpp"
#include "attend/cpu_features.hpp"
#include "attend/generate/generate.hpp"
#include "attend/generate/text_model.hpp"
#include "attend/ops.hpp"
#include "attend/tokenizers/utf8_stream.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using namespace attend;

namespace {

// llama2.c's README, "Sampling this model at temperature 0.0 (i.e. deterministic greedy
// argmax sampling) gives": `./run stories260K/stories260K.bin -z stories260K/tok512.bin -t 0.0`
// (200 steps from BOS), also llama2.c's test_all.py expected_stdout.
const std::string kStories260KGreedy =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw "
    "a big, red ball. She wanted to play with it, but it was too high.\n"
    "Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. She said, \"I want "
    "to play with your ball, but I can't find it.\"\n"
    "Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\n"
    "Lily didn't want to help her mom, so she";

using attend::testing::CliRun;
using attend::testing::read_file;
using attend::testing::shared_data;
using attend::testing::shell_quote;
using attend::testing::write_file;

std::string data(const std::string& relative) { return std::string(ATTEND_SHARED_DATA) + "/" + relative; }

// Fails (never skips) when the shared data is not where the build says.
void require_data(const std::string& relative) { ASSERT_TRUE(fs::exists(shared_data(relative))); }

// A fresh folder per test (ctest runs tests in parallel); the binary runs with stderr apart.
class CliModels : public ::testing::Test {
protected:
    std::string path(const std::string& name) const { return dir_.path(name); }
    // `args` are already quoted; stdin is the file `input` (or empty).
    CliRun run(const std::string& args, const std::string& input = "") const {
        return attend::testing::run_cli(args, {.stdin_path = input, .separate_stderr = true});
    }
    attend::testing::TempDir dir_;
};

std::vector<std::string> split_ws(const std::string& s) {
    std::vector<std::string> parts;
    std::istringstream in(s);
    for (std::string p; in >> p;) parts.push_back(p);
    return parts;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// The last number in a line like "perplexity 3.1416 over 26 tokens (...)".
double perplexity_in(const std::string& out) {
    const auto lines = lines_of(out);
    if (lines.empty()) return NAN;
    const auto words = split_ws(lines.back());
    if (words.size() < 2 || words[0] != "perplexity") return NAN;
    return std::strtod(words[1].c_str(), nullptr);
}

}  // namespace

// ---- generate -------------------------------------------------------------------------

TEST_F(CliModels, GenerateTellsLlama2csGreedyStory) {
    require_data("stories260K/stories260K.bin");
    // No prompt: BOS alone, as run.c starts; 200 steps as its default. The same story under
    // each kernel set the CPU runs (ATTEND_MAX_ISA, attend/cpu_features.hpp).
    for (Isa isa : cpu_isas()) {
        const CliRun r = attend::testing::run_cli(
            "generate --model " + shell_quote(data("stories260K/stories260K.bin")) + " -n 200 --temperature 0",
            {.stdin_path = "", .separate_stderr = true}, {{"ATTEND_MAX_ISA", name_of(isa)}});
        ASSERT_EQ(r.status, 0) << name_of(isa) << ": " << r.error;
        EXPECT_EQ(r.output, kStories260KGreedy + "\n") << name_of(isa);
    }
}

TEST_F(CliModels, GenerateContinuesOnceUponATimeDeterministically) {
    require_data("stories260K/stories260K.bin");
    const std::string args = "generate --model " + shell_quote(data("stories260K/stories260K.bin")) +
                             " --prompt 'Once upon a time' -n 40 --temperature 0";
    const CliRun a = run(args), b = run(args);
    ASSERT_EQ(a.status, 0) << a.error;
    EXPECT_EQ(a.output, b.output) << "greedy decoding must not change between runs";
    std::cout << "stories260K, greedy, 40 tokens:\n" << a.output;

    // The prompt, then a continuation of English words.
    ASSERT_EQ(a.output.rfind("Once upon a time", 0), 0u) << a.output;
    const std::string continuation = a.output.substr(16);
    const auto words = split_ws(continuation);
    EXPECT_GE(words.size(), 15u) << continuation;
    for (char c : continuation) EXPECT_TRUE(std::isprint((unsigned char)c) || c == '\n') << int(c);
    int letters = 0;
    for (char c : continuation) letters += std::isalpha((unsigned char)c) != 0;
    EXPECT_GT(letters, int(continuation.size()) / 2) << continuation;
    // The prompt's tokens are the model's own greedy start, so the story continues as llama2.c's does.
    EXPECT_EQ(kStories260KGreedy.rfind(a.output.substr(0, a.output.size() - 1), 0), 0u) << a.output;

    // The same through the library: what the CLI printed is the prompt plus the decoded tokens.
    const TextModel lm = load_text_model(data("stories260K/stories260K.bin"));
    std::vector<int64_t> ids = lm.prompt_ids("Once upon a time");
    GenerateOptions g;
    g.max_new_tokens = 40, g.temperature = 0.f, g.stop_tokens = lm.stop_tokens();
    const auto gen = generate(lm.model(), {ids}, g);
    EXPECT_EQ(gen[0].tokens.size(), 40u);
    ids.insert(ids.end(), gen[0].tokens.begin(), gen[0].tokens.end());
    EXPECT_EQ(a.output, utf8_sanitize(lm.tokenizer->decode(ids, true)) + "\n");
}

// --kv-cache bf16: keys and values rounded to bf16 as they are stored move the logits by
// ~1e-3 of their scale (tests/test_kv_cache.cpp), far less than greedy decoding's margins on
// this story: the same 40 tokens. That the flag took effect shows in --profile: the prompt's
// step (5 tokens with BOS) widens the bf16 keys, which an fp32 cache never does. int8 is no
// cache type: one line, naming the flag.
TEST_F(CliModels, GenerateWithABf16KvCacheTellsTheSameStory) {
    require_data("stories260K/stories260K.bin");
    const std::string args = "generate --model " + shell_quote(data("stories260K/stories260K.bin")) +
                             " --prompt 'Once upon a time' -n 40 --temperature 0";
    const CliRun f32 = run(args), bf16 = run(args + " --kv-cache bf16");
    ASSERT_EQ(bf16.status, 0) << bf16.error;
    EXPECT_EQ(bf16.output, f32.output);
    const CliRun f32_profile = run(args + " --profile"), bf16_profile = run(args + " --kv-cache bf16 --profile");
    EXPECT_EQ(f32_profile.error.find("kv_cache widen"), std::string::npos) << f32_profile.error;
    EXPECT_NE(bf16_profile.error.find("kv_cache widen"), std::string::npos) << bf16_profile.error;
    const CliRun bad = run(args + " --kv-cache int8");
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.error.find("--kv-cache: int8 not in {f32,bf16}"), std::string::npos) << bad.error;
    EXPECT_EQ(std::count(bad.error.begin(), bad.error.end(), '\n'), 1) << bad.error;
}

// --profile: a table of phases and op kinds on stderr after the run; stdout, the story, as
// without it.
TEST_F(CliModels, GenerateProfilePrintsPhasesAndOpsOnStderrOnly) {
    require_data("stories260K/stories260K.bin");
    const std::string args = "generate --model " + shell_quote(data("stories260K/stories260K.bin")) +
                             " --prompt 'Once upon a time' -n 8 --temperature 0";
    const CliRun plain = run(args), profiled = run(args + " --profile");
    ASSERT_EQ(plain.status, 0) << plain.error;
    ASSERT_EQ(profiled.status, 0) << profiled.error;
    EXPECT_EQ(profiled.output, plain.output);
    EXPECT_EQ(plain.error.find("profile"), std::string::npos) << plain.error;
    std::cout << "stories260K, --profile:\n" << profiled.error;

    const auto lines = lines_of(profiled.error);
    // A table row: the name, then numbers (the first column is padded, so "linear" is not
    // matched by "linear backward").
    const auto row = [&](const std::string& name) -> std::vector<std::string> {
        for (const std::string& line : lines) {
            const auto words = split_ws(line);
            if (line.rfind("  " + name + " ", 0) == 0 && words.size() > 1 && std::isdigit((unsigned char)words[1][0]))
                return words;
        }
        return {};
    };
    for (const char* phase : {"load", "tokenize", "prefill", "decode", "sample"})
        EXPECT_EQ(row(phase).size(), 3u) << phase << " missing from\n" << profiled.error;  // name, ms, share
    for (const char* op : {"linear", "attention", "rms_norm", "embedding"})
        EXPECT_EQ(row(op).size(), 5u) << op << " missing from\n" << profiled.error;  // name, calls, ms, share, mean
    // Greedy decoding of 8 tokens: the prompt in one prefill step, then 7 decode steps (the
    // last token drawn is never fed back).
    EXPECT_NE(profiled.error.find("tokens/s"), std::string::npos) << profiled.error;
    const auto decode = row("decode");
    ASSERT_FALSE(decode.empty());
    bool found = false;
    for (const std::string& line : lines)
        if (line.find("decode") != std::string::npos && line.find("tokens/s") != std::string::npos) {
            EXPECT_EQ(split_ws(line)[1], "7") << line;
            found = true;
        }
    EXPECT_TRUE(found) << profiled.error;
}

TEST_F(CliModels, GenerateSamplesReproduciblyWithASeed) {
    require_data("stories260K/stories260K.bin");
    const std::string base = "generate --model " + shell_quote(data("stories260K/stories260K.bin")) +
                             " --prompt 'The dog' -n 60 --temperature 0.9 --top-k 40 --top-p 0.9";
    const CliRun a = run(base + " --seed 7"), b = run(base + " --seed 7"), c = run(base + " --seed 8");
    ASSERT_EQ(a.status, 0) << a.error;
    ASSERT_EQ(c.status, 0) << c.error;
    EXPECT_EQ(a.output, b.output);
    EXPECT_NE(a.output, c.output);
    EXPECT_EQ(a.output.rfind("The dog", 0), 0u) << a.output;
    EXPECT_GT(a.output.size(), 40u) << a.output;
}

TEST_F(CliModels, GenerateRunsEveryCheckpointFormat) {
    require_data("aidreams260K/aidreams260K.bin");
    require_data("gpt2_fake_hf/config.json");
    // aidreams260K (llama2.c, its own tok512.bin beside it) — a trained model: text comes out.
    const CliRun a = run("generate --model " + shell_quote(data("aidreams260K/aidreams260K.bin")) +
                      " --prompt 'Once upon a time' -n 30 --temperature 0");
    ASSERT_EQ(a.status, 0) << a.error;
    EXPECT_EQ(a.output.rfind("Once upon a time", 0), 0u) << a.output;
    EXPECT_GT(a.output.size(), 30u) << a.output;
    // GPT-2 folder (random weights; vocab.json/merges.txt/tokenizer.json beside it): the CLI
    // prints the prompt and exactly what the library generates.
    const CliRun g = run("generate --model " + shell_quote(data("gpt2_fake_hf")) + " --prompt 'Hello world' -n 6 --temperature 0");
    ASSERT_EQ(g.status, 0) << g.error;
    const TextModel lm = load_text_model(data("gpt2_fake_hf"));
    std::vector<int64_t> ids = lm.prompt_ids("Hello world");
    EXPECT_EQ(ids, (std::vector<int64_t>{15496, 995}));
    GenerateOptions o;
    o.max_new_tokens = 6, o.temperature = 0.f, o.stop_tokens = lm.stop_tokens(), o.vocab_limit = lm.vocab_limit();
    const auto out = generate(lm.model(), {ids}, o);
    ids.insert(ids.end(), out[0].tokens.begin(), out[0].tokens.end());
    EXPECT_EQ(g.output, utf8_sanitize(lm.tokenizer->decode(ids, true)) + "\n");
    // The same model as a bare .safetensors file (config.json and the tokenizer beside it).
    const CliRun f = run("generate --model " + shell_quote(data("gpt2_fake_hf/model.safetensors")) +
                      " --prompt 'Hello world' -n 6 --temperature 0");
    ASSERT_EQ(f.status, 0) << f.error;
    EXPECT_EQ(f.output, g.output);
    // --mmap: the file mapped instead of read into memory — the same text.
    const CliRun m = run("generate --model " + shell_quote(data("gpt2_fake_hf")) + " --mmap --prompt 'Hello world' -n 6 --temperature 0");
    ASSERT_EQ(m.status, 0) << m.error;
    EXPECT_EQ(m.output, g.output);
    // No prompt: GPT-2 starts from <|endoftext|>.
    const CliRun e = run("generate --model " + shell_quote(data("gpt2_fake_hf")) + " -n 3 --temperature 0");
    EXPECT_EQ(e.status, 0) << e.error;

    // Our checkpoint: stories260K saved by save_model, then generated from with its tokenizer.
    save_model(path("ckpt"), load_model(data("stories260K/stories260K.bin")).model);
    const std::string prompt = " --prompt 'Once upon a time' -n 30 --temperature 0";
    const CliRun ours = run("generate --model " + shell_quote(path("ckpt")) + " --tokenizer " +
                         shell_quote(data("stories260K/tok512.bin")) + prompt);
    const CliRun original = run("generate --model " + shell_quote(data("stories260K/stories260K.bin")) + prompt);
    ASSERT_EQ(ours.status, 0) << ours.error;
    EXPECT_EQ(ours.output, original.output);
    const CliRun mapped = run("generate --model " + shell_quote(data("stories260K/stories260K.bin")) + " --mmap" + prompt);
    ASSERT_EQ(mapped.status, 0) << mapped.error;
    EXPECT_EQ(mapped.output, original.output);
}

// ---- convert ---------------------------------------------------------------------------

TEST_F(CliModels, ConvertToInt8ThenGenerateFromTheCheckpoint) {
    require_data("stories260K/stories260K.bin");
    const std::string out = path("stories-int8");
    const CliRun c = run("convert --dtype int8 " + shell_quote(data("stories260K/stories260K.bin")) + " " + shell_quote(out));
    ASSERT_EQ(c.status, 0) << c.error;
    EXPECT_EQ(c.output, "");
    for (const char* f : {"model.safetensors", "config.json", "tokenizer.bin"}) EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
    // The tokenizer was copied beside it, so no --tokenizer is needed; the checkpoint keeps
    // llama2.c's BOS/EOS, so generation stops where the original's int8 run does.
    const std::string args = " --prompt 'Once upon a time' --temperature 0 -n 8";
    // --dtype int8 on an int8 checkpoint converts nothing (as --dtype bf16 on a bf16 one).
    const CliRun g = run("generate --model " + shell_quote(out) + " --dtype int8" + args);
    ASSERT_EQ(g.status, 0) << g.error;
    EXPECT_EQ(g.output.rfind("Once upon a time", 0), 0u) << g.output;
    const CliRun direct = run("generate --model " + shell_quote(data("stories260K/stories260K.bin")) + " --dtype int8" + args);
    ASSERT_EQ(direct.status, 0) << direct.error;
    EXPECT_EQ(g.output, direct.output);
    // Converting an int8 checkpoint to bf16 would round twice: one line, exit code 1.
    const CliRun twice = run("convert --dtype bf16 " + shell_quote(out) + " " + shell_quote(path("again")));
    EXPECT_EQ(twice.status, 1);
    EXPECT_NE(twice.error.find("already int8"), std::string::npos) << twice.error;
    EXPECT_EQ(twice.error.rfind("attend: error: " + out + ": ", 0), 0u) << twice.error;
    EXPECT_EQ(std::count(twice.error.begin(), twice.error.end(), '\n'), 1) << twice.error;
}

// ---- tokenize -------------------------------------------------------------------------

namespace {

struct VocabCase {
    std::string text, ids;  // ids as the .output file has them, trimmed
};

// llama.cpp's vocabulary tests: 46 strings and the ids Hugging Face's tokenizers give them.
std::vector<VocabCase> vocab_cases(const std::string& vocab) {
    const std::string base = data("llamacpp_vocab_tests/ggml-vocab-" + vocab + ".gguf");
    const std::string inp = read_file(base + ".inp"), out = read_file(base + ".out");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> texts;
    for (size_t at = 0;;) {
        const size_t next = inp.find(sep, at);
        if (next == std::string::npos) break;  // the piece after the last separator is not a test
        texts.push_back(inp.substr(at, next - at));
        at = next + sep.size();
    }
    const auto lines = lines_of(out);
    std::vector<VocabCase> cases;
    for (size_t i = 0; i < texts.size() && i < lines.size(); ++i) {
        std::string ids = lines[i];
        ids.erase(0, ids.find_first_not_of(' ') == std::string::npos ? ids.size() : ids.find_first_not_of(' '));
        cases.push_back({texts[i], ids});
    }
    return cases;
}

}  // namespace

TEST_F(CliModels, TokenizeMatchesHuggingFaceOnEveryVocabulary) {
    require_data("llamacpp_vocab_tests/ggml-vocab-gpt-2.gguf.out");
    struct Vocabulary {
        std::string vocab, tokenizer;
    };
    // Every string of every file through the command: all 46 in one process with --jsonl, and
    // two of them through stdin byte for byte (the command's other path). (One process per
    // string was 138 processes, 3 minutes under ASan; the same strings are checked in process
    // too: test_tokenizers.cpp, test_tokenizer_pipeline.cpp.)
    const std::vector<Vocabulary> vocabularies = {
        {"gpt-2", data("gpt2_fake_hf")},                          // tokenizer.json in an HF folder
        {"gpt-2", data("gpt2_fake_hf/vocab.json")},               // vocab.json + merges.txt
        {"gpt-2", data("gpt2_bpe_openai")},                       // OpenAI's encoder.json + vocab.bpe
        {"bert-bge", data("bert_vocab/vocab.txt")},               // WordPiece
        {"llama-spm", data("llama2c_tokenizer_32k/tokenizer.bin")},  // Llama 2's 32k, llama2.c format
        // GGUF files (tokenizer.ggml.*)
        {"gpt-2", data("llamacpp_vocab_tests/ggml-vocab-gpt-2.gguf")},
        {"bert-bge", data("llamacpp_vocab_tests/ggml-vocab-bert-bge.gguf")},
        {"llama-spm", data("llamacpp_vocab_tests/ggml-vocab-llama-spm.gguf")},
        {"phi-3", data("llamacpp_vocab_tests/ggml-vocab-phi-3.gguf")},
        {"deepseek-llm", data("llamacpp_vocab_tests/ggml-vocab-deepseek-llm.gguf")},
        {"falcon", data("llamacpp_vocab_tests/ggml-vocab-falcon.gguf")},
        {"starcoder", data("llamacpp_vocab_tests/ggml-vocab-starcoder.gguf")},
    };
    for (const Vocabulary& v : vocabularies) {
        ASSERT_TRUE(fs::exists(v.tokenizer)) << "shared test data missing: " << v.tokenizer;
        const auto cases = vocab_cases(v.vocab);
        ASSERT_EQ(cases.size(), 46u) << v.vocab;
        std::string jsonl;
        for (const VocabCase& c : cases) jsonl += nlohmann::json(c.text).dump() + "\n";
        write_file(path("texts.jsonl"), jsonl);
        const CliRun all = run("tokenize --jsonl --tokenizer " + shell_quote(v.tokenizer), path("texts.jsonl"));
        ASSERT_EQ(all.status, 0) << v.tokenizer << ": " << all.error;
        const auto lines = lines_of(all.output);
        ASSERT_EQ(lines.size(), cases.size()) << v.tokenizer << ":\n" << all.output;
        for (size_t i = 0; i < cases.size(); ++i) {
            std::string ids = "[";
            for (const std::string& id : split_ws(cases[i].ids)) ids += (ids.size() > 1 ? "," : "") + id;
            EXPECT_EQ(lines[i], ids + "]") << v.tokenizer << ", test string " << i << ": \"" << cases[i].text << "\"";
        }
        // Through stdin as bytes: the first string with a non-ASCII byte, and the first that
        // ends in a newline after other whitespace ("\t\n").
        const auto first = [&](auto is) {
            return size_t(std::find_if(cases.begin(), cases.end(), is) - cases.begin());
        };
        const size_t non_ascii = first([](const VocabCase& c) {
            return std::any_of(c.text.begin(), c.text.end(), [](char ch) { return static_cast<unsigned char>(ch) >= 0x80; });
        });
        const size_t tab_newline = first([](const VocabCase& c) { return c.text == "\t\n"; });
        for (size_t i : {non_ascii, tab_newline}) {
            ASSERT_LT(i, cases.size()) << v.vocab << ": no such test string";
            write_file(path("text.txt"), cases[i].text);
            const CliRun r = run("tokenize --tokenizer " + shell_quote(v.tokenizer), path("text.txt"));
            ASSERT_EQ(r.status, 0) << v.tokenizer << ": " << r.error;
            EXPECT_EQ(r.output, cases[i].ids + "\n") << v.tokenizer << ", test string " << i << ": \"" << cases[i].text << "\"";
        }
    }
    // --jsonl: an object's "text", and a line that is neither names the input and the line.
    write_file(path("texts.jsonl"), "{\"text\": \" Hello World\"}\n\"\"\n");
    const CliRun objects = run("tokenize --jsonl --tokenizer " + shell_quote(data("gpt2_fake_hf")), path("texts.jsonl"));
    EXPECT_EQ(objects.output, "[18435,2159]\n[]\n") << objects.error;
    write_file(path("bad.jsonl"), "\"fine\"\n[1, 2]\n");
    const CliRun bad = run("tokenize --jsonl --tokenizer " + shell_quote(data("gpt2_fake_hf")) + " --file " +
                           shell_quote(path("bad.jsonl")));
    EXPECT_EQ(bad.status, 1);
    EXPECT_EQ(bad.output, "");  // nothing of the lines before it
    EXPECT_NE(bad.error.find(path("bad.jsonl") + ":2: expected a JSON string"), std::string::npos) << bad.error;
    // --text and --special: HF's add_special_tokens=True.
    const CliRun bert = run("tokenize --tokenizer " + shell_quote(data("bert_vocab/vocab.txt")) + " --text ' Hello World' --special");
    EXPECT_EQ(bert.output, "101 7592 2088 102\n") << bert.error;
    const CliRun llama = run("tokenize --tokenizer " + shell_quote(data("llama2c_tokenizer_32k/tokenizer.bin")) +
                          " --text ' Hello World' --special");
    EXPECT_EQ(llama.output, "1 29871 15043 2787\n") << llama.error;
    const CliRun gpt2 = run("tokenize --tokenizer " + shell_quote(data("gpt2_fake_hf")) + " --text ' Hello World'");
    EXPECT_EQ(gpt2.output, "18435 2159\n") << gpt2.error;
}

// ---- perplexity -----------------------------------------------------------------------

TEST_F(CliModels, PerplexityRanksAStoryAboveShuffledWords) {
    require_data("stories260K/stories260K.bin");
    const std::string model = shell_quote(data("stories260K/stories260K.bin"));
    write_file(path("story.txt"), kStories260KGreedy);
    // The same words in a random order: the same unigrams, no grammar.
    auto words = split_ws(kStories260KGreedy);
    std::mt19937 rng(3);
    std::shuffle(words.begin(), words.end(), rng);
    std::string shuffled;
    for (const auto& w : words) shuffled += (shuffled.empty() ? "" : " ") + w;
    write_file(path("shuffled.txt"), shuffled);

    const CliRun story = run("perplexity --model " + model + " --file " + shell_quote(path("story.txt")) + " --verbose");
    const CliRun noise = run("perplexity --model " + model + " --file " + shell_quote(path("shuffled.txt")));
    ASSERT_EQ(story.status, 0) << story.error;
    ASSERT_EQ(noise.status, 0) << noise.error;
    const double p_story = perplexity_in(story.output), p_noise = perplexity_in(noise.output);
    std::cout << "stories260K perplexity: its own greedy story " << p_story << ", shuffled words " << p_noise << "\n";
    ASSERT_TRUE(std::isfinite(p_story) && std::isfinite(p_noise)) << story.output << noise.output;
    EXPECT_GT(p_story, 1.0);
    EXPECT_LT(p_story, 3.0);  // the model's own greedy text: nearly every token is its top choice
    EXPECT_GT(p_noise, 2 * p_story);
    EXPECT_LT(p_noise, 512.0);  // better than uniform over the vocabulary

    // --verbose: one row per scored token (header, rows, summary), and the rows average to the summary.
    const auto lines = lines_of(story.output);
    ASSERT_GE(lines.size(), 3u);
    double sum = 0;
    size_t rows = 0;
    for (size_t i = 1; i + 1 < lines.size(); ++i, ++rows) sum += std::strtod(split_ws(lines[i]).back().c_str(), nullptr);
    const auto summary = split_ws(lines.back());  // perplexity X over N tokens (mean nll M nats)
    ASSERT_GE(summary.size(), 8u) << lines.back();
    EXPECT_EQ(std::to_string(rows), summary[3]);
    EXPECT_NEAR(std::exp(sum / double(rows)), p_story, 1e-3 * p_story);
}

TEST_F(CliModels, PerplexitySlidesAWindowOverALongText) {
    require_data("tinyshakespeare/input.txt");
    // ~2000 characters give well over the 512 positions of stories260K.
    write_file(path("long.txt"), read_file(data("tinyshakespeare/input.txt")).substr(0, 2500));
    const CliRun r = run("perplexity --model " + shell_quote(data("stories260K/stories260K.bin")) + " --file " +
                      shell_quote(path("long.txt")));
    ASSERT_EQ(r.status, 0) << r.error;
    const double p = perplexity_in(r.output);
    const auto summary = split_ws(lines_of(r.output).back());
    ASSERT_GE(summary.size(), 4u);
    EXPECT_GT(std::stoi(summary[3]), 600) << r.output;  // more tokens than one window
    EXPECT_TRUE(std::isfinite(p) && p > 1.0 && p < 512.0) << r.output;
}

// ---- encode ---------------------------------------------------------------------------

TEST_F(CliModels, EncodeBertPrintsAVectorOfTheHiddenSize) {
    require_data("bert_tiniest_hf/config.json");
    const CliRun r = run("encode --model " + shell_quote(data("bert_tiniest_hf")) + " --text 'The cat sat on the mat.'");
    ASSERT_EQ(r.status, 0) << r.error;
    const auto lines = lines_of(r.output);
    ASSERT_EQ(lines.size(), 2u) << r.output;
    // BertLMHeadModel has no pooler: the mean of the last hidden states, and the header says so.
    EXPECT_NE(lines[0].find("mean of the last hidden states"), std::string::npos) << lines[0];
    const auto values = split_ws(lines[1]);
    ASSERT_EQ(values.size(), 4u) << "hidden_size is 4 in config.json: " << lines[1];

    // The library: [CLS] the cat sat on the mat . [SEP] through the encoder, averaged over tokens.
    const TextModel lm = load_text_model(data("bert_tiniest_hf"));
    const std::vector<int64_t> ids = lm.prompt_ids("The cat sat on the mat.");
    EXPECT_EQ(ids.front(), 101);
    EXPECT_EQ(ids.back(), 102);
    NoGradGuard no_grad;
    TokenBatch batch;
    batch.ids = ids;
    batch.shape = {1, int64_t(ids.size())};
    const std::vector<float> expected = mean(lm.model().hidden_states(batch).reshape({int64_t(ids.size()), 4}), 0).to_vector();
    for (size_t i = 0; i < 4; ++i) {
        const double v = std::strtod(values[i].c_str(), nullptr);
        EXPECT_TRUE(std::isfinite(v));
        EXPECT_NEAR(v, expected[i], 1e-5 * std::max(1.0, std::abs(double(expected[i])))) << "component " << i;
    }
}

// ---- bad files ------------------------------------------------------------------------

TEST_F(CliModels, BadFilesGiveOneLineErrorsNamingTheFile) {
    require_data("stories260K/stories260K.bin");
    const std::string model = data("stories260K/stories260K.bin");
    const std::string bytes = read_file(model);

    // A truncated checkpoint, a model folder without a tokenizer, a truncated tokenizer, a
    // config.json with an unknown model_type.
    write_file(path("truncated.bin"), bytes.substr(0, bytes.size() / 3));
    fs::create_directories(path("no_tokenizer"));
    write_file(path("no_tokenizer/model.bin"), bytes);
    write_file(path("tok_truncated.bin"), read_file(data("stories260K/tok512.bin")).substr(0, 3000));
    fs::create_directories(path("t5"));
    write_file(path("t5/config.json"), R"({"model_type": "t5", "d_model": 8})");
    fs::copy_file(data("gpt2_fake_hf/model.safetensors"), path("t5/model.safetensors"));
    write_file(path("story.txt"), "Once upon a time");

    struct Case {
        std::string args, file;
    };
    const std::vector<Case> cases = {
        {"generate --model " + shell_quote(path("missing.bin")) + " --prompt hi", path("missing.bin")},
        {"generate --model " + shell_quote(path("truncated.bin")) + " --tokenizer " + shell_quote(data("stories260K/tok512.bin")),
         path("truncated.bin")},
        {"generate --model " + shell_quote(path("no_tokenizer/model.bin")), path("no_tokenizer/model.bin")},
        {"generate --model " + shell_quote(model) + " --tokenizer " + shell_quote(path("missing_tok.bin")), path("missing_tok.bin")},
        {"generate --model " + shell_quote(model) + " --tokenizer " + shell_quote(path("tok_truncated.bin")),
         path("tok_truncated.bin")},
        // Llama 2's 32000 tokens do not fit stories260K's 512 embeddings.
        {"generate --model " + shell_quote(model) + " --tokenizer " + shell_quote(data("llama2c_tokenizer_32k/tokenizer.bin")),
         data("llama2c_tokenizer_32k/tokenizer.bin")},
        {"generate --model " + shell_quote(path("t5")), path("t5")},
        {"generate --model " + shell_quote(data("bert_tiniest_hf")), data("bert_tiniest_hf")},  // an encoder
        {"tokenize --tokenizer " + shell_quote(path("missing_tok.bin")) + " --text hi", path("missing_tok.bin")},
        {"tokenize --tokenizer " + shell_quote(path("tok_truncated.bin")) + " --text hi", path("tok_truncated.bin")},
        {"perplexity --model " + shell_quote(model) + " --file " + shell_quote(path("missing.txt")), path("missing.txt")},
        {"perplexity --model " + shell_quote(path("truncated.bin")) + " --file " + shell_quote(path("story.txt")),
         path("truncated.bin")},
        {"perplexity --model " + shell_quote(model) + " --tokenizer " + shell_quote(data("llama2c_tokenizer_32k/tokenizer.bin")) +
             " --file " + shell_quote(path("story.txt")),
         data("llama2c_tokenizer_32k/tokenizer.bin")},
        {"encode --model " + shell_quote(path("missing_dir")) + " --text hi", path("missing_dir")},
        {"encode --model " + shell_quote(model) + " --text hi", model},  // a decoder
    };
    for (const Case& c : cases) {
        const CliRun r = run(c.args);
        EXPECT_EQ(r.status, 1) << c.args << "\n" << r.error;
        EXPECT_TRUE(r.output.empty()) << c.args << " printed to stdout: " << r.output;
        const auto lines = lines_of(r.error);
        ASSERT_EQ(lines.size(), 1u) << c.args << ": expected one line on stderr, got:\n" << r.error;
        EXPECT_EQ(lines[0].rfind("attend: error: " + c.file, 0), 0u)
            << c.args << ": the message should start with the file:\n" << lines[0];
    }
}
