// Careless flags and misused output folders, as a hostile user would try them (issue 11): every
// row runs the real binary (ATTEND_CLI) and must exit non-zero with ONE line on stderr naming
// the flag or folder, nothing on stdout, within a time bound, and leave the folder exactly as it
// was (no temporaries, no half-made run folder). Then the folder lock (two trains into one
// --out), a training run SIGKILLed mid-run (its folder opens as a model in `generate` and
// `perplexity`; a resume cleans the killed writer's leftovers and continues), and the final
// model of the resumed run in `generate`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "attend/train/checkpoint.hpp"
#include "core/atomic_file.hpp"
#include "support/cli.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using attend::testing::CliRun;
using attend::testing::read_file;
using attend::testing::shell_quote;
using attend::testing::TempDir;

namespace {

// Every file under `dir` with its bytes: a folder is "left as it was" when this is unchanged.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        const std::string name = fs::relative(entry.path(), dir).string();
        files[name] = entry.is_regular_file() ? read_file(entry.path()) : std::string("<dir>");
    }
    return files;
}

size_t lines_in(const std::string& text) { return size_t(std::count(text.begin(), text.end(), '\n')); }

std::string corpus(const TempDir& tmp) {
    std::string text;
    for (int i = 0; i < 200; ++i) text += "the cat sat on the mat " + std::to_string(i % 7) + ". a dog ran.\n";
    return tmp.write("corpus.txt", text);
}

// A model small enough that a step takes milliseconds.
const std::string kTiny = " --layers 1 --heads 1 --dim 8 --block-size 8 --batch-size 2 --warmup 1 --eval-batches 1"
                          " --threads 1 --quiet";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
    return s;
}

struct Row {
    const char* name;  // the class of mistake
    std::string args;  // {DATA} the corpus, {RUN} a finished run's folder, {NEW} a folder not yet there, {DIR} the test's
    std::vector<std::string> says;  // what the one line must contain
};

class HostileFlags : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        tmp_ = new TempDir();
        data_ = corpus(*tmp_);
        const CliRun r = attend::testing::run_cli("train --data " + shell_quote(data_) + " --out " +
                                                  shell_quote(tmp_->path("run")) + " --steps 2 --eval-every 1" + kTiny);
        ASSERT_EQ(r.status, 0) << r.output;
    }
    static void TearDownTestSuite() { delete tmp_; }
    static TempDir* tmp_;
    static std::string data_;
};
TempDir* HostileFlags::tmp_ = nullptr;
std::string HostileFlags::data_;

