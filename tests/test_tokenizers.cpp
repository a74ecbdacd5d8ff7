// Tokenizers: the ids Hugging Face gives (llama.cpp's 46 test strings × GPT-2, BERT and Llama-2
// vocabularies), the ids of independent reference implementations (tests/reference/tokenizers.py)
// on tricky text, round trips, special tokens, streaming, and bad files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <fstream>
#include <sstream>
#include <thread>

#include "attend/error.hpp"
#include "attend/io/tokenizer_files.hpp"
#include "attend/tokenizers/char_level.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "support/reference.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"
#include "tokenizers/byte_level.hpp"
#include "tokenizers/unicode.hpp"

namespace fs = std::filesystem;
using namespace attend;
using attend::testing::error_of;
using attend::testing::read_file;
using attend::testing::shared_data;
using attend::testing::TempDir;

namespace {

std::vector<std::string> split(const std::string& text, const std::string& sep) {
    std::vector<std::string> parts;
    size_t pos = 0;
    for (size_t next; (next = text.find(sep, pos)) != std::string::npos; pos = next + sep.size())
        parts.push_back(text.substr(pos, next - pos));
    parts.push_back(text.substr(pos));
    return parts;
}

// llama.cpp's vocab tests: the 46 strings and, per vocabulary, Hugging Face's ids.
struct Case {
    std::string text;
    std::vector<int64_t> ids;
};
std::vector<Case> llamacpp_cases(const std::string& vocab) {
    const std::string dir = shared_data("llamacpp_vocab_tests");
    std::vector<std::string> texts = split(read_file(dir + "/ggml-vocab-" + vocab + ".gguf.inp"), "\n__ggml_vocab_test__\n");
    texts.pop_back();  // after the last separator: not a test
    const std::vector<std::string> lines = split(read_file(dir + "/ggml-vocab-" + vocab + ".gguf.out"), "\n");
    std::vector<Case> cases;
    for (size_t i = 0; i < texts.size(); ++i) {
        Case c{texts[i], {}};
        std::istringstream in(lines.at(i));
        for (int64_t id; in >> id;) c.ids.push_back(id);
        cases.push_back(c);
    }
    return cases;
}

std::string show(const std::vector<int64_t>& ids) {
    std::string s;
    for (int64_t id : ids) {
        if (!s.empty()) s += ' ';
        s += std::to_string(id);
    }
    return "[" + s + "]";
}

// Encodes every case; returns how many match, and reports each that does not.
int count_matches(const Tokenizer& tok, const std::vector<Case>& cases, const std::string& what) {
    int good = 0;
    for (const Case& c : cases) {
        const std::vector<int64_t> ids = tok.encode(c.text);
        if (ids == c.ids) ++good;
        else ADD_FAILURE() << what << " on \"" << c.text << "\": " << show(ids) << ", Hugging Face " << show(c.ids);
    }
    std::cout << "[tokenizers] " << what << ": " << good << "/" << cases.size() << " match Hugging Face\n";
    return good;
}

// Loaded once: the big vocabularies take a moment.
const Tokenizer& cached(const std::string& relative) {
    static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
    auto& slot = cache[relative];
    if (!slot) slot = load_tokenizer(shared_data(relative));
    return *slot;
}

}  // namespace

// ---- the standard: Hugging Face's ids ------------------------------------------------------

TEST(Tokenizers, Gpt2MatchesHuggingFaceFromEveryFileFormat) {
    const auto cases = llamacpp_cases("gpt-2");
    ASSERT_EQ(cases.size(), 46u);
    EXPECT_EQ(count_matches(cached("gpt2_fake_hf/tokenizer.json"), cases, "gpt-2 tokenizer.json"), 46);
    EXPECT_EQ(count_matches(cached("gpt2_fake_hf/vocab.json"), cases, "gpt-2 vocab.json + merges.txt"), 46);
    EXPECT_EQ(count_matches(cached("gpt2_bpe_openai"), cases, "gpt-2 encoder.json + vocab.bpe"), 46);
}

