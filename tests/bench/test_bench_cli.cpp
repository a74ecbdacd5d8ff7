// tests/bench/test_bench_cli.cpp — `attend bench --quick --json` end to end: the real binary,
// its real PyTorch child (bench/bench_torch.py under Debian's python3-torch). A smoke test:
// every workload and every limit must be there with a positive number, torch included (the
// suite needs torch anyway, tests/reference), but no timing is asserted — the numbers of a
// quick run on a shared machine mean nothing.
//
// Its own executable (tests/CMakeLists.txt), so it builds without the whole suite and runs
// in its own process: the benchmark uses every core for a few seconds.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <string>

#include "attend/cpu_features.hpp"
#include "attend/matmul_precision.hpp"
#include "support/cli.hpp"

namespace {

using attend::cpu_has_bf16_matmul;
using attend::testing::CliOptions;
using attend::testing::run_cli;
using nlohmann::json;

CliOptions stderr_apart() {
    CliOptions options;
    options.separate_stderr = true;  // the progress lines go to stderr, the JSON to stdout
    return options;
}

bool positive(const json& v) { return v.is_number() && v.get<double>() > 0; }

// {"median", "min", "max", "samples"}: all positive, min ≤ median ≤ max.
void expect_stats(const json& s, const std::string& where) {
    ASSERT_TRUE(s.is_object()) << where << ": " << s.dump();
    for (const char* key : {"median", "min", "max"}) EXPECT_TRUE(positive(s[key])) << where << "." << key << ": " << s.dump();
    EXPECT_LE(s["min"].get<double>(), s["median"].get<double>()) << where;
    EXPECT_LE(s["median"].get<double>(), s["max"].get<double>()) << where;
    ASSERT_TRUE(s["samples"].is_array()) << where;
    EXPECT_FALSE(s["samples"].empty()) << where;
}

TEST(CliBench, QuickJsonHoldsEveryWorkloadBothSidesAndTheLimits) {
    const auto run = run_cli("bench --quick --json", stderr_apart());
    ASSERT_EQ(run.status, 0) << run.output << "\nstderr:\n" << run.error;
    const json out = json::parse(run.output, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(out.is_discarded()) << "not JSON:\n" << run.output;

    EXPECT_EQ(out["quick"], true);
    EXPECT_EQ(out["repeat"], 1);
    EXPECT_EQ(out["threads"], json::array({1, 2}));
    // The kernel set the workloads ran on: the CPU's best under ATTEND_MAX_ISA, as in this process.
    EXPECT_EQ(out["kernels"], attend::name_of(attend::kernel_isa()));
    ASSERT_TRUE(out["torch"].is_object());
    ASSERT_EQ(out["torch"]["available"], true) << "torch must run here (scripts/setup.sh installs python3-torch): "
                                               << out["torch"].dump() << "\nstderr:\n" << run.error;
    EXPECT_FALSE(out["torch"]["blas"].get<std::string>().empty());

    // Limits: one entry per thread count, every number positive.
    ASSERT_TRUE(out["limits"].is_array());
    ASSERT_EQ(out["limits"].size(), 2u);
    for (const json& l : out["limits"]) {
        const std::string where = "limits at " + l["threads"].dump() + " threads";
        EXPECT_TRUE(positive(l["fma_gflops"])) << where;
        EXPECT_TRUE(positive(l["bandwidth_gbs"])) << where;
        EXPECT_TRUE(positive(l["bandwidth_buffer_bytes"])) << where;
        EXPECT_TRUE(positive(l["sgemm_model_gflops"])) << where;
        ASSERT_EQ(l["sgemm"].size(), 3u) << where;
        for (const json& g : l["sgemm"]) EXPECT_TRUE(positive(g["gflops"])) << where << ": " << g.dump();
    }

    // Workloads: each kind at each thread count, both sides, a ratio and a fraction of the limit.
    ASSERT_TRUE(out["workloads"].is_array());
    std::set<std::pair<std::string, int>> seen;
    std::set<std::tuple<std::string, std::string, int>> seen_dtypes;  // decode and prefill come per weight type
    for (const json& w : out["workloads"]) {
        const std::string where = w["name"].get<std::string>() + " at " + w["threads"].dump() + " threads";
        seen.insert({w["kind"].get<std::string>(), w["threads"].get<int>()});
        if (w["kind"] == "decode" || w["kind"] == "prefill" || w["kind"] == "train")
            seen_dtypes.insert({w["kind"].get<std::string>(), w["dtype"].get<std::string>(), w["threads"].get<int>()});
        else
            EXPECT_EQ(w["dtype"], "f32") << where;
        expect_stats(w["attend"], where + " attend");
        expect_stats(w["torch"], where + " torch");
        EXPECT_FALSE(w.contains("torch_error")) << where << ": " << w["torch_error"].dump();
        EXPECT_TRUE(positive(w["ratio"])) << where;
        EXPECT_TRUE(positive(w["fraction_of_limit"])) << where;
        // The largest ratio any engine could show here: f32 rows only (no assertion on its
        // size — two timings, and this is a smoke test).
        if (w["dtype"] == "f32") {
            EXPECT_TRUE(positive(w["ratio_at_limit"])) << where;
        } else {
            EXPECT_TRUE(w["ratio_at_limit"].is_null()) << where;
        }
        // The bf16 training step is also timed against torch's own bf16 autocast.
        if (w["kind"] == "train" && w["dtype"] == "bf16") {
            expect_stats(w["torch_autocast_bf16"], where + " torch autocast");
            EXPECT_TRUE(positive(w["ratio_to_torch_autocast_bf16"])) << where;
        } else {
            EXPECT_FALSE(w.contains("torch_autocast_bf16")) << where;
        }
        if (w["kind"] == "decode") {
            expect_stats(w["attend_prompt_ms"], where + " attend prompt");
            expect_stats(w["torch_prompt_ms"], where + " torch prompt");
            EXPECT_TRUE(positive(w["weight_bytes"])) << where;
            // One bandwidth probe per attend sample: the fraction is taken against them.
            ASSERT_TRUE(w["bandwidth_probe_gbs"].is_array()) << where;
            EXPECT_EQ(w["bandwidth_probe_gbs"].size(), w["attend"]["samples"].size()) << where;
            for (const json& g : w["bandwidth_probe_gbs"]) EXPECT_TRUE(positive(g)) << where;
        } else {
            EXPECT_TRUE(positive(w["flops"])) << where;
        }
    }
    for (const char* kind : {"decode", "prefill", "train", "attention"})
        for (int threads : {1, 2}) EXPECT_TRUE(seen.count({kind, threads})) << kind << " at " << threads << " threads";
    for (const char* kind : {"decode", "prefill"})
        for (const char* dtype : {"f32", "bf16", "int8"})
            for (int threads : {1, 2})
                EXPECT_TRUE(seen_dtypes.count({kind, dtype, threads})) << kind << " " << dtype << " at " << threads;
    // train: f32, and bf16 mixed precision exactly where the CPU has AVX512-BF16; never int8.
    for (int threads : {1, 2}) {
        EXPECT_TRUE(seen_dtypes.count({"train", "f32", threads})) << "train f32 at " << threads;
        EXPECT_EQ(seen_dtypes.count({"train", "bf16", threads}), cpu_has_bf16_matmul() ? 1u : 0u) << threads;
        EXPECT_EQ(seen_dtypes.count({"train", "int8", threads}), 0u) << threads;
    }
    // attention --quick: T = 512, causal and not, forward and forward+backward, 2 thread counts.
    int attention_rows = 0;
    for (const json& w : out["workloads"]) attention_rows += w["kind"] == "attention";
    EXPECT_EQ(attention_rows, 8);
}

TEST(CliBench, WithoutTorchAttendStillReports) {
    // A missing interpreter is reported, not fatal: attend's side runs and prints.
    const auto run =
        run_cli("bench --quick --workloads prefill --threads 1 --python /nonexistent/python3", stderr_apart());
    ASSERT_EQ(run.status, 0) << run.output << "\nstderr:\n" << run.error;
    EXPECT_NE(run.output.find("torch: unavailable (no Python interpreter at /nonexistent/python3)"), std::string::npos)
        << run.output;
    EXPECT_NE(run.output.find("prefill"), std::string::npos) << run.output;
}

TEST(CliBench, RejectsAnUnknownWorkload) {
    const auto run = run_cli("bench --quick --workloads decode,nope");
    EXPECT_NE(run.status, 0);
    EXPECT_NE(run.output.find("unknown workload \"nope\""), std::string::npos) << run.output;
}

}  // namespace
