// tools/attend/bench.hpp — the parts of `attend bench` (bench.cpp), one concept per file:
//
//   bench_workloads.cpp  what is measured on attend's side, and how much work it is
//   bench_limits.cpp     the machine's limits, measured in the same run (FMA, bandwidth, SGEMM)
//   bench_torch.cpp      PyTorch's side: bench/bench_torch.py in a child process
//   bench.cpp            the command: options, the interleaved loop, the table and the JSON
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attend/tensor.hpp"

namespace attend::cli::bench {

// A GPT-2-shaped decoder (pre-norm, GELU-tanh, learned positions, tied head), as both sides
// build it.
struct GptShape {
    int64_t layers = 0, d = 0, heads = 0, vocab = 0, context = 0;
};

// Which machine limit bounds a workload, for its "of limit" column.
enum class Bound { bandwidth, sgemm, fma };
const char* name_of(Bound b);

// One row of the table (before threads): a workload at its shapes. Each side runs it and
// reports seconds per timed call; `units` turns that into the printed number.
//
// Decode and prefill rows come per weight type (f32, bf16, int8: attend's model converted by
// Transformer::convert_weights); PyTorch runs the f32 row only, and a low-precision row's
// ratio is against PyTorch's f32 (its best CPU setting for these shapes).
struct Workload {
    std::string kind;   // "decode" | "prefill" | "train" | "attention"
    std::string label;  // row label, e.g. "attention T=512 causal fwd+bwd"
    std::string measured;  // what one timed call is, in words (printed under the table)
    std::string dtype = "f32";
    GptShape model;        // decode, prefill, train
    int64_t prompt = 0, new_tokens = 0;  // decode
    int64_t T = 0;         // prefill tokens; attention length; train block size
    int64_t batch = 1;     // train
    int64_t heads = 0, head_dim = 0;     // attention
    bool causal = false, backward = false;  // attention

    // The printed number from seconds per timed call: tokens/s for decode and prefill
    // (`per_call` tokens per call), milliseconds otherwise.
    bool rate = false;
    double per_call = 1;
    std::string unit;      // "tok/s" | "ms/step" | "ms"
    double display(double seconds) const { return rate ? per_call / seconds : seconds * 1e3; }

    Bound bound = Bound::sgemm;
    double flops = 0;         // useful FLOPs per timed call (formulas in bench_workloads.cpp)
    double weight_bytes = 0;  // decode: bytes of weights read per token

    nlohmann::json torch_request() const;  // the request bench_torch.py answers
};

// The workload list: GPT-2 small (quick: a tiny GPT-2), the training recipe and attention
// at every T, for the kinds asked for (decode, prefill, train, attention).
// Decode and prefill come once per weight type in `dtypes` (f32, bf16, int8).
std::vector<Workload> make_workloads(const std::vector<std::string>& kinds, const std::vector<std::string>& dtypes,
                                     bool quick);

// A call this long is timed once: its warm-up call is its sample, and later repetitions skip
// it (both sides alike). Warm-up pays for first-call costs of milliseconds (models built,
// kernels JIT-compiled, pages touched); a call of ten seconds and more is not moved by them,
// and repeating PyTorch's naive attention at T = 8192 (30–110 s a call) made a full run last
// 37 minutes instead of about 15.
constexpr double kLongCallSeconds = 10.0;

// One timed sample.
struct Sample {
    double seconds = 0;         // per timed call
    double prompt_seconds = -1; // decode: the prompt step (prompt → first token), not in `seconds`
};

// attend's side: keeps its models between calls (built at a workload's first run, untimed).
class AttendRunner {
public:
    AttendRunner();
    ~AttendRunner();
    // warmup: one untimed call first (unless it took kLongCallSeconds or more: then it is the
    // sample). min_time: repeat the call until this many seconds passed (at least once) and
    // report the mean.
    Sample run(const Workload& w, bool warmup, double min_time);

private:
    struct Models;
    std::unique_ptr<Models> models_;
};

// The machine's limits at one thread count.
struct Limits {
    int threads = 0;
    std::string fma_isa;        // "avx512f" | "avx2+fma" | "scalar"
    double fma_gflops = 0;      // register-blocked FMA loop, all threads
    double bandwidth_gbs = 0;   // streaming sum, GB/s (1e9 bytes)
    double bandwidth_bytes = 0; // buffer size it was measured on
    struct Gemm {
        int64_t m, n, k, count;  // count: how often a GPT-2 block runs this shape (the mix)
        double gflops;
    };
    std::vector<Gemm> sgemm;    // attend::linear at the model's shapes
    double sgemm_model_gflops = 0;  // the shapes' mix: Σ flops / Σ time, weighted by count

    nlohmann::json to_json() const;
};

// The read bandwidth: every thread sums its slice of a buffer (1 GiB; --quick: 64 MiB) as 1,
// 2 and 8 streams, best of `passes` passes. One probe serves the whole run: the limits take
// it at each thread count, and a bandwidth-bound sample takes one pass just before and one just
// after it, because on a shared host the memory bandwidth drifts by tens of per cent within a
// minute (this VM, one thread, three runs a minute apart: 17.8, 19.4, 20.5 GB/s), so a decode
// rate set against a bandwidth from minutes earlier could read 60 % or 121 % of it.
class BandwidthProbe {
public:
    BandwidthProbe(bool quick, int threads);  // allocates the buffer, written by `threads` threads
    double gbs(int threads, int passes = 1);
    double bytes() const { return double(n_) * sizeof(float); }

private:
    int64_t n_;
    Tensor buffer_;  // (n_) floats
};

Limits measure_limits(int threads, bool quick, BandwidthProbe& probe);

// PyTorch's side at one thread count: bench/bench_torch.py in its own process. When it cannot
// run (no interpreter, no torch, the script died), available() is false and reason() says why.
class TorchChild {
public:
    TorchChild(const std::string& python, const std::string& script, int threads);
    ~TorchChild();
    TorchChild(const TorchChild&) = delete;
    TorchChild& operator=(const TorchChild&) = delete;

    bool available() const { return pid_ > 0; }
    const std::string& reason() const { return reason_; }
    const nlohmann::json& hello() const { return hello_; }  // {"torch", "threads", "blas"}

    // Sends a request and waits for its reply; a reply {"error": ...} is returned as such.
    // The child dying makes it unavailable, with the reason.
    nlohmann::json request(const nlohmann::json& r);

private:
    void fail(const std::string& why);
    std::string stderr_tail() const;

    int pid_ = -1;
    int to_child_ = -1;
    FILE* from_child_ = nullptr;
    std::string stderr_path_;
    std::string reason_;
    nlohmann::json hello_;
};

// Where the child's environment differs from ours (for the report): "LD_LIBRARY_PATH=...".
std::vector<std::string> torch_environment(int threads);

}  // namespace attend::cli::bench
