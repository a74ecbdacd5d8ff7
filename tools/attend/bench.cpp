// tools/attend/bench.cpp — `attend bench`: attend and PyTorch 1.13 side by side, on the
// workloads that matter (decode, prefill, a training step, fused attention), next to the
// machine's own limits measured in the same run.
//
//   limits     per thread count: FMA peak, read bandwidth, SGEMM at the model's shapes
//   loop       for each repetition, for each workload, for each thread count:
//                attend, then torch (interleaved, so a noisy neighbour or a clock change
//                hits both sides alike instead of one whole column)
//   report     per row: median (min–max) over the repetitions for each side, the ratio
//              torch time ÷ attend time (> 1: attend is faster), and the fraction of the
//              limit that bounds the workload (bench_workloads.cpp: which, and the FLOPs)
//
// The first repetition of each row runs each side once untimed (a warm-up: models built,
// caches and JIT kernels ready). --quick is a smoke test (tiny shapes, one repetition): its
// numbers only show that everything runs. docs/performance.md explains every column.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attend/cpu_features.hpp"
#include "attend/error.hpp"
#include "attend/parallel.hpp"
#include "attend/version.hpp"
#include "bench.hpp"
#include "commands.hpp"

#ifndef ATTEND_PYTHON
#define ATTEND_PYTHON "/usr/bin/python3"
#endif
#ifndef ATTEND_BENCH_TORCH_SCRIPT
#define ATTEND_BENCH_TORCH_SCRIPT "bench/bench_torch.py"
#endif

