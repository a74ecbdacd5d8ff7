// `attend demo` end to end, as a user runs it (the real binary, ATTEND_CLI), in a short
// version: a tiny model and a few steps, so it checks the plumbing — data, training with
// progress, translations, accuracy lines, the attention page and heatmaps, explain, and
// that a second run reuses the trained model — not the accuracy (the recipe's figures are
// measured separately and given in the README's opening section).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "support/cli.hpp"
#include "support/files.hpp"

namespace {

namespace fs = std::filesystem;

using attend::testing::CliRun;
using attend::testing::run_cli;
using attend::testing::read_file;
using attend::testing::TempDir;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Width and height from a PNG's IHDR.
std::pair<uint32_t, uint32_t> png_size(const std::string& bytes) {
    auto be32 = [&](size_t at) {
        return uint32_t((unsigned char)bytes[at]) << 24 | uint32_t((unsigned char)bytes[at + 1]) << 16 |
               uint32_t((unsigned char)bytes[at + 2]) << 8 | uint32_t((unsigned char)bytes[at + 3]);
    };
    if (bytes.size() < 24 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return {0, 0};
    return {be32(16), be32(20)};
}

TEST(Demo, TrainsTranslatesDrawsExplainsAndReuses) {
    const TempDir tmp;
    const fs::path dir = tmp.dir() / "demo";  // the demo makes its folder
    const std::string tiny = " --steps 40 --dim 32 --layers 1 --heads 2 --batch-size 16 --train-pairs 2000"
                             " --heldout 40 --beam 2 --threads 2";
    const CliRun first = run_cli("demo --out " + dir.string() + tiny);
    ASSERT_EQ(first.status, 0) << first.output;
    const std::string& out = first.output;

    // Training ran, through the trainer (its progress lines and files).
    EXPECT_TRUE(contains(out, "Training a seq2seq Transformer")) << out;
    EXPECT_TRUE(contains(out, "step 40/40")) << out;
    EXPECT_TRUE(fs::exists(dir / "model" / "model.safetensors"));
    EXPECT_TRUE(fs::exists(dir / "model" / "loss.csv"));
    EXPECT_GT(png_size(read_file(dir / "model" / "loss.png")).first, 0u);
    EXPECT_TRUE(fs::exists(dir / "train.tsv") && fs::exists(dir / "heldout.tsv"));

    // Translations (source -> greedy | beam) and both accuracy lines with consistent counts.
    const std::regex translation(R"(\n  \S.* -> \S* *\| )");
    EXPECT_TRUE(std::regex_search(out, translation)) << out;
    std::smatch m;
    const std::regex greedy(R"(held-out exact match, greedy: ([0-9.]+)% \(([0-9]+)/40\))");
    const std::regex beam(R"(held-out exact match, beam \(width 2, length penalty 0.6\): ([0-9.]+)% \(([0-9]+)/40\))");
    ASSERT_TRUE(std::regex_search(out, m, greedy)) << out;
    EXPECT_NEAR(std::stod(m[1]), 100.0 * std::stod(m[2]) / 40.0, 0.01);
    ASSERT_TRUE(std::regex_search(out, m, beam)) << out;
    EXPECT_NEAR(std::stod(m[1]), 100.0 * std::stod(m[2]) / 40.0, 0.01);

    // The attention page and heatmaps, where the output says they are.
    const fs::path html = dir / "attention" / "attention.html";
    EXPECT_TRUE(contains(out, "interactive page: " + html.string())) << out;
    const std::string page = read_file(html);
    EXPECT_TRUE(contains(page, "<html") || contains(page, "<!DOCTYPE")) << page.substr(0, 200);
    EXPECT_TRUE(contains(page, "\"cross\"")) << "the page should carry the cross-attention";
    const auto [w, h] = png_size(read_file(dir / "attention" / "cross_layer0_heads.png"));
    EXPECT_GT(w, 50u);
    EXPECT_GT(h, 50u);
    EXPECT_GT(png_size(read_file(dir / "attention" / "cross_layer0_mean.png")).first, 0u);

    // The explain walkthrough on the shown sentence.
    EXPECT_TRUE(contains(out, "attend explain \"")) << out;
    EXPECT_TRUE(contains(out, "Softmax of each row")) << out;

    // Second run: the model is reused, not retrained.
    const auto model_time = fs::last_write_time(dir / "model" / "model.safetensors");
    const CliRun second = run_cli("demo --out " + dir.string() + tiny);
    ASSERT_EQ(second.status, 0) << second.output;
    EXPECT_TRUE(contains(second.output, "reusing the trained model")) << second.output;
    EXPECT_FALSE(contains(second.output, "Training a seq2seq")) << second.output;
    EXPECT_EQ(fs::last_write_time(dir / "model" / "model.safetensors"), model_time);
    // Same model, same held-out data: the same accuracy lines.
    std::smatch m2;
    ASSERT_TRUE(std::regex_search(out, m, greedy) && std::regex_search(second.output, m2, greedy));
    EXPECT_EQ(m[2], m2[2]);
    std::printf("first run %.1f s, second (reusing) %.1f s\n", first.seconds, second.seconds);

    // --retrain trains again.
    const CliRun third = run_cli("demo --retrain --out " + dir.string() + tiny);
    ASSERT_EQ(third.status, 0) << third.output;
    EXPECT_TRUE(contains(third.output, "Training a seq2seq")) << third.output;
}

}  // namespace
