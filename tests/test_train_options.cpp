// `attend train`'s option table (train/train_options.hpp): every row settable from a flag's
// text and from a --config key, range-checked with one line naming the flag or the key, the
// checkpoint's record unchanged from the code before the table (so old checkpoints resume),
// and the CLI's flags built from it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "attend/error.hpp"
#include "attend/train/checkpoint.hpp"
#include "attend/train/trainer.hpp"
#include "support/cli.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"

using namespace attend;
using attend::testing::error_of;
using attend::testing::read_file;
using attend::testing::run_cli;
using attend::testing::TempDir;
namespace fs = std::filesystem;

namespace {

bool is_real(const TrainOption& r) { return std::holds_alternative<float TrainOptions::*>(r.field); }
bool is_text(const TrainOption& r) {
    return std::holds_alternative<std::string TrainOptions::*>(r.field) ||
           std::holds_alternative<TrainArch TrainOptions::*>(r.field);
}

std::string shown(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

// A value of the row's own kind, in range, other than its default.
std::string valid_value(const TrainOption& r) {
    if (r.is_switch()) return "true";
    if (r.choices) return std::string(r.choices).substr(std::string(r.choices).rfind('|') + 1);
    if (is_text(r)) return "/somewhere/else";
    if (is_real(r)) return shown(r.min + (std::min(r.max, r.min + 1) - r.min) / 4);  // 0.25 above the minimum
    return shown(r.min + 1);
}

// The value as JSON would carry it.
std::string json_of(const TrainOption& r, const std::string& text) {
    return r.is_switch() || !is_text(r) ? text : "\"" + text + "\"";
}

// A checkpoint's "train_options" as the code before the option table wrote it (captured from
// that build): every option at its default, then every recorded option set, the seed at 2^64 - 1.
const char* kOldDefaults =
    R"({"arch":"gpt","attention_dropout":0.0,"batch_size":12,"beta1":0.8999999761581421,"beta2":0.9900000095367432,)"
    R"("block_size":64,"checkpoint_every":0,"comm_timeout":600.0,"data":"","dim":128,"dropout":0.0,"eval_batches":20,)"
    R"("eval_every":250,"grad_accum":1,"grad_clip":1.0,"heads":4,"kv_heads":0,"layers":4,"lr":0.0010000000474974513,)"
    R"("min_lr":-1.0,"norm_placement":"","seed":1337,"steps":2000,"tokenizer":"","warmup":100,)"
    R"("weight_decay":0.10000000149011612})";
const char* kOldAllSet =
    R"({"arch":"seq2seq","attention_dropout":0.20000000298023224,"batch_size":5,"beta1":0.8500000238418579,)"
    R"("beta2":0.949999988079071,"block_size":96,"checkpoint_every":25,"comm_timeout":30.5,"data":"/runs/pairs.tsv",)"
    R"("dim":48,"dropout":0.10000000149011612,"eval_batches":4,"eval_every":50,"grad_accum":2,"grad_clip":0.5,)"
    R"("heads":2,"kv_heads":1,"layers":3,"lr":0.0003000000142492354,"min_lr":9.999999747378752e-06,)"
    R"("norm_placement":"post","seed":18446744073709551615,"steps":700,"tokenizer":"/runs/tok","warmup":7,)"
    R"("weight_decay":0.05000000074505806})";

// The record since --precision: the old one with "precision" in its sorted place; an old
// record (without it) reads as f32.
std::string with_precision(const std::string& old_record, const char* precision = "f32") {
    const size_t at = old_record.find(R"("seed":)");
    return old_record.substr(0, at) + R"("precision":")" + precision + "\"," + old_record.substr(at);
}

}  // namespace

TEST(TrainOptions, TheCheckpointRecordIsTheOldCodesByteForByte) {
    // the table's defaults are the old struct's
    EXPECT_EQ(train_options_to_json(TrainOptions{}), with_precision(kOldDefaults));
    const TrainOptions o = parse_train_options(kOldAllSet, "old.json");
    EXPECT_EQ(o.arch, TrainArch::seq2seq);
    EXPECT_EQ(o.beta1, 0.85f);
    EXPECT_EQ(o.checkpoint_every, 25);
    EXPECT_EQ(o.seed, ~uint64_t(0));  // above 2^63: the old reader refused its own record here
    EXPECT_EQ(o.min_lr, 1e-5f);
    EXPECT_EQ(o.comm_timeout, 30.5f);
    EXPECT_EQ(o.precision, "f32");
    EXPECT_EQ(train_options_to_json(o), with_precision(kOldAllSet));
    EXPECT_EQ(train_options_to_json(parse_train_options(with_precision(kOldAllSet, "bf16"), "new.json")),
              with_precision(kOldAllSet, "bf16"));
}