namespace attend::cli {
namespace {

using bench::Limits;
using bench::Sample;
using bench::Workload;

struct BenchCliOptions {
    bool quick = false, json = false, no_torch = false;
    std::vector<int> threads = {1, 2};
    int repeat = 3;
    bool repeat_given = false;
    std::vector<std::string> workloads = {"decode", "prefill", "train", "attention"};
    std::vector<std::string> dtypes = {"f32", "bf16", "int8"};
    std::string python = ATTEND_PYTHON, torch_script = ATTEND_BENCH_TORCH_SCRIPT;
};

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median, min and max of the samples' seconds per call; empty when there are none.
struct Stats {
    std::vector<double> seconds;
    bool empty() const { return seconds.empty(); }
    double median() const { return median_of(seconds); }
    double min() const { return *std::min_element(seconds.begin(), seconds.end()); }
    double max() const { return *std::max_element(seconds.begin(), seconds.end()); }
};

// A side whose first sample took kLongCallSeconds or more is not run again (bench.hpp).
bool timed_once(const Stats& s) { return s.seconds.size() == 1 && s.seconds.front() >= bench::kLongCallSeconds; }

// One cell of the table: a workload at a thread count, both sides.
struct Cell {
    Stats attend, torch, attend_prompt, torch_prompt;
    Stats torch_autocast;     // train bf16: torch's step under torch.autocast("cpu", bfloat16)
    std::vector<double> probe_gbs;  // bandwidth-bound rows: the read bandwidth next to each attend sample
    std::string torch_error;  // why torch has no number here
};

double fraction_of_limit(const Workload& w, double seconds, const Limits& l) {
    switch (w.bound) {
        case bench::Bound::bandwidth: return w.weight_bytes * (w.per_call / seconds) / (l.bandwidth_gbs * 1e9);
        case bench::Bound::sgemm: return w.flops / seconds / (l.sgemm_model_gflops * 1e9);
        case bench::Bound::fma: return w.flops / seconds / (l.fma_gflops * 1e9);
    }
    return NAN;
}

// A row's fraction of its limit: for a bandwidth-bound row, the median over its samples of
// each sample's rate against the bandwidth probed next to it (the higher of a probe just before
// and one just after: BandwidthProbe, the bandwidth drifts); otherwise the median time against
// the limits measured at the start.
double fraction_of_limit(const Workload& w, const Cell& c, const Limits& l) {
    if (w.bound != bench::Bound::bandwidth || c.probe_gbs.size() != c.attend.seconds.size())
        return fraction_of_limit(w, c.attend.median(), l);
    std::vector<double> fractions;
    for (size_t i = 0; i < c.probe_gbs.size(); ++i)
        fractions.push_back(w.weight_bytes * (w.per_call / c.attend.seconds[i]) / (c.probe_gbs[i] * 1e9));
    return median_of(fractions);
}

// The best ratio to PyTorch any engine could show on this machine: PyTorch's time against
// the time of one call run at the hard limit — every byte of weights at the read bandwidth
// (decode; the median probe), every useful FLOP at the FMA peak (the rest). A target ratio
// above it cannot be met by a faster kernel, only by less work. f32 rows only: a bf16 or int8
// row reads fewer bytes and multiplies on other units than the fp32 FMA peak counts.
double ratio_at_limit(const Workload& w, const Cell& c, const Limits& l) {
    if (c.torch.empty() || w.dtype != "f32") return NAN;
    double limit_seconds = w.flops / (l.fma_gflops * 1e9);
    if (w.bound == bench::Bound::bandwidth) {
        const double gbs = c.probe_gbs.empty() ? l.bandwidth_gbs : median_of(c.probe_gbs);
        limit_seconds = w.weight_bytes * w.per_call / (gbs * 1e9);
    }
    return c.torch.median() / limit_seconds;
}

std::string number(double x) {
    char text[32];
    std::snprintf(text, sizeof text, x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x);
    return text;
}

// "median (lo–hi)" of the displayed values (for rates the fastest call is the highest).
std::string spread(const Workload& w, const Stats& s) {
    if (s.empty()) return "–";
    if (timed_once(s)) return number(w.display(s.median())) + " (timed once)";
    const double a = w.display(s.min()), b = w.display(s.max());
    return number(w.display(s.median())) + " (" + number(std::min(a, b)) + "–" + number(std::max(a, b)) + ")";
}

nlohmann::json stats_json(const Workload& w, const Stats& s, bool display = true) {
    if (s.empty()) return nullptr;
    auto value = [&](double seconds) { return display ? w.display(seconds) : seconds * 1e3; };
    const double a = value(s.min()), b = value(s.max());
    nlohmann::json samples = nlohmann::json::array();
    for (double x : s.seconds) samples.push_back(value(x));
    return {{"median", value(s.median())}, {"min", std::min(a, b)}, {"max", std::max(a, b)}, {"samples", samples}};
}

// Pads to `width` display columns (the labels hold a few multi-byte characters).
std::string padded(const std::string& s, size_t width) {
    size_t columns = 0;
    for (unsigned char c : s) columns += (c & 0xC0) != 0x80;
    return s + std::string(width > columns ? width - columns : 0, ' ');
}

void run_bench(const BenchCliOptions& o) {
    ::signal(SIGPIPE, SIG_IGN);  // a torch child that dies makes a write fail, not kill us
    const int repeat = o.quick && !o.repeat_given ? 1 : o.repeat;
    const double min_time = o.quick ? 0.0 : 0.5;  // seconds of calls per sample (at least one call)
    const std::vector<Workload> workloads = bench::make_workloads(o.workloads, o.dtypes, o.quick);
    // The kernel set attend's workloads run on (the limits measure what the CPU itself can do).
    const Isa kernel_set = kernel_isa();
    auto progress = [&](const std::string& text) {
        std::fprintf(stderr, "bench: %s\n", text.c_str());
        std::fflush(stderr);
    };

    // One bandwidth buffer for the limits and the probes next to bandwidth-bound samples.
    bench::BandwidthProbe probe(o.quick, *std::max_element(o.threads.begin(), o.threads.end()));
    std::vector<Limits> limits;
    for (int t : o.threads) {
        progress("machine limits at " + std::to_string(t) + " thread(s)");
        limits.push_back(bench::measure_limits(t, o.quick, probe));
    }

    std::vector<std::unique_ptr<bench::TorchChild>> torch;
    std::string torch_reason = o.no_torch ? "--no-torch" : "";
    if (!o.no_torch)
        for (int t : o.threads) {
            progress("starting " + o.torch_script + " at " + std::to_string(t) + " thread(s)");
            torch.push_back(std::make_unique<bench::TorchChild>(o.python, o.torch_script, t));
            if (!torch.back()->available() && torch_reason.empty()) torch_reason = torch.back()->reason();
        }
    const bench::TorchChild* torch_info = nullptr;
    for (const auto& c : torch)
        if (c->available()) {
            torch_info = c.get();
            break;
        }
    if (torch_info) torch_reason.clear();

    std::vector<std::vector<Cell>> cells(workloads.size(), std::vector<Cell>(o.threads.size()));
    bench::AttendRunner attend_runner;
    for (int rep = 0; rep < repeat; ++rep)
        for (size_t wi = 0; wi < workloads.size(); ++wi)
            for (size_t ti = 0; ti < o.threads.size(); ++ti) {
                const Workload& w = workloads[wi];
                Cell& cell = cells[wi][ti];
                progress("repetition " + std::to_string(rep + 1) + "/" + std::to_string(repeat) + ": " + w.label +
                         (w.dtype.empty() ? "" : ", " + w.dtype) + ", " + std::to_string(o.threads[ti]) + " thread(s)");
                const bool bandwidth_bound = w.bound == bench::Bound::bandwidth;
                set_num_threads(o.threads[ti]);
                if (rep == 0 || !timed_once(cell.attend)) {
                    const double probe_before = bandwidth_bound ? probe.gbs(o.threads[ti]) : 0;
                    const Sample s = attend_runner.run(w, rep == 0, min_time);
                    // The higher of the probes either side of the sample: the bandwidth moves within
                    // seconds, and the higher figure makes the sample's fraction the smaller one.
                    if (bandwidth_bound) cell.probe_gbs.push_back(std::max(probe_before, probe.gbs(o.threads[ti])));
                    cell.attend.seconds.push_back(s.seconds);
                    if (s.prompt_seconds >= 0) cell.attend_prompt.seconds.push_back(s.prompt_seconds);
                }

                // torch runs f32, and for the bf16 training step also its own mixed precision
                // (autocast), shown beside the row's f32 ratio.
                const bool autocast = w.kind == "train" && w.dtype == "bf16";
                if (ti >= torch.size() || !cell.torch_error.empty() || (w.dtype != "f32" && !autocast)) continue;
                if (rep > 0 && timed_once(autocast ? cell.torch_autocast : cell.torch)) continue;
                bench::TorchChild& child = *torch[ti];
                if (!child.available()) {
                    cell.torch_error = child.reason();
                    continue;
                }
                nlohmann::json request = w.torch_request();
                request["warmup"] = rep == 0;
                request["min_time"] = min_time;
                request["long_call"] = bench::kLongCallSeconds;
                if (autocast) request["autocast"] = true;
                const nlohmann::json reply = child.request(request);
                if (reply.contains("error") || !reply.contains("seconds")) {
                    cell.torch_error = reply.value("error", std::string("no \"seconds\" in the reply"));
                    continue;
                }
                (autocast ? cell.torch_autocast : cell.torch).seconds.push_back(reply["seconds"].get<double>());
                if (reply.contains("prompt_seconds"))
                    cell.torch_prompt.seconds.push_back(reply["prompt_seconds"].get<double>());
            }

    // What a row shows: a low-precision row has PyTorch's f32 numbers (the same workload,
    // labelled alike; PyTorch runs f32 only), so its ratio is against PyTorch's f32.
    const auto cell_shown = [&](size_t wi, size_t ti) {
        Cell c = cells[wi][ti];
        if (workloads[wi].dtype == "f32") return c;
        for (size_t wj = 0; wj < workloads.size(); ++wj)
            if (workloads[wj].label == workloads[wi].label && workloads[wj].dtype == "f32") {
                c.torch = cells[wj][ti].torch, c.torch_prompt = cells[wj][ti].torch_prompt;
                c.torch_error = cells[wj][ti].torch_error;
            }
        return c;
    };

    // ---- JSON ----
    if (o.json) {
        nlohmann::json out;
        out["attend"] = version();
        out["quick"] = o.quick;
        out["repeat"] = repeat;
        out["threads"] = o.threads;
        out["kernels"] = name_of(kernel_set);
        if (torch_info) {
            nlohmann::json environment;  // per thread count: what the child's environment sets
            for (int t : o.threads) environment[std::to_string(t)] = bench::torch_environment(t);
            out["torch"] = {{"available", true},
                            {"version", torch_info->hello().value("torch", "")},
                            {"blas", torch_info->hello().value("blas", "")},
                            {"environment", environment}};
        } else
            out["torch"] = {{"available", false}, {"reason", torch_reason}};
        out["limits"] = nlohmann::json::array();
        for (const Limits& l : limits) out["limits"].push_back(l.to_json());
        out["workloads"] = nlohmann::json::array();
        for (size_t wi = 0; wi < workloads.size(); ++wi)
            for (size_t ti = 0; ti < o.threads.size(); ++ti) {
                const Workload& w = workloads[wi];
                const Cell c = cell_shown(wi, ti);
                nlohmann::json row = {{"kind", w.kind},
                                      {"name", w.label},
                                      {"dtype", w.dtype},
                                      {"threads", o.threads[ti]},
                                      {"unit", w.unit},
                                      {"measured", w.measured},
                                      {"attend", stats_json(w, c.attend)},
                                      {"torch", stats_json(w, c.torch)},
                                      {"bound", bench::name_of(w.bound)}};
                if (!c.torch_error.empty()) row["torch_error"] = c.torch_error;
                if (!c.torch_autocast.empty()) {
                    row["torch_autocast_bf16"] = stats_json(w, c.torch_autocast);
                    row["ratio_to_torch_autocast_bf16"] = c.torch_autocast.median() / c.attend.median();
                }
                row["ratio"] = c.torch.empty() ? nlohmann::json(nullptr)
                                               : nlohmann::json(c.torch.median() / c.attend.median());
                row["fraction_of_limit"] = fraction_of_limit(w, c, limits[ti]);
                const double ceiling = ratio_at_limit(w, c, limits[ti]);
                row["ratio_at_limit"] = std::isnan(ceiling) ? nlohmann::json(nullptr) : nlohmann::json(ceiling);
                if (w.bound == bench::Bound::bandwidth) {
                    row["weight_bytes"] = w.weight_bytes;
                    row["bandwidth_probe_gbs"] = c.probe_gbs;
                } else
                    row["flops"] = w.flops;
                if (!c.attend_prompt.empty()) {
                    row["attend_prompt_ms"] = stats_json(w, c.attend_prompt, false);
                    row["torch_prompt_ms"] = stats_json(w, c.torch_prompt, false);
                }
                out["workloads"].push_back(row);
            }
        std::printf("%s\n", out.dump(2).c_str());
        return;
    }

    // ---- the table ----
    std::printf("attend bench%s: %d repetition%s, median (min–max); ratio = torch time ÷ attend time (> 1: attend faster)\n",
                o.quick ? " --quick (smoke test: tiny shapes, numbers mean little)" : "", repeat, repeat == 1 ? "" : "s");
    std::printf("attend's kernels: %s (the CPU's best: %s; ATTEND_MAX_ISA caps them)\n", name_of(kernel_set),
                name_of(cpu_best_isa()));
    if (torch_info) {
        std::printf("torch %s, BLAS: %s\n", torch_info->hello().value("torch", "?").c_str(),
                    torch_info->hello().value("blas", "?").c_str());
        std::printf("torch's process per thread count (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset there):\n");
        for (int t : o.threads) {
            std::string env;
            for (const std::string& e : bench::torch_environment(t)) env += " " + e;
            std::printf("  %d thr:%s\n", t, env.c_str());
        }
    } else {
        std::printf("torch: unavailable (%s)\n", torch_reason.c_str());
    }

    std::printf("\nmachine limits, measured in this run");
    for (int t : o.threads) std::printf(" | %9d thr", t);
    std::printf("\n");
    auto limit_row = [&](const std::string& name, auto get) {
        std::printf("  %s", padded(name, 34).c_str());
        for (const Limits& l : limits) std::printf(" | %13s", number(get(l)).c_str());
        std::printf("\n");
    };
    limit_row("FMA peak (" + limits.front().fma_isa + "), GFLOP/s", [](const Limits& l) { return l.fma_gflops; });
    const double mib = limits.front().bandwidth_bytes / double(1 << 20);
    limit_row("read bandwidth (" + number(mib) + " MiB), GB/s", [](const Limits& l) { return l.bandwidth_gbs; });
    for (size_t g = 0; g < limits.front().sgemm.size(); ++g) {
        const Limits::Gemm& s = limits.front().sgemm[g];
        limit_row("SGEMM " + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) + ", GFLOP/s",
                  [g](const Limits& l) { return l.sgemm[g].gflops; });
    }
    limit_row("SGEMM GPT-2 block mix, GFLOP/s", [](const Limits& l) { return l.sgemm_model_gflops; });
    if (o.quick) std::printf("  (--quick: a 64 MiB buffer, which may partly sit in cache; a full run reads 1 GiB)\n");