TEST(Tokenizers, BertMatchesHuggingFace) {
    const auto cases = llamacpp_cases("bert-bge");
    ASSERT_EQ(cases.size(), 46u);
    EXPECT_EQ(count_matches(cached("bert_vocab/vocab.txt"), cases, "bert vocab.txt"), 46);
    EXPECT_EQ(count_matches(cached("bert_tiniest_hf/tokenizer.json"), cases, "bert tokenizer.json"), 46);
    EXPECT_EQ(count_matches(cached("bert_tiniest_hf/vocab.txt"), cases, "bert vocab.txt + tokenizer_config.json"), 46);
}

TEST(Tokenizers, LlamaMatchesHuggingFace) {
    const auto cases = llamacpp_cases("llama-spm");
    ASSERT_EQ(cases.size(), 46u);
    EXPECT_EQ(count_matches(cached("llama2c_tokenizer_32k/tokenizer.bin"), cases, "llama-2 tokenizer.bin"), 46);
}

// The vocabularies as llama.cpp stores them (GGUF tokenizer.ggml.*), all seven; decoding round
// trips and metadata are in test_tokenizer_pipeline.cpp.
TEST(Tokenizers, GgufVocabulariesMatchHuggingFace) {
    for (const char* vocab : {"gpt-2", "bert-bge", "llama-spm", "phi-3", "deepseek-llm", "falcon", "starcoder"}) {
        const auto cases = llamacpp_cases(vocab);
        ASSERT_EQ(cases.size(), 46u) << vocab;
        EXPECT_EQ(count_matches(cached(std::string("llamacpp_vocab_tests/ggml-vocab-") + vocab + ".gguf"), cases,
                                std::string(vocab) + ".gguf"),
                  46);
    }
}

TEST(Tokenizers, Llama2cTestVectorsWithBos) {  // llama2.c's test.c
    const Tokenizer& tok = cached("llama2c_tokenizer_32k/tokenizer.bin");
    EXPECT_EQ(tok.encode("", true), (std::vector<int64_t>{1}));
    EXPECT_EQ(tok.encode("I believe the meaning of life is", true),
              (std::vector<int64_t>{1, 306, 4658, 278, 6593, 310, 2834, 338}));
    EXPECT_EQ(tok.encode("Simply put, the theory of relativity states that ", true),
              (std::vector<int64_t>{1, 3439, 17632, 1925, 29892, 278, 6368, 310, 14215, 537, 5922, 393, 29871}));
}

// ---- the references: tests/reference/tokenizers.py -----------------------------------------

TEST(Tokenizers, MatchReferenceImplementationsOnTrickyText) {
    const auto ref = attend::testing::load_reference("tokenizers");
    ASSERT_FALSE(ref.empty());
    const auto vec = [&](const std::string& key) {
        const std::vector<float> v = ref.at(key).to_vector();
        EXPECT_EQ(size_t(v.at(0)) + 1, v.size()) << key;
        return std::vector<int64_t>(v.begin() + 1, v.end());
    };
    const std::vector<std::pair<std::string, const Tokenizer*>> vocabularies = {
        {"gpt2", &cached("gpt2_fake_hf/tokenizer.json")},
        {"bert", &cached("bert_vocab/vocab.txt")},
        {"llama", &cached("llama2c_tokenizer_32k/tokenizer.bin")},
        {"tok512", &cached("stories260K/tok512.bin")},
    };
    int strings = 0;
    for (; ref.count("text." + std::to_string(strings)); ++strings) {
        std::string text;
        for (int64_t b : vec("text." + std::to_string(strings))) text += char(uint8_t(b));
        for (const auto& [name, tok] : vocabularies) {
            const std::vector<int64_t> expected = vec(name + "." + std::to_string(strings));
            EXPECT_EQ(tok->encode(text), expected) << name << " on \"" << text << "\"";
            if (name != "bert") {
                EXPECT_EQ(tok->decode(tok->encode(text)), text) << name << " round trip";
            }
        }
    }
    EXPECT_GE(strings, 20);
    std::cout << "[tokenizers] " << strings << " tricky strings x 4 vocabularies checked against the references\n";
}