const std::vector<Row>& rows() {
    static const std::vector<Row> table = {
        // ---- attend train: ranges ----
        {"negative learning rate", "train --data {DATA} --out {NEW} --lr -1", {"--lr", "-1", "> 0"}},
        {"zero learning rate", "train --data {DATA} --out {NEW} --lr 0", {"--lr", "got 0"}},
        {"NaN learning rate", "train --data {DATA} --out {NEW} --lr nan", {"--lr", "nan"}},
        {"infinite learning rate", "train --data {DATA} --out {NEW} --lr inf", {"--lr", "inf"}},
        {"learning rate not a number", "train --data {DATA} --out {NEW} --lr fast", {"--lr", "fast"}},
        {"negative seed (would wrap)", "train --data {DATA} --out {NEW} --seed -1", {"--seed", "-1", "whole number"}},
        {"seed past 2^64", "train --data {DATA} --out {NEW} --seed 18446744073709551616", {"--seed", "18446744073709551616"}},
        {"fractional seed", "train --data {DATA} --out {NEW} --seed 1.5", {"--seed", "1.5"}},
        {"dropout 1", "train --data {DATA} --out {NEW} --dropout 1", {"--dropout", "got 1", "[0, 1)"}},
        {"negative dropout", "train --data {DATA} --out {NEW} --dropout -0.1", {"--dropout", "-0.1"}},
        {"attention dropout above 1", "train --data {DATA} --out {NEW} --attention-dropout 2", {"--attention-dropout", "2"}},
        {"beta2 of 1", "train --data {DATA} --out {NEW} --beta2 1", {"--beta2", "got 1"}},
        {"zero comm timeout", "train --data {DATA} --out {NEW} --comm-timeout 0", {"--comm-timeout", "got 0", "(0, 1000000]"}},
        {"zero layers", "train --data {DATA} --out {NEW} --layers 0", {"--layers", "got 0"}},
        {"layers in exponent form", "train --data {DATA} --out {NEW} --layers 1e3", {"--layers", "1e3"}},
        {"absurd width", "train --data {DATA} --out {NEW} --dim 100000000", {"--dim", "100000000"}},
        {"a model no machine here can train", "train --data {DATA} --out {NEW} --dim 16384 --layers 64",
         {"parameters: d_model=16384, layers=64", "needs at least", "more than this machine's", "--dim"}},
        {"a batch too large for memory", "train --data {DATA} --out {NEW} --batch-size 1000000 --dim 1024",
         {"batch 1000000 × block 64", "for activations"}},
        {"zero heads", "train --data {DATA} --out {NEW} --heads 0", {"--heads", "got 0"}},
        {"block size 1", "train --data {DATA} --out {NEW} --block-size 1", {"--block-size", "got 1"}},
        {"zero batch", "train --data {DATA} --out {NEW} --batch-size 0", {"--batch-size", "got 0"}},
        {"zero steps", "train --data {DATA} --out {NEW} --steps 0", {"--steps", "got 0"}},
        {"unknown precision", "train --data {DATA} --out {NEW} --precision fp16", {"--precision", "fp16"}},
        {"config file with an unknown precision", "train --config {DIR}/precision.json --out {NEW}", {"--precision", "fp16"}},
        {"negative warm-up", "train --data {DATA} --out {NEW} --warmup -5", {"--warmup", "-5"}},
        {"zero eval batches", "train --data {DATA} --out {NEW} --eval-batches 0", {"--eval-batches", "got 0"}},
        {"negative threads", "train --data {DATA} --out {NEW} --threads -1", {"--threads", "-1"}},
        {"negative weight decay", "train --data {DATA} --out {NEW} --weight-decay -1", {"--weight-decay", "-1"}},
        {"negative min lr", "train --data {DATA} --out {NEW} --min-lr -1", {"--min-lr", "-1"}},
        {"heads not dividing width", "train --data {DATA} --out {NEW} --dim 10 --heads 3", {"--dim 10", "--heads 3"}},
        {"kv heads not dividing heads", "train --data {DATA} --out {NEW} --heads 4 --kv-heads 3", {"--kv-heads 3"}},
        {"config file with a negative lr", "train --config {DIR}/lr.json --out {NEW}", {"--lr", "-1"}},
        {"config file with a negative seed", "train --config {DIR}/seed.json --out {NEW}", {"seed", "-1"}},
        {"config file with a fractional count", "train --config {DIR}/layers.json --out {NEW}", {"layers", "2.5"}},
        {"no --out", "train --data {DATA}", {"--out"}},
        {"no --data", "train --out {NEW}", {"--data"}},
        // ---- attend train: folders ----
        {"fresh run into a finished run", "train --data {DATA} --out {RUN}" + kTiny, {"{RUN}", "already holds a training run", "--overwrite"}},
        {"--out is a file", "train --data {DATA} --out {DATA}" + kTiny, {"--out", "{DATA}"}},
        {"--resume and --overwrite", "train --data {DATA} --out {RUN} --resume --overwrite", {"--overwrite", "--resume"}},
        {"resume without a checkpoint", "train --data {DATA} --out {NEW} --resume" + kTiny, {"--resume", "no checkpoint"}},
        {"resume contradicting --layers", "train --out {RUN} --resume --layers 3", {"--layers 3", "contradicts", "1"}},
        {"resume contradicting --dim", "train --out {RUN} --resume --dim 16 --heads 1", {"--dim 16", "contradicts", "8"}},
        {"resume contradicting --seed", "train --out {RUN} --resume --seed 99", {"--seed 99", "contradicts", "1337"}},
        {"resume contradicting --data", "train --out {RUN} --resume --data {DIR}/lr.json", {"--data", "lr.json", "corpus.txt"}},
        {"resume contradicting --arch", "train --out {RUN} --resume --arch bert", {"--arch bert", "gpt"}},
        {"fresh run on missing data", "train --data {DIR}/missing.txt --out {NEW}" + kTiny, {"missing.txt"}},
        {"fresh run on missing data, nested folder", "train --data {DIR}/missing.txt --out {NEW}/a/b" + kTiny, {"missing.txt"}},
        // ---- the other subcommands ----
        {"negative temperature", "generate --model {RUN} --temperature -1", {"--temperature", "-1"}},
        {"NaN temperature", "generate --model {RUN} --temperature nan", {"--temperature", "nan"}},
        {"top-p 0", "generate --model {RUN} --top-p 0", {"--top-p", "got 0", "(0, 1]"}},
        {"top-p above 1", "generate --model {RUN} --top-p 1.5", {"--top-p", "1.5"}},
        {"negative top-k", "generate --model {RUN} --top-k -1", {"--top-k", "-1"}},
        {"negative token count", "generate --model {RUN} -n -5", {"--new-tokens", "-5"}},
        {"negative generate seed", "generate --model {RUN} --seed -1", {"--seed", "-1"}},
        {"negative perplexity window", "perplexity --model {RUN} --file {DATA} --window -1", {"--window", "-1"}},
        {"perplexity stride not a number", "perplexity --model {RUN} --file {DATA} --stride two", {"--stride", "two"}},
        {"heatmap cell too big", "viz --model {RUN} --text hi --out {NEW} --cell 100", {"--cell", "100"}},
        {"explain width 0", "explain --dim 0 'the cat'", {"--dim", "got 0"}},
        {"explain negative seed", "explain --seed -1 'the cat'", {"--seed", "-1"}},
        {"demo zero learning rate", "demo --out {NEW} --lr 0", {"--lr", "got 0"}},
        {"demo zero beam", "demo --out {NEW} --beam 0", {"--beam", "got 0"}},
        {"bench zero repeats", "bench --repeat 0", {"--repeat", "got 0"}},
    };
    return table;
}