    size_t label_width = 8;
    for (const Workload& w : workloads) label_width = std::max(label_width, w.label.size() + w.unit.size() + 3);
    std::printf("\n%s | dtype | thr | %-22s | %-22s | ratio | bound     | of limit\n",
                padded("workload", label_width).c_str(), "attend", "torch");
    std::printf("%s\n", std::string(label_width + 100, '-').c_str());
    std::vector<std::string> notes;
    for (size_t wi = 0; wi < workloads.size(); ++wi)
        for (size_t ti = 0; ti < o.threads.size(); ++ti) {
            const Workload& w = workloads[wi];
            const Cell c = cell_shown(wi, ti);
            const std::string ratio = c.torch.empty() ? "–" : number(c.torch.median() / c.attend.median()) + "×";
            char fraction[32];
            std::snprintf(fraction, sizeof fraction, "%.0f%%", 100 * fraction_of_limit(w, c, limits[ti]));
            std::printf("%s | %-5s | %3d | %s | %s | %5s | %-9s | %s\n",
                        padded(w.label + " [" + w.unit + "]", label_width).c_str(), w.dtype.c_str(), o.threads[ti],
                        padded(spread(w, c.attend), 22).c_str(),
                        padded(c.torch.empty() ? (c.torch_error.empty() ? "–" : "error") : spread(w, c.torch), 22).c_str(),
                        padded(ratio, 5).c_str(), bench::name_of(w.bound), fraction);
            if (!c.torch_error.empty() && torch_info)
                notes.push_back(w.label + ", " + std::to_string(o.threads[ti]) + " thr: torch: " + c.torch_error);
            if (!c.torch_autocast.empty())
                notes.push_back(w.label + ", " + std::to_string(o.threads[ti]) + " thr: torch bf16 autocast " +
                                "(torch.autocast(\"cpu\", dtype=torch.bfloat16) around the forward) " +
                                spread(w, c.torch_autocast) + " " + w.unit + ", ratio " +
                                number(c.torch_autocast.median() / c.attend.median()) + "×");
            if (!c.attend_prompt.empty()) {
                auto ms = [](const Stats& s) { return s.empty() ? std::string("–") : number(s.median() * 1e3) + " ms"; };
                notes.push_back(w.label + ", " + w.dtype + ", " + std::to_string(o.threads[ti]) +
                                " thr: prompt step (not in tok/s): attend " +
                                ms(c.attend_prompt) + ", torch " + ms(c.torch_prompt));
            }
            if (const double ceiling = ratio_at_limit(w, c, limits[ti]); !std::isnan(ceiling))
                notes.push_back(w.label + ", " + std::to_string(o.threads[ti]) + " thr: at most " + number(ceiling) +
                                "× torch on this machine (" +
                                (w.bound == bench::Bound::bandwidth ? "every weight byte at the read bandwidth"
                                                                    : "every useful FLOP at the FMA peak") +
                                "); measured " + number(c.torch.median() / c.attend.median()) + "×");
            if (!c.probe_gbs.empty()) {
                const auto [lo, hi] = std::minmax_element(c.probe_gbs.begin(), c.probe_gbs.end());
                notes.push_back(w.label + ", " + w.dtype + ", " + std::to_string(o.threads[ti]) +
                                " thr: read bandwidth probed next to each sample " + number(*lo) + "–" + number(*hi) +
                                " GB/s");
            }
        }
    std::printf("\n");
    for (const std::string& n : notes) std::printf("  %s\n", n.c_str());
    std::printf("\nwhat one timed call is:\n");
    std::vector<std::string> seen;
    for (const Workload& w : workloads) {
        if (std::find(seen.begin(), seen.end(), w.kind) != seen.end()) continue;
        seen.push_back(w.kind);
        std::printf("  %-9s %s\n", w.kind.c_str(), w.measured.c_str());
    }
    std::printf(
        "of limit: decode = weight bytes × tok/s ÷ the read bandwidth probed next to each sample (the higher of\n"
        "a probe before and one after; median over the samples); prefill, train = useful FLOP/s ÷ the SGEMM mix's rate; attention = useful FLOP/s ÷\n"
        "FMA peak (FLOP counts: tools/attend/bench_workloads.cpp). \"at most\": torch's time ÷ the time of the\n"
        "same work at the limit (f32 rows) — the largest ratio any engine could show here.\n");
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = std::min(text.find(',', start), text.size());
        if (comma > start) parts.push_back(text.substr(start, comma - start));
        start = comma + 1;
    }
    return parts;
}

}  // namespace