// ---- behaviour -----------------------------------------------------------------------------

TEST(Tokenizers, RoundTripsGpt2AndLlama) {
    const auto cases = llamacpp_cases("gpt-2");
    for (const char* vocab : {"gpt2_fake_hf/tokenizer.json", "gpt2_bpe_openai", "llama2c_tokenizer_32k/tokenizer.bin",
                              "stories260K/tok512.bin"}) {
        const Tokenizer& tok = cached(vocab);
        for (const Case& c : cases) {
            EXPECT_EQ(tok.decode(tok.encode(c.text)), c.text) << vocab;
            EXPECT_EQ(tok.decode(tok.encode(c.text, true), true), c.text) << vocab << " with special tokens";
        }
        // Bytes that are not UTF-8 survive too: GPT-2 has a token for every byte, Llama <0xXX>.
        const std::string raw = "\xff\xfe abc \xc3(\xe2\x82 \xf0\x9f\x98";
        EXPECT_EQ(tok.decode(tok.encode(raw)), raw) << vocab;
    }
}

TEST(Tokenizers, Gpt2PreTokenizerFollowsThePattern) {
    using tokenizers::gpt2_pretokenize;
    const auto pieces = [](std::string_view s) {
        std::vector<std::string> out;
        for (auto p : gpt2_pretokenize(s)) out.emplace_back(p);
        return out;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(pieces("Hello  world"), (V{"Hello", " ", " world"}));
    EXPECT_EQ(pieces("a\n\nb"), (V{"a", "\n", "\n", "b"}));
    EXPECT_EQ(pieces("x  "), (V{"x", "  "}));
    EXPECT_EQ(pieces("I'm 'RE y'all"), (V{"I", "'m", " '", "RE", " y", "'", "all"}));
    EXPECT_EQ(pieces("3.14 ½x"), (V{"3", ".", "14", " ½", "x"}));
    EXPECT_EQ(pieces("\tcafé!!"), (V{"\t", "café", "!!"}));
    EXPECT_EQ(pieces(""), V{});
}

TEST(Tokenizers, SpecialTokensOnlyWhenAsked) {
    const Tokenizer& gpt2 = cached("gpt2_fake_hf/tokenizer.json");
    EXPECT_EQ(gpt2.encode("a<|endoftext|>b", true), (std::vector<int64_t>{64, 50256, 65}));
    const auto plain = gpt2.encode("a<|endoftext|>b");
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 50256), 0);
    EXPECT_EQ(gpt2.decode({64, 50256, 65}), "a<|endoftext|>b");
    EXPECT_EQ(gpt2.decode({64, 50256, 65}, true), "ab");
    EXPECT_EQ(gpt2.eos_id(), 50256);
    EXPECT_EQ(cached("gpt2_bpe_openai").encode("<|endoftext|>", true), (std::vector<int64_t>{50256}));

    const Tokenizer& bert = cached("bert_tiniest_hf/tokenizer.json");
    EXPECT_EQ(bert.encode("Hello world", true), (std::vector<int64_t>{101, 7592, 2088, 102}));
    EXPECT_EQ(bert.encode("Paris is the [MASK].", true), (std::vector<int64_t>{101, 3000, 2003, 1996, 103, 1012, 102}));
    EXPECT_EQ(cached("bert_vocab/vocab.txt").encode("Paris is the [MASK].", true), bert.encode("Paris is the [MASK].", true));
    EXPECT_NE(bert.encode("[MASK]"), (std::vector<int64_t>{103}));  // plain text: "[", "mask", "]"
    EXPECT_EQ(bert.decode({101, 7592, 1010, 2088, 999, 102}), "[CLS] hello, world! [SEP]");
    EXPECT_EQ(bert.decode({101, 7592, 1010, 2088, 999, 102}, true), "hello, world!");
    EXPECT_EQ(bert.decode(bert.encode("Don't tokenize me, unaffable!")), "don't tokenize me, unaffable!");
    EXPECT_EQ(bert.unk_id(), 100);
    EXPECT_EQ(bert.pad_id(), 0);
    EXPECT_EQ(bert.token_id("[CLS]"), 101);

    const Tokenizer& llama = cached("llama2c_tokenizer_32k/tokenizer.bin");
    EXPECT_EQ(llama.encode("Hello", true), (std::vector<int64_t>{1, 15043}));
    EXPECT_EQ(llama.encode("<s>Hello", true), (std::vector<int64_t>{1, 1, 15043}));
    EXPECT_NE(llama.encode("<s>")[0], 1);
    EXPECT_EQ(llama.decode({1, 15043, 2}), "<s>Hello</s>");
    EXPECT_EQ(llama.decode({1, 15043, 2}, true), "Hello");
    EXPECT_EQ(llama.bos_id(), 1);
    EXPECT_EQ(llama.eos_id(), 2);
}