TEST_F(HostileFlags, EachClassFailsInOneLineAndLeavesNothingBehind) {
    const TempDir here;
    here.write("lr.json", "{\"data\": \"" + data_ + "\", \"lr\": -1}");
    here.write("seed.json", "{\"data\": \"" + data_ + "\", \"seed\": -1}");
    here.write("layers.json", "{\"data\": \"" + data_ + "\", \"layers\": 2.5}");
    here.write("precision.json", "{\"data\": \"" + data_ + "\", \"precision\": \"fp16\"}");
    const std::string run = tmp_->path("run"), fresh = here.path("new");
    auto fill = [&](const std::string& s) {
        return replace_all(replace_all(replace_all(replace_all(s, "{DATA}", data_), "{RUN}", run), "{NEW}", fresh),
                           "{DIR}", here.dir().string());
    };
    const auto run_before = snapshot(run);
    const auto here_before = snapshot(here.dir());
    for (const Row& row : rows()) {
        SCOPED_TRACE(row.name);
        const CliRun r = attend::testing::run_cli(fill(row.args), {.stdin_path = "", .separate_stderr = true});
        std::printf("%-44s -> %s", row.name, r.error.c_str());
        EXPECT_NE(r.status, 0);
        EXPECT_EQ(lines_in(r.error), 1u) << r.error;
        EXPECT_EQ(r.output, "");
        EXPECT_LT(r.seconds, 20.0);
        for (const std::string& part : row.says)
            EXPECT_NE(r.error.find(fill(part)), std::string::npos) << "\"" << fill(part) << "\" not in: " << r.error;
        EXPECT_FALSE(fs::exists(fresh)) << "a half-made run folder was left behind";
        EXPECT_EQ(snapshot(here.dir()), here_before);
        EXPECT_EQ(snapshot(run), run_before) << "the finished run was touched";
    }
}