TEST(TrainOptions, EveryOptionIsSettableFromAFlagAndFromAKey) {
    const TrainOptions defaults;
    for (const TrainOption& r : train_option_table()) {
        SCOPED_TRACE(r.key);
        EXPECT_EQ(find_train_option(r.key), &r);
        EXPECT_EQ(find_train_option(r.flag()), &r);
        // The default is the table's (the reals' are checked through the record, above).
        if (!is_real(r)) {
            EXPECT_EQ(train_option_text(defaults, r), r.default_text);
        }
        const std::string value = valid_value(r);
        ASSERT_NE(value, train_option_text(defaults, r));
        TrainOptions by_flag;
        set_train_option(by_flag, r, value);
        EXPECT_EQ(train_option_text(by_flag, r), value);
        const TrainOptions by_key =
            parse_train_options("{\"" + std::string(r.key) + "\": " + json_of(r, value) + "}", "t.json");
        EXPECT_EQ(train_option_text(by_key, r), value);
        // Recorded options come back from the checkpoint's record; the others are not in it.
        const std::string record = train_options_to_json(by_flag);
        EXPECT_EQ(record.find("\"" + std::string(r.key) + "\":") != std::string::npos, r.recorded) << record;
        if (r.recorded) {
            EXPECT_EQ(train_option_text(parse_train_options(record, "record"), r), value);
        }
    }
    // The two that were settable from --config alone, before the table.
    EXPECT_NE(find_train_option("--beta1"), nullptr);
    EXPECT_NE(find_train_option("--checkpoint-every"), nullptr);
}

TEST(TrainOptions, OutOfRangeValuesNameTheFlagOrTheKey) {
    for (const TrainOption& r : train_option_table()) {
        if (r.is_switch() || (is_text(r) && !r.choices)) continue;
        SCOPED_TRACE(r.key);
        std::vector<std::string> bad;
        if (r.choices) bad = {"nonsense"};
        else if (is_real(r)) bad = {shown(r.min - 0.5), "nan", "1e999", "fast"};
        else bad = {shown(r.min - 1), "1.5", "1e3", "-0"};
        if (!r.choices && r.max < 1e300) bad.push_back(shown(is_real(r) ? r.max + 0.5 : r.max + 1));
        if (!r.choices && r.min_open) bad.push_back(shown(r.min));
        if (!r.choices && r.max_open) bad.push_back(shown(r.max));
        for (const std::string& value : bad) {
            SCOPED_TRACE(value);
            TrainOptions o;
            const std::string flag_error = error_of([&] { set_train_option(o, r, value); });
            EXPECT_EQ(flag_error.rfind(r.flag() + ": got " + value + ", expected ", 0), 0u) << flag_error;
            EXPECT_EQ(flag_error.find('\n'), std::string::npos) << flag_error;
            // The same value in a --config file (where JSON can spell it): the file, the key, the flag.
            const bool json_number = !r.choices && value != "nan" && value != "fast" && value != "1e999" && value != "-0";
            if (!json_number && !r.choices) continue;
            const std::string json = "{\"" + std::string(r.key) + "\": " + (r.choices ? "\"" + value + "\"" : value) + "}";
            const std::string key_error = error_of([&] { parse_train_options(json, "t.json"); });
            EXPECT_NE(key_error.find("t.json: field \"" + std::string(r.key) + "\""), std::string::npos) << key_error;
            EXPECT_EQ(key_error.find('\n'), std::string::npos) << key_error;
        }
    }
    // A library caller's value is checked the same way, naming the flag.
    TrainOptions o;
    o.beta1 = 1.f;
    EXPECT_NE(error_of([&] { check_train_options(o); }).find("--beta1: got 1, expected an Adam beta"), std::string::npos);
    o = TrainOptions{}, o.checkpoint_every = -2;
    EXPECT_NE(error_of([&] { check_train_options(o); }).find("--checkpoint-every: got -2"), std::string::npos);
    // min_lr's "unset" -1 passes from the library and a file, never from the flag.
    o = TrainOptions{};
    EXPECT_NO_THROW(check_train_options(o));
    EXPECT_EQ(parse_train_options(R"({"min_lr": -1})", "t.json").min_lr, -1.f);
    EXPECT_NE(train_option_problem("min_lr", "-1"), "");
    EXPECT_NE(error_of([&] { parse_train_options(R"({"beta_1": 0.9})", "t.json"); }).find("unknown option \"beta_1\""),
              std::string::npos);
    EXPECT_NE(error_of([&] { parse_train_options(R"({"lr": -1})", "t.json"); })
                  .find("t.json: field \"lr\" (--lr): got -1, expected a learning rate: a finite number > 0"),
              std::string::npos);
}