TEST(Tokenizers, WordPieceLongWordsBecomeUnknown) {
    const Tokenizer& bert = cached("bert_vocab/vocab.txt");
    const std::vector<int64_t> at_limit = bert.encode(std::string(100, 'a'));
    EXPECT_GT(at_limit.size(), 1u);
    EXPECT_EQ(std::count(at_limit.begin(), at_limit.end(), 100), 0);
    EXPECT_EQ(bert.encode(std::string(101, 'a')), (std::vector<int64_t>{100}));
    EXPECT_EQ(bert.encode("unaffable"), (std::vector<int64_t>{14477, 20961, 3468}));  // una ##ffa ##ble
    EXPECT_EQ(bert.token_text(20961), "##ffa");
}

TEST(Tokenizers, TokenTextLabels) {
    const Tokenizer& gpt2 = cached("gpt2_fake_hf/vocab.json");
    EXPECT_EQ(gpt2.token_text(18435), " Hello");
    EXPECT_EQ(gpt2.token_id(" Hello"), 18435);
    EXPECT_EQ(gpt2.token_text(8582), "<0xF0><0x9F>");  // the first half of an emoji
    EXPECT_EQ(gpt2.token_text(50256), "<|endoftext|>");
    const Tokenizer& llama = cached("llama2c_tokenizer_32k/tokenizer.bin");
    EXPECT_EQ(llama.token_text(1), "<s>");
    EXPECT_EQ(llama.token_text(13), "<0x0A>");
    EXPECT_EQ(llama.token_text(15043), " Hello");
    EXPECT_EQ(llama.token_id(" Hello"), 15043);
    EXPECT_EQ(llama.token_id("</s>"), 2);
    EXPECT_EQ(llama.token_id("<0x0A>"), 13);
    EXPECT_THROW(llama.token_text(32000), Error);
    EXPECT_THROW(gpt2.decode({-1}), Error);
    EXPECT_THROW(cached("bert_vocab/vocab.txt").decode({30522}), Error);
}

TEST(Tokenizers, DecodeStreamPrintsWholeCharacters) {
    const std::string text = "emoji 🦙🚀 and 日本語 done";
    for (const char* vocab : {"gpt2_fake_hf/tokenizer.json", "llama2c_tokenizer_32k/tokenizer.bin"}) {
        const Tokenizer& tok = cached(vocab);
        DecodeStream stream(tok);
        std::string printed;
        int held = 0;
        for (int64_t id : tok.encode(text, true)) {
            const std::string chunk = stream.push(id);
            for (size_t i = 0; i < chunk.size(); i += unicode::next_utf8(chunk, i).len)
                EXPECT_TRUE(unicode::next_utf8(chunk, i).valid) << vocab << ": chunk is not whole UTF-8";
            held += chunk.empty();
            printed += chunk;
        }
        printed += stream.finish();
        EXPECT_EQ(printed, text) << vocab;
        EXPECT_GT(held, 0) << vocab << ": the emoji span several byte tokens, some pushes must print nothing";
    }
}

