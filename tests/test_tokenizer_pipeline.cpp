// Tests of the general tokenizer.json pipeline (src/tokenizers/pipeline.cpp and its parts) and
// of tokenizers read from GGUF files (src/tokenizers/gguf_vocab.cpp).
//
// Parity: tests/reference/tokenizer_pipeline.py writes small tokenizer.json files, one per
// component combination (Llama's Prepend/Replace + byte_fallback BPE + decoder chain, CLIP's
// end_of_word_suffix, a regex Split + ByteLevel with ignore_merges and special added tokens,
// WordPiece behind NFD/StripAccents/Lowercase/Strip/Punctuation/Digits, Unigram with
// byte_fallback behind Metaspace, Split's behaviors and invert, added-token flags) and the ids
// and text its independent Python implementations give; every case must match.
// GGUF: llama.cpp's seven vocabulary files and their test vectors (Hugging Face's ids).
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attend/error.hpp"
#include "attend/tokenizers/tokenizer.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"
#include "tokenizers/unicode.hpp"

namespace {

using attend::Tokenizer;
using attend::testing::error_of;
using attend::testing::read_file;
using attend::testing::shared_data;

std::string show(const std::vector<int64_t>& ids) {
    std::string s;
    for (int64_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
    return "[" + s + "]";
}

TEST(TokenizerPipeline, MatchesTheReferenceImplementationsComponentByComponent) {
    const std::string dir = std::string(ATTEND_REFERENCE_DIR) + "/tokenizer_pipeline/";
    const nlohmann::json cases = nlohmann::json::parse(read_file(dir + "cases.json"));
    ASSERT_GE(cases.size(), 80u);
    std::map<std::string, std::unique_ptr<Tokenizer>> tokenizers;
    size_t checked = 0;
    for (const auto& c : cases) {
        const std::string file = c["file"], text = c["text"], decoded = c["decoded"];
        const bool special = c["special"];
        const std::vector<int64_t> expected = c["ids"];
        auto& tok = tokenizers[file];
        if (!tok) tok = attend::load_tokenizer(dir + file);
        EXPECT_EQ(tok->kind(), "tokenizer.json") << file;
        const std::vector<int64_t> ids = tok->encode(text, special);
        EXPECT_EQ(ids, expected) << file << " on \"" << text << "\"" << (special ? " (special)" : "") << ": " << show(ids)
                                 << ", reference " << show(expected);
        EXPECT_EQ(tok->decode(expected), decoded) << file << " decoding " << show(expected);
        ++checked;
    }
    EXPECT_EQ(checked, cases.size());
}

// A chat template's rendered text carries special-token strings: attend's prompts (generate,
// serve) encode with add_special, where they become their ids; untrusted text without it
// keeps them as plain characters.
TEST(TokenizerPipeline, SpecialTokenTextMapsToItsIdOnlyWithAddSpecial) {
    const std::string dir = std::string(ATTEND_REFERENCE_DIR) + "/tokenizer_pipeline/";
    const auto tok = attend::load_tokenizer(dir + "byte_level_split.json");
    const auto start = tok->token_id("<|im_start|>"), end = tok->token_id("<|im_end|>");
    ASSERT_TRUE(start && end);
    const std::vector<int64_t> with = tok->encode("<|im_start|>user\nhello<|im_end|>", true);
    ASSERT_GE(with.size(), 3u);
    EXPECT_EQ(with.front(), *start);
    EXPECT_EQ(with.back(), *end);
    const std::vector<int64_t> without = tok->encode("<|im_start|>user", false);
    EXPECT_EQ(std::count(without.begin(), without.end(), *start), 0);
    EXPECT_EQ(tok->decode(without), "<|im_start|>user");
    EXPECT_EQ(tok->decode(with, /*skip_special=*/true), "user\nhello");
}

TEST(TokenizerPipeline, RefusesUnknownComponentsNamingFileAndType) {
    attend::testing::TempDir tmp;
    const auto message = [&](const std::string& body) {
        const std::string path = tmp.write("tokenizer.json", body);
        return error_of([&] { attend::load_tokenizer(path); });
    };
    const std::string bpe = R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";
    for (const auto& [body, mention] : std::vector<std::pair<std::string, std::string>>{
             {"{" + bpe + R"(, "normalizer": {"type": "Precompiled", "precompiled_charsmap": ""}})", "normalizer type \"Precompiled\""},
             {"{" + bpe + R"(, "pre_tokenizer": {"type": "UnicodeScripts"}})", "pre_tokenizer type \"UnicodeScripts\""},
             {"{" + bpe + R"(, "decoder": {"type": "CTC"}})", "decoder type \"CTC\""},
             {R"({"model": {"type": "WordLevel", "vocab": {}}})", "model type \"WordLevel\""},
             {"{" + bpe + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"}})",
              "does not compile"},
             {"{" + bpe + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"}})",
              "\"behavior\""},
             {R"({"model": {"type": "BPE", "dropout": 0.1, "vocab": {"a": 0}, "merges": []}, "normalizer": {"type": "NFC"}})",
              "dropout"},
             {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a c"]}, "normalizer": {"type": "NFC"}})",
              "not in the vocabulary"},
         }) {
        const std::string m = message(body);
        EXPECT_MENTIONS(m, tmp.path("tokenizer.json"));
        EXPECT_MENTIONS(m, mention);
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
}

TEST(TokenizerPipeline, UnicodeNormalizationForms) {
    using attend::unicode::Form;
    using attend::unicode::normalize;
    EXPECT_EQ(normalize("e\xCC\x81", Form::NFC), "\xC3\xA9");                // e + U+0301 → é
    EXPECT_EQ(normalize("\xC3\xA9", Form::NFD), "e\xCC\x81");
    EXPECT_EQ(normalize("\xEF\xAC\x81", Form::NFKC), "fi");                   // ﬁ ligature
    EXPECT_EQ(normalize("\xEF\xAC\x81", Form::NFC), "\xEF\xAC\x81");          // canonical forms keep it
    EXPECT_EQ(normalize("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", Form::NFC), "\xEA\xB0\x81");  // Hangul L V T → 각
    // Marks reorder by combining class: a + dot below (220) after dot above (230) → below first.
    EXPECT_EQ(normalize("a\xCC\x87\xCC\xA3", Form::NFD), "a\xCC\xA3\xCC\x87");
    EXPECT_EQ(normalize("a\xCC\x87\xCC\xA3", Form::NFC), "\xE1\xBA\xA1\xCC\x87");  // ạ + dot above
    EXPECT_EQ(normalize("\xE2\x84\xAB", Form::NFC), "\xC3\x85");              // Ångström sign → Å (singleton)
    EXPECT_EQ(normalize("ok \xFF bad", Form::NFC), "ok \xFF bad");            // a bad byte stays
}

// ---- GGUF vocabularies ----------------------------------------------------------------------

struct Case {
    std::string text;
    std::vector<int64_t> ids;
};

std::vector<Case> vocab_cases(const std::string& vocab) {
    const std::string base = shared_data("llamacpp_vocab_tests/ggml-vocab-" + vocab + ".gguf");
    const std::string inp = read_file(base + ".inp"), out = read_file(base + ".out");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<Case> cases;
    std::istringstream lines(out);
    for (size_t at = 0;;) {
        const size_t next = inp.find(sep, at);
        if (next == std::string::npos) break;
        Case c{inp.substr(at, next - at), {}};
        std::string line;
        std::getline(lines, line);
        std::istringstream in(line);
        for (int64_t id; in >> id;) c.ids.push_back(id);
        cases.push_back(c);
        at = next + sep.size();
    }
    return cases;
}

// The ids are checked in test_tokenizers.cpp (Tokenizers.GgufVocabulariesMatchHuggingFace);
// here: decoding the reference ids gives the text back (BERT lower-cases and drops accents: not it).
TEST(TokenizerGguf, DecodingRoundTripsOnEveryLlamaCppVocabulary) {
    for (const std::string vocab : {"gpt-2", "llama-spm", "phi-3", "deepseek-llm", "falcon", "starcoder"}) {
        const auto tok = attend::load_tokenizer(shared_data("llamacpp_vocab_tests/ggml-vocab-" + vocab + ".gguf"));
        const auto cases = vocab_cases(vocab);
        ASSERT_EQ(cases.size(), 46u) << vocab;
        for (const Case& c : cases) {
            EXPECT_EQ(tok->decode(c.ids), c.text) << vocab << " decoding " << show(c.ids);
            EXPECT_EQ(tok->decode(tok->encode(c.text, true), true), c.text) << vocab << " with special tokens";
        }
    }
}

TEST(TokenizerGguf, SpecialIdsAndAddedTokensComeFromTheMetadata) {
    const auto llama = attend::load_tokenizer(shared_data("llamacpp_vocab_tests/ggml-vocab-llama-spm.gguf"));
    EXPECT_EQ(llama->encode(" Hello World", true), (std::vector<int64_t>{1, 29871, 15043, 2787}));  // add_bos
    EXPECT_EQ(llama->bos_id(), 1);
    EXPECT_EQ(llama->eos_id(), 2);
    const auto phi3 = attend::load_tokenizer(shared_data("llamacpp_vocab_tests/ggml-vocab-phi-3.gguf"));
    const auto end = phi3->token_id("<|end|>");
    ASSERT_TRUE(end);
    EXPECT_GE(*end, 32000);
    // A control token's text is a token only with add_special; decode(skip_special) drops it.
    const std::vector<int64_t> with = phi3->encode("hi<|end|>", true);
    EXPECT_NE(std::find(with.begin(), with.end(), *end), with.end());
    const std::vector<int64_t> without = phi3->encode("hi<|end|>", false);
    EXPECT_EQ(std::find(without.begin(), without.end(), *end), without.end());
    EXPECT_EQ(phi3->decode(without), "hi<|end|>");
    const auto gpt2 = attend::load_tokenizer(shared_data("llamacpp_vocab_tests/ggml-vocab-gpt-2.gguf"));
    EXPECT_EQ(gpt2->eos_id(), 50256);
    EXPECT_EQ(gpt2->encode("<|endoftext|>", true), (std::vector<int64_t>{50256}));
    const auto deepseek = attend::load_tokenizer(shared_data("llamacpp_vocab_tests/ggml-vocab-deepseek-llm.gguf"));
    const auto v = deepseek->vocabulary();  // restated for attend convert --to gguf
    ASSERT_TRUE(v);
    EXPECT_EQ(v->model, "gpt2");
    EXPECT_EQ(v->pre, "deepseek-llm");
    EXPECT_EQ(int64_t(v->tokens.size()), deepseek->vocab_size());
}

}  // namespace