// The CLI's flags are the table's: --help lists every row with its default, and the two
// options that once had no flag reach the run and its record.
TEST(TrainOptions, CliFlagsComeFromTheTable) {
    const auto help = run_cli("train --help");
    ASSERT_EQ(help.status, 0) << help.output;
    for (const TrainOption& r : train_option_table())
        EXPECT_NE(help.output.find(r.flag() + " "), std::string::npos) << r.flag();
    EXPECT_NE(help.output.find("--beta1 FLOAT=0.9"), std::string::npos) << help.output;
    EXPECT_NE(help.output.find("--checkpoint-every INT=0"), std::string::npos) << help.output;

    const TempDir tmp;
    const std::string dir = tmp.dir().string();
    std::string text;
    for (int i = 0; i < 200; ++i) text += "the cat sat on the mat " + std::to_string(i % 7) + ".\n";
    std::ofstream(dir + "/corpus.txt") << text;
    const auto run = run_cli("train --data " + dir + "/corpus.txt --out " + dir + "/run --layers 1 --heads 1 --dim 8"
                             " --block-size 8 --batch-size 2 --steps 3 --eval-every 0 --eval-batches 1 --threads 1"
                             " --quiet --beta1 0.5 --checkpoint-every 2");
    ASSERT_EQ(run.status, 0) << run.output;
    const TrainOptions recorded = recorded_train_options(dir + "/run");
    EXPECT_EQ(recorded.beta1, 0.5f);
    EXPECT_EQ(recorded.checkpoint_every, 2);
    const auto bad = run_cli("train --data " + dir + "/corpus.txt --out " + dir + "/bad --beta1 1");
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.output.find("--beta1"), std::string::npos) << bad.output;
    EXPECT_NE(bad.output.find("got 1, expected an Adam beta: a finite number in [0, 1)"), std::string::npos)
        << bad.output;
    EXPECT_FALSE(fs::exists(dir + "/bad"));
}

// A run stopped halfway records its options as the code before the table did, and `attend
// train --resume` (which starts from that record) continues it bit for bit.
TEST(TrainOptions, ResumeFromTheRecordReproducesTheUninterruptedRun) {
    const TempDir tmp;
    const std::string dir = fs::weakly_canonical(tmp.dir()).string();
    std::string text;
    for (int i = 0; i < 300; ++i)
        text += "the cat sat on mat " + std::to_string(i % 17) + ". a dog ran far " + std::to_string(i % 5) + ".\n";
    std::ofstream(dir + "/corpus.txt") << text;
    TrainOptions o;
    o.data = dir + "/corpus.txt";
    o.layers = 2, o.heads = 2, o.dim = 32, o.block_size = 16, o.batch_size = 4, o.dropout = 0.1f;
    o.steps = 12, o.warmup = 3, o.lr = 3e-3f, o.eval_every = 4, o.eval_batches = 2;
    o.threads = 1, o.quiet = true, o.seed = 7;
    o.out = dir + "/straight";
    const TrainResult straight = train(o);
    o.out = dir + "/split";
    o.stop_after = 6;
    ASSERT_EQ(train(o).steps_done, 6);

    const std::string old_record =
        R"({"arch":"gpt","attention_dropout":0.0,"batch_size":4,"beta1":0.8999999761581421,"beta2":0.9900000095367432,)"
        R"("block_size":16,"checkpoint_every":0,"comm_timeout":600.0,"data":")" + o.data +
        R"(","dim":32,"dropout":0.10000000149011612,"eval_batches":2,"eval_every":4,"grad_accum":1,"grad_clip":1.0,)"
        R"("heads":2,"kv_heads":0,"layers":2,"lr":0.003000000026077032,"min_lr":-1.0,"norm_placement":"","seed":7,)"
        R"("steps":12,"tokenizer":"","warmup":3,"weight_decay":0.10000000149011612})";
    EXPECT_EQ(read_safetensors_metadata(o.out + "/checkpoint.safetensors").at("train_options"),
              with_precision(old_record));

    const auto resumed = run_cli("train --out " + o.out + " --resume --threads 1 --quiet");
    ASSERT_EQ(resumed.status, 0) << resumed.output;
    EXPECT_EQ(read_file(o.out + "/loss.csv"), read_file(dir + "/straight/loss.csv"));
    EXPECT_EQ(read_file(o.out + "/model.safetensors"), read_file(dir + "/straight/model.safetensors"));
    ASSERT_FALSE(straight.val_losses.empty());
}
