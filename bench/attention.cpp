// bench/attention.cpp — fused vs reference attention, forward and forward+backward.
//
// Shapes follow the issue: B = 1, 12 heads, head dim 64, T ∈ {512, 2048, 8192}, 1 and 2
// threads. bench/run_attention.py runs this next to PyTorch 1.13 and prints the ratios.
#include <benchmark/benchmark.h>

#include <memory>

#include "attend/attention.hpp"
#include "attend/autograd.hpp"
#include "attend/nn/multi_head_attention.hpp"
#include "attend/parallel.hpp"
#include "attend/random.hpp"

using namespace attend;

namespace {

constexpr int64_t kHeads = 12, kHeadDim = 64;

// args: T, threads, path (0 reference, 1 fused), backward (0/1), causal (0/1)
void BM_Attention(benchmark::State& state) {
    const int64_t T = state.range(0);
    set_num_threads(int(state.range(1)));
    const AttentionPath path = state.range(2) ? AttentionPath::fused : AttentionPath::reference;
    const bool backward = state.range(3) != 0;
    AttentionMask mask;
    mask.causal = state.range(4) != 0;
    Generator gen(0);
    Tensor q = Tensor::randn({1, kHeads, T, kHeadDim}, gen), k = Tensor::randn({1, kHeads, T, kHeadDim}, gen),
           v = Tensor::randn({1, kHeads, T, kHeadDim}, gen), dout = Tensor::randn({1, kHeads, T, kHeadDim}, gen);
    if (backward) {
        q.requires_grad_();
        k.requires_grad_();
        v.requires_grad_();
    }
    AttentionOptions options;
    options.path = path;
    for (auto _ : state) {
        Tensor out = attention(q, k, v, mask, options).output;
        if (backward) {
            out.backward(dout);
            q.zero_grad();
            k.zero_grad();
            v.zero_grad();
        }
        benchmark::DoNotOptimize(out.data());
    }
    // QKᵀ and PV: 4·T²·D per head forward; backward adds ~2.5× that (with recompute in fused).
    const double flops = 4.0 * double(T) * double(T) * kHeadDim * kHeads * (backward ? 3.5 : 1.0) *
                         (mask.causal ? 0.5 : 1.0);
    state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(std::string(path == AttentionPath::fused ? "fused" : "reference") +
                   (backward ? " fwd+bwd" : " fwd") + (mask.causal ? " causal" : ""));
}

void attention_args(benchmark::internal::Benchmark* b) {
    for (int64_t causal : {0, 1})
        for (int64_t backward : {0, 1})
            for (int64_t threads : {1, 2})
                for (int64_t T : {512, 2048, 8192})
                    for (int64_t path : {0, 1}) b->Args({T, threads, path, backward, causal});
    b->ArgNames({"T", "threads", "fused", "backward", "causal"});
    b->Unit(benchmark::kMillisecond);
    b->UseRealTime();
}

// The whole multi-head layer (E = 768, 12 heads: projections + fused attention), to set
// beside torch.nn.MultiheadAttention. args: T, threads, backward.
void BM_MultiHeadAttention(benchmark::State& state) {
    const int64_t T = state.range(0);
    set_num_threads(int(state.range(1)));
    const bool backward = state.range(2) != 0;
    Generator gen(0);
    MultiHeadAttention mha({.embed_dim = kHeads * kHeadDim, .n_heads = kHeads}, gen);
    Tensor x = Tensor::randn({1, T, kHeads * kHeadDim}, gen), dout = Tensor::randn({1, T, kHeads * kHeadDim}, gen);
    if (backward) x.requires_grad_();
    for (auto _ : state) {
        std::unique_ptr<NoGradGuard> no_grad = backward ? nullptr : std::make_unique<NoGradGuard>();
        Tensor out = mha.forward(x);
        if (backward) {
            out.backward(dout);
            x.zero_grad();
            zero_grad(parameters_of(mha));
        }
        benchmark::DoNotOptimize(out.data());
    }
    state.SetLabel(backward ? "mha fwd+bwd" : "mha fwd");
}

void mha_args(benchmark::internal::Benchmark* b) {
    for (int64_t backward : {0, 1})
        for (int64_t threads : {1, 2})
            for (int64_t T : {512, 2048, 8192}) b->Args({T, threads, backward});
    b->ArgNames({"T", "threads", "backward"});
    b->Unit(benchmark::kMillisecond);
    b->UseRealTime();
}

}  // namespace

BENCHMARK(BM_Attention)->Apply(attention_args);
BENCHMARK(BM_MultiHeadAttention)->Apply(mha_args);
BENCHMARK_MAIN();