// Two trains into one --out: the second fails at once, naming the first one's pid. The first is
// then SIGKILLed mid-run: its folder is already a model (`generate`, `perplexity`); a stale
// temporary like the one a kill mid-write leaves is cleaned by the resume, which continues from
// the checkpoint to the new --steps and writes the final model, which `generate` runs too.
TEST(OutputFolder, LockedWhileARunGoesOnKilledThenResumed) {
    const TempDir tmp;
    const std::string data = corpus(tmp), out = tmp.path("run");
    const pid_t first = ::fork();
    ASSERT_GE(first, 0);
    if (first == 0) {
        ::execl(ATTEND_CLI, ATTEND_CLI, "train", "--data", data.c_str(), "--out", out.c_str(), "--steps", "1000000",
                "--eval-every", "1", "--layers", "1", "--heads", "1", "--dim", "8", "--block-size", "8",
                "--batch-size", "2", "--warmup", "1", "--eval-batches", "1", "--threads", "1", "--quiet", (char*)nullptr);
        ::_exit(127);
    }
    const std::string checkpoint = out + "/checkpoint.safetensors";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(checkpoint) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(fs::exists(checkpoint)) << "the first run wrote no checkpoint in 60 s";

    const CliRun second = attend::testing::run_cli("train --data " + shell_quote(data) + " --out " + shell_quote(out) +
                                                       " --resume --steps 5",
                                                   {.stdin_path = "", .separate_stderr = true});
    std::printf("second run: %s", second.error.c_str());
    EXPECT_NE(second.status, 0);
    EXPECT_EQ(lines_in(second.error), 1u) << second.error;
    EXPECT_NE(second.error.find("in use by another training run (pid " + std::to_string(first) + ")"), std::string::npos)
        << second.error;
    EXPECT_LT(second.seconds, 20.0) << "the second run must fail at once, not wait";

    ::kill(first, SIGKILL);
    int status = 0;
    ::waitpid(first, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    // The unfinished run's folder (its checkpoint) is a model.
    const CliRun mid = attend::testing::run_cli("generate --model " + shell_quote(out) + " --prompt 'the ' -n 3 --temperature 0",
                                                {.stdin_path = "", .separate_stderr = true});
    EXPECT_EQ(mid.status, 0) << mid.error;
    EXPECT_EQ(mid.output.rfind("the ", 0), 0u) << mid.output;
    const CliRun ppl = attend::testing::run_cli("perplexity --model " + shell_quote(checkpoint) + " --file " +
                                                    shell_quote(tmp.write("short.txt", "the cat sat on the mat.\n")),
                                                {.stdin_path = "", .separate_stderr = true});
    EXPECT_EQ(ppl.status, 0) << ppl.error;
    EXPECT_NE(ppl.output.find("perplexity"), std::string::npos) << ppl.output;

    // What a kill in the middle of a write leaves (the dead writer's temporary), planted so the
    // test does not depend on where the kill landed.
    const std::string torn = checkpoint + ".tmp." + std::to_string(first) + ".0123456789abcdef";
    std::ofstream(torn) << "half a checkpoint";
    const int64_t step = std::stoll(attend::read_safetensors_metadata(checkpoint).at("step"));
    ASSERT_GE(step, 1);

    const CliRun resumed = attend::testing::run_cli("train --out " + shell_quote(out) + " --resume --steps " +
                                                        std::to_string(step + 3) + " --quiet",
                                                    {.stdin_path = "", .separate_stderr = true});
    ASSERT_EQ(resumed.status, 0) << resumed.error;
    for (const auto& entry : fs::directory_iterator(out))
        EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << "left over: " << entry.path();
    EXPECT_EQ(attend::read_safetensors_metadata(checkpoint).at("step"), std::to_string(step + 3));
    EXPECT_TRUE(fs::exists(out + "/model.safetensors"));
    const std::string csv = read_file(out + "/loss.csv");
    EXPECT_EQ(lines_in(csv), size_t(step + 3 + 1)) << "loss.csv: a header and one row per step, across the kill\n" << csv;

    const CliRun final_run = attend::testing::run_cli("generate --model " + shell_quote(out) +
                                                          " --prompt 'the ' -n 3 --temperature 0",
                                                      {.stdin_path = "", .separate_stderr = true});
    EXPECT_EQ(final_run.status, 0) << final_run.error;
    EXPECT_EQ(final_run.output.rfind("the ", 0), 0u) << final_run.output;
}

// --overwrite replaces a finished run (the old run's files go first), and a fresh run into an
// existing folder holding other things leaves those alone.
TEST(OutputFolder, OverwriteReplacesAFinishedRun) {
    const TempDir tmp;
    const std::string data = corpus(tmp), out = tmp.path("run");
    const std::string args = "train --data " + shell_quote(data) + " --out " + shell_quote(out) + kTiny;
    ASSERT_EQ(attend::testing::run_cli(args + " --steps 2 --eval-every 1").status, 0);
    std::ofstream(out + "/notes.txt") << "mine";
    const CliRun again = attend::testing::run_cli(args + " --steps 3 --eval-every 3 --overwrite");
    ASSERT_EQ(again.status, 0) << again.output;
    EXPECT_EQ(lines_in(read_file(out + "/loss.csv")), 4u) << "a header and the new run's 3 steps, not the old run's";
    EXPECT_EQ(attend::read_safetensors_metadata(out + "/checkpoint.safetensors").at("step"), "3");
    EXPECT_EQ(read_file(out + "/notes.txt"), "mine");
}

// The temporaries: unguessable, never left after a write; a dead writer's are removed, a live
// one's (and anything not a plain file) are not.
TEST(AtomicFile, TemporariesAreCleanedOnlyWhenTheirWriterIsGone) {
    const TempDir tmp;
    attend::write_text_atomically(tmp.path("a.txt"), "hello");
    EXPECT_EQ(read_file(tmp.path("a.txt")), "hello");
    EXPECT_EQ(snapshot(tmp.dir()).size(), 1u);

    const pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    ::waitpid(dead, nullptr, 0);
    const std::string stale_new = tmp.write("b.bin.tmp." + std::to_string(dead) + ".00000000000000ff", "x");
    const std::string stale_old = tmp.write("c.bin.tmp." + std::to_string(dead), "x");
    const std::string live = tmp.write("d.bin.tmp." + std::to_string(::getpid()) + ".00000000000000ff", "x");
    const std::string other = tmp.write("e.tmp.notes", "x");
    fs::create_symlink(tmp.path("a.txt"), tmp.path("f.bin.tmp." + std::to_string(dead)));
    EXPECT_EQ(attend::remove_stale_temporaries(tmp.dir().string()), 2);
    EXPECT_FALSE(fs::exists(stale_new));
    EXPECT_FALSE(fs::exists(stale_old));
    EXPECT_TRUE(fs::exists(live));
    EXPECT_TRUE(fs::exists(other));
    EXPECT_TRUE(fs::is_symlink(tmp.path("f.bin.tmp." + std::to_string(dead))));
    EXPECT_EQ(read_file(tmp.path("a.txt")), "hello");
}

}  // namespace