TEST(Tokenizers, DecodeStreamFollowsWordPieceCleanup) {
    const Tokenizer& bert = cached("bert_vocab/vocab.txt");
    const std::vector<int64_t> ids = bert.encode("Don't tokenize me, unaffable! It's 3.5 o'clock.", true);
    DecodeStream stream(bert);
    std::string printed;
    for (int64_t id : ids) printed += stream.push(id);
    printed += stream.finish();
    EXPECT_EQ(printed, bert.decode(ids, true));
    EXPECT_EQ(printed, "don't tokenize me, unaffable! it's 3. 5 o'clock.");
}

TEST(Tokenizers, EncodeIsThreadSafe) {
    const Tokenizer& tok = cached("gpt2_fake_hf/tokenizer.json");
    const std::string text = "Thread safety of the merge cache: the quick brown fox jumps over the lazy dog 123 times.";
    std::vector<std::vector<int64_t>> expected;
    for (int i = 0; i < 17; ++i) expected.push_back(tok.encode(text + std::to_string(i)));
    std::vector<std::thread> threads;
    std::vector<int> ok(4, 0);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) ok[t] += tok.encode(text + std::to_string(i % 17)) == expected[i % 17];
        });
    for (auto& th : threads) th.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(ok[t], 200);
}

TEST(Tokenizers, HfTokenizerJsonMergesInBothFormats) {
    // A tiny byte-level BPE: the 256 byte tokens, then "t"+"h" → "th", "th"+"e" → "the", "Ġ"+"the".
    std::string vocab = "{";
    for (int b = 0; b < 256; ++b) {
        std::string key = tokenizers::vocab_text_from_bytes(std::string(1, char(b)));
        if (key == "\"" || key == "\\") key = "\\" + key;
        vocab += "\"" + key + "\": " + std::to_string(b) + ", ";
    }
    vocab += "\"th\": 256, \"the\": 257, \"Ġthe\": 258}";
    const auto make = [&](const std::string& merges, bool prefix_space) {
        return std::string("{\"model\": {\"type\": \"BPE\", \"vocab\": ") + vocab + ", \"merges\": " + merges +
               "}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": " + (prefix_space ? "true" : "false") +
               "}, \"added_tokens\": []}";
    };
    const auto strings = tokenizers::parse_hf_tokenizer_json(make(R"(["t h", "th e", "Ġ the"])", false), "strings.json");
    const auto pairs = tokenizers::parse_hf_tokenizer_json(make(R"([["t", "h"], ["th", "e"], ["Ġ", "the"]])", false), "pairs.json");
    EXPECT_EQ(strings->encode("the the"), (std::vector<int64_t>{257, 258}));
    EXPECT_EQ(pairs->encode("the the"), strings->encode("the the"));
    const auto prefixed = tokenizers::parse_hf_tokenizer_json(make(R"(["t h", "th e", "Ġ the"])", true), "prefixed.json");
    EXPECT_EQ(prefixed->encode("the the"), (std::vector<int64_t>{258, 258}));  // add_prefix_space: " the the"
}

TEST(Tokenizers, CharLevelRoundTripAndFile) {
    const std::string corpus = read_file(shared_data("tinyshakespeare/input.txt"));
    const CharTokenizer chars = CharTokenizer::from_text(corpus);
    EXPECT_EQ(chars.vocab_size(), 65);  // nanoGPT's shakespeare_char
    EXPECT_EQ(chars.token_text(0), "\n");
    EXPECT_EQ(chars.token_text(1), " ");
    const std::string line = corpus.substr(0, 200);
    EXPECT_EQ(chars.decode(chars.encode(line)), line);

    TempDir dir;
    chars.save((dir.dir() / "tokenizer.json").string());
    const auto loaded = load_tokenizer(dir.dir().string());  // found in the folder
    EXPECT_EQ(loaded->kind(), "char");
    EXPECT_EQ(loaded->encode(line), chars.encode(line));

    const CharTokenizer unicode_chars = CharTokenizer::from_text("héllo wörld 🦙");
    EXPECT_EQ(unicode_chars.vocab_size(), 10);
    EXPECT_EQ(unicode_chars.decode(unicode_chars.encode("🦙 hé")), "🦙 hé");
    const std::string err = error_of([&] { chars.encode("café"); });
    EXPECT_NE(err.find("U+00E9"), std::string::npos) << err;
}