void register_bench(CLI::App& app) {
    auto o = std::make_shared<BenchCliOptions>();
    auto threads = std::make_shared<std::string>("1,2");
    auto workloads = std::make_shared<std::string>("decode,prefill,train,attention");
    auto dtypes = std::make_shared<std::string>("f32,bf16,int8");
    CLI::App* cmd = app.add_subcommand("bench", "Benchmark attend against PyTorch 1.13, next to the machine's limits");
    cmd->footer(
        "\nRuns, interleaved and repeated, GPT-2 small decode (16-token prompt, 128 new tokens,\n"
        "greedy, KV cache), a 512-token prefill, a training step (6 x 384, block 256, batch 4)\n"
        "and fused attention (T = 512, 2048, 8192), in attend and in PyTorch (bench/bench_torch.py,\n"
        "in its own process), and prints median (min–max), the ratio torch ÷ attend time and the\n"
        "fraction of the machine's limit each reaches. See docs/performance.md.\n\n"
        "Examples:\n"
        "  attend bench --quick\n"
        "  attend bench --workloads decode --threads 1 --repeat 1\n"
        "  attend bench --json > bench.json");
    cmd->add_flag("--quick", o->quick, "A seconds-long smoke test: tiny shapes, one repetition");
    cmd->add_flag("--json", o->json, "Print the numbers as JSON instead of a table");
    cmd->add_option("--threads", *threads, "Thread counts, comma-separated")->capture_default_str();
    cmd->add_option("--repeat", o->repeat, "Repetitions (default 3; --quick: 1)")->check(whole_number(1, 1000));
    cmd->add_option("--workloads", *workloads, "Comma-separated: decode, prefill, train, attention")
        ->capture_default_str();
    cmd->add_option("--dtypes", *dtypes, "Weight types for decode and prefill (train: f32 and bf16 mixed precision), comma-separated: f32, bf16, int8")
        ->capture_default_str();
    cmd->add_flag("--no-torch", o->no_torch, "attend only");
    cmd->add_option("--python", o->python, "Python with torch, for the PyTorch side")->capture_default_str();
    cmd->add_option("--torch-script", o->torch_script, "The PyTorch side's script")->capture_default_str();
    cmd->callback([o, threads, workloads, dtypes, cmd] {
        o->repeat_given = cmd->count("--repeat") > 0;
        o->threads.clear();
        for (const std::string& t : split_list(*threads)) {
            int n = 0;
            try {
                n = std::stoi(t);
            } catch (const std::exception&) {
            }
            if (n <= 0) throw Error("--threads: \"" + t + "\" is not a positive thread count");
            o->threads.push_back(n);
        }
        if (o->threads.empty()) throw Error("--threads: no thread count given");
        o->workloads = split_list(*workloads);
        if (o->workloads.empty()) throw Error("--workloads: none given");
        for (const std::string& w : o->workloads)
            if (w != "decode" && w != "prefill" && w != "train" && w != "attention")
                throw Error("--workloads: unknown workload \"" + w + "\" (decode, prefill, train, attention)");
        o->dtypes = split_list(*dtypes);
        if (o->dtypes.empty()) throw Error("--dtypes: none given");
        for (const std::string& d : o->dtypes)
            if (d != "f32" && d != "bf16" && d != "int8")
                throw Error("--dtypes: unknown weight type \"" + d + "\" (f32, bf16, int8)");
        run_bench(*o);
    });
}

}  // namespace attend::cli