TEST(Tokenizers, LoadsFilesAndFolders) {
    const std::vector<std::tuple<std::string, std::string, int64_t>> expected = {
        {"gpt2_fake_hf", "gpt2-bpe", 50257},           {"gpt2_bpe_openai", "gpt2-bpe", 50257},
        {"gpt2_fake_hf/merges.txt", "gpt2-bpe", 50257}, {"gpt2_bpe_openai/vocab.bpe", "gpt2-bpe", 50257},
        {"bert_vocab", "wordpiece", 30522},            {"bert_tiniest_hf", "wordpiece", 30522},
        {"stories260K", "llama2c-bpe", 512},           {"aidreams260K", "llama2c-bpe", 512},
        {"llama2c_tokenizer_32k", "llama2c-bpe", 32000},
    };
    for (const auto& [path, kind, size] : expected) {
        const auto tok = load_tokenizer(shared_data(path));
        EXPECT_EQ(tok->kind(), kind) << path;
        EXPECT_EQ(tok->vocab_size(), size) << path;
        EXPECT_NE(tok->source().find(fs::path(shared_data(path)).parent_path().string()), std::string::npos) << path;
    }
    EXPECT_EQ(find_tokenizer(shared_data("stories260K")), shared_data("stories260K/tok512.bin"));
    EXPECT_EQ(find_tokenizer(shared_data("tinyshakespeare")), std::nullopt);
    const Tokenizer& tiny = cached("stories260K/tok512.bin");
    EXPECT_EQ(tiny.decode(tiny.encode("Once upon a time", true), true), "Once upon a time");
}

TEST(Tokenizers, UnicodeTables) {
    using namespace unicode;
    EXPECT_EQ(classify(U'A'), Class::Letter);
    EXPECT_EQ(classify(U'語'), Class::Letter);
    EXPECT_EQ(classify(U'٣'), Class::Number);
    EXPECT_EQ(classify(U'½'), Class::Number);
    EXPECT_EQ(classify(U'。'), Class::Punctuation);
    EXPECT_EQ(classify(0x301), Class::NonspacingMark);
    EXPECT_EQ(classify(0x200D), Class::Format);
    EXPECT_EQ(classify(U'🦙'), Class::Symbol);
    EXPECT_EQ(classify(0x10FFFF), Class::Unassigned);
    EXPECT_TRUE(is_white_space(0x3000));
    EXPECT_FALSE(is_white_space(0x200B));
    std::u32string s;
    for (char32_t c : std::u32string(U"ÄΣÅİ")) append_lower(c, s);
    EXPECT_EQ(s, (std::u32string{U'ä', U'σ', U'å', U'i', 0x307}));
    s.clear();
    append_decomposition(U'ệ', s);
    EXPECT_EQ(s, (std::u32string{U'e', 0x323, 0x302}));
    s.clear();
    append_decomposition(U'한', s);
    EXPECT_EQ(s, (std::u32string{0x1112, 0x1161, 0x11AB}));
    EXPECT_EQ(utf8_lead(0xF0).length, 4u);                    // an emoji's first byte
    EXPECT_EQ(utf8_lead(0xF0).second_lo, 0x90);               // F0 80..8F would be overlong
    EXPECT_EQ(utf8_lead(0xC1).length, 0u);                    // never a first byte
    EXPECT_EQ(next_utf8("\xf0\x9f\xa6\x99", 0).cp, U'🦙');
    EXPECT_FALSE(next_utf8("ab\xf0\x9f", 2).valid);           // cut short
    EXPECT_FALSE(next_utf8("\xc0\xaf", 0).valid);             // overlong '/'
    EXPECT_FALSE(next_utf8("\xed\xa0\x80", 0).valid);         // a surrogate
}

// vocab.json is read without a JSON tree (tokenizers/common.cpp parse_vocab_json); it must read
// as json.load does: a token given twice keeps its last id.
TEST(Tokenizers, Gpt2VocabularyKeepsTheLastIdOfARepeatedToken) {
    TempDir dir;
    const std::string vocab_json = read_file(shared_data("gpt2_fake_hf/vocab.json"));
    const std::string merges = read_file(shared_data("gpt2_fake_hf/merges.txt"));
    const size_t open = vocab_json.find('{');
    ASSERT_NE(open, std::string::npos);
    // "Ġt" first with an id far past the vocabulary: only a reader that kept it would see that id.
    const std::string repeated = vocab_json.substr(0, open + 1) + "\"\u0120t\": 99999, " + vocab_json.substr(open + 1);
    dir.write("plain/merges.txt", merges);
    dir.write("repeated/merges.txt", merges);
    const auto plain = load_tokenizer(dir.write("plain/vocab.json", vocab_json));
    const auto twice = load_tokenizer(dir.write("repeated/vocab.json", repeated));
    EXPECT_EQ(twice->vocab_size(), plain->vocab_size());
    const std::string text = "the t at tt, to it";
    EXPECT_EQ(twice->encode(text, false), plain->encode(text, false));
    const std::vector<int64_t> t = plain->encode(" t", false);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_NE(t[0], 99999);
}

// ---- bad files: one-line errors that name the file -----------------------------------------

TEST(Tokenizers, BadFilesNameTheFileAndTheProblem) {
    TempDir dir;
    // load_path is loaded; the message must name named (the file at fault) and the problem.
    const auto expect_error_in = [&](const std::string& load_path, const std::string& named, const std::string& problem) {
        const std::string& path = load_path;
        std::string err;
        try {
            load_tokenizer(path);
            err = "(no error)";
        } catch (const Error& e) {
            err = e.what();
        } catch (const std::exception& e) {
            ADD_FAILURE() << path << ": not an attend::Error: " << e.what();
            return;
        }
        EXPECT_NE(err.find(named), std::string::npos) << "message does not name " << named << ": " << err;
        EXPECT_NE(err.find(problem), std::string::npos) << "expected \"" << problem << "\" in: " << err;
        EXPECT_EQ(err.find('\n'), std::string::npos) << "not one line: " << err;
    };
    const auto expect_error = [&](const std::string& path, const std::string& problem) { expect_error_in(path, path, problem); };
    expect_error((dir.dir() / "nothing_here").string(), "no such file");
    fs::create_directories(dir.dir() / "empty");
    expect_error((dir.dir() / "empty").string(), "no tokenizer in this folder");

    // llama2.c tokenizer.bin: truncated anywhere inside a record, lying lengths, junk scores.
    const std::string bin = read_file(shared_data("stories260K/tok512.bin"));
    expect_error(dir.write("t0/tokenizer.bin", bin.substr(0, 2)), "truncated");
    expect_error(dir.write("t1/tokenizer.bin", bin.substr(0, 4 + 5)), "truncated");
    expect_error(dir.write("t2/tokenizer.bin", bin.substr(0, bin.size() - 1)), "truncated");
    expect_error(dir.write("t3/tokenizer.bin", bin.substr(0, 4 + 8 + 2)), "truncated");
    const auto patched = [&](size_t at, const void* value) {
        std::string b = bin;
        std::memcpy(b.data() + at, value, 4);
        return b;
    };
    const int32_t negative = -5, huge = 1 << 30, zero = 0;
    const float nan = std::nanf("");
    expect_error(dir.write("t4/tokenizer.bin", patched(8, &negative)), "length -5");
    expect_error(dir.write("t5/tokenizer.bin", patched(8, &huge)), "max_token_length");
    expect_error(dir.write("t6/tokenizer.bin", patched(0, &zero)), "max_token_length 0");
    expect_error(dir.write("t7/tokenizer.bin", patched(4, &nan)), "finite");
    expect_error(dir.write("t8/tokenizer.bin", bin.substr(0, 4 + 8 + 5)), "has 1 tokens");

    // tokenizer.json
    expect_error(dir.write("j0/tokenizer.json", "{\"model\": {\"type\": \"BPE\", "), "not valid JSON");
    expect_error(dir.write("j1/tokenizer.json", "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}"), "not supported");
    expect_error(dir.write("j2/tokenizer.json", "[1, 2, 3]"), "not a tokenizer file");
    expect_error(dir.write("j3/tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}, "
                                                "\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"normalizer\": null}"),
                 "no unknown token");
    expect_error(dir.write("j4/tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, "
                                                "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}}"),
                 "lacks the token for byte 0");
    expect_error(dir.write("j5/tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 7000000000}, \"merges\": []},"
                                                " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}"),
                 "id 7000000000");
    expect_error(dir.write("j6/tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": 5},"
                                                " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}"),
                 "merges");
    expect_error(dir.write("j7/tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, "
                                                "\"pre_tokenizer\": {\"type\": \"UnicodeScripts\"}}"),
                 "pre_tokenizer type \"UnicodeScripts\"");
    expect_error(dir.write("j8/tokenizer.json", "{\"type\": \"char\", \"chars\": [\"a\", \"a\"]}"), "appears twice");
    expect_error(dir.write("j9/tokenizer.json", "{\"type\": \"char\", \"chars\": [\"ab\"]}"), "not exactly one UTF-8 character");

    // vocab.json + merges.txt
    const std::string vocab_json = read_file(shared_data("gpt2_fake_hf/vocab.json"));
    const std::string merges = read_file(shared_data("gpt2_fake_hf/merges.txt"));
    dir.write("m0/vocab.json", vocab_json);
    expect_error(dir.write("m0/merges.txt", "#version: 0.2\nĠ t\nq Ġzzzzqqq\n"), "not in the vocabulary");
    expect_error((dir.dir() / "m0/merges.txt").string(), "line 3");
    dir.write("m1/vocab.json", vocab_json);
    expect_error(dir.write("m1/merges.txt", "#version: 0.2\nĠ t\nonlyone\n"), "line 3");
    expect_error(dir.write("m2/vocab.json", vocab_json), "merge rules");
    dir.write("m3/merges.txt", merges);
    expect_error(dir.write("m3/vocab.json", "{\"a\": 0, \"b\": \"x\"}"), "not an integer");
    expect_error(dir.write("m4/merges.txt", merges), "need their vocabulary");
    dir.write("m5/merges.txt", merges);
    expect_error(dir.write("m5/vocab.json", "{\"a\": 0, \"b\": {\"c\": 1}}"), "the id of \"b\" is not an integer");
    dir.write("m6/merges.txt", merges);
    expect_error(dir.write("m6/vocab.json", "{\"a\": 0, \"b\": 1"), "not valid JSON");
    dir.write("m7/merges.txt", merges);
    expect_error(dir.write("m7/vocab.json", "{\"a\": 0, \"b\": 1.5}"), "the id of \"b\" is not an integer");

    // vocab.txt
    expect_error(dir.write("v0/vocab.txt", ""), "empty");
    expect_error(dir.write("v1/vocab.txt", "[PAD]\nhello\nworld\n"), "[UNK]");
    expect_error(dir.write("v2/vocab.txt", "[UNK]\n\xff\xfe\n"), "not UTF-8");
    const std::string v3 = dir.write("v3/vocab.txt", "[UNK]\nhello\n");
    expect_error_in(v3, dir.write("v3/tokenizer_config.json", "{\"do_lower_case\": \"yes\"}"), "do_lower_case");

    // Unknown kinds
    expect_error(dir.write("x/tokenizer.model", "\x0a\x05hello"), "not supported");
    expect_error(dir.write("x/weights.safetensors", "xx"), "not a tokenizer file");
}
