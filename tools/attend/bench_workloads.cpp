// tools/attend/bench_workloads.cpp — `attend bench`'s workloads: their shapes, how much
// useful work each is, and attend's side of running them (bench/bench_torch.py mirrors it).
//
// Useful FLOPs, counted explicitly (multiply–add = 2; biases, norms, softmax, embeddings and
// the optimizer left out; d = H·D the model width, L layers, V vocabulary):
//   per token, the blocks' matrices          2 · 12d² · L     (Q, K, V, out: 4d²; MLP 4d·d ·2)
//   attention over Tk keys, per query        4 · Tk · d · L   (QKᵀ and weights·V)
//     → a causal sequence of T tokens        2 · T² · d · L   (on average T/2 keys per query)
//   lm head, per position                    2 · V · d
//   prefill (T tokens, last logits only)     2·12d²·L·T + 2·T²·d·L + 2·V·d
//   training step (B sequences of T)         3 · B · (2·12d²·L·T + 2·T²·d·L + 2·V·d·T)
//                                            (backward ≈ 2 × forward: inputs' and weights' gradients)
//   fused attention, one (B=1, H, T, D)      forward 4·T²·D·H (× ½ causal); forward+backward 3 ×
//                                            that (dV, dP, dQ, dK; the fused backward's
//                                            recomputation of the scores is not useful work)
// Decode is bound by reading the weights: every parameter is read once per token (the tied
// token matrix as the lm head) except the position table, of which one row is read; the KV
// cache's reads are left out, so at long contexts the fraction shown is a lower bound.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <vector>

#include "attend/attention.hpp"
#include "attend/autograd.hpp"
#include "attend/buffer_reuse.hpp"
#include "attend/error.hpp"
#include "attend/generate/generate.hpp"
#include "attend/low_precision.hpp"
#include "attend/matmul_precision.hpp"
#include "attend/models/config.hpp"
#include "attend/models/transformer.hpp"
#include "attend/random.hpp"
#include "attend/train/optimizer.hpp"
#include "attend/train/trainer.hpp"
#include "bench.hpp"

namespace attend::cli::bench {

const char* name_of(Bound b) {
    switch (b) {
        case Bound::bandwidth: return "bandwidth";
        case Bound::sgemm: return "sgemm";
        case Bound::fma: return "fma";
    }
    return "?";
}

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Bytes per weight read by a decoding step: fp32 4, bf16 2, int8 1 plus a 4-byte scale per
// 32 values (low_precision.hpp).
double bytes_per_weight(const std::string& dtype) {
    switch (parse_weight_type(dtype)) {
        case WeightType::f32: return 4;
        case WeightType::bf16: return 2;
        case WeightType::int8: return 1 + 4.0 / double(LowPrecisionMatrix::kBlock);
    }
    return 4;
}

// The library's GPT-2 small preset, resized for --quick.
TransformerConfig gpt_config(const GptShape& s) {
    TransformerConfig c = gpt2_small();
    c.n_layers = s.layers, c.d_model = s.d, c.n_heads = s.heads, c.d_ff = 4 * s.d;
    c.vocab_size = s.vocab, c.max_positions = s.context;
    return c;
}

// nanoGPT's character-level recipe as `attend train --arch gpt` builds it.
TransformerConfig train_config(const GptShape& s) {
    TrainOptions o;
    o.layers = s.layers, o.heads = s.heads, o.dim = s.d, o.block_size = s.context;
    return training_config(o, s.vocab);
}

GptShape shape_of(const TransformerConfig& c) {
    return {c.n_layers, c.d_model, c.n_heads, c.vocab_size, c.max_positions};
}

// 2·12d²·L per token through the blocks; attention and head added by the callers.
double block_flops_per_token(const GptShape& s) { return 2.0 * 12 * double(s.d) * double(s.d) * double(s.layers); }
double causal_attention_flops(const GptShape& s, int64_t T) { return 2.0 * double(T) * double(T) * double(s.d) * double(s.layers); }
double head_flops_per_position(const GptShape& s) { return 2.0 * double(s.vocab) * double(s.d); }

std::string gpt_label(const GptShape& s) {
    return std::to_string(s.layers) + "L d" + std::to_string(s.d) + " V" + std::to_string(s.vocab);
}

}  // namespace

nlohmann::json Workload::torch_request() const {
    nlohmann::json r = {{"op", kind}, {"dtype", dtype}};
    if (kind == "attention") {
        r.update({{"T", T}, {"heads", heads}, {"head_dim", head_dim}, {"causal", causal}, {"backward", backward}});
        return r;
    }
    r.update({{"layers", model.layers}, {"d", model.d}, {"heads", model.heads}, {"vocab", model.vocab},
              {"context", model.context}});
    if (kind == "decode") r.update({{"prompt", prompt}, {"new_tokens", new_tokens}});
    if (kind == "prefill") r["T"] = T;
    if (kind == "train") r["batch"] = batch;
    return r;
}

std::vector<Workload> make_workloads(const std::vector<std::string>& kinds, const std::vector<std::string>& dtypes,
                                     bool quick) {
    auto wanted = [&](const char* kind) { return std::find(kinds.begin(), kinds.end(), kind) != kinds.end(); };
    std::vector<Workload> list;
    // GPT-2 small: 12 layers, d 768, 12 heads, V 50257, context 1024. --quick: a tiny one.
    GptShape gpt = shape_of(gpt2_small());
    if (quick) gpt = {2, 128, 4, 2048, 128};
    const std::string gpt_name = quick ? "tiny GPT-2 " + gpt_label(gpt) : "GPT-2 small";

    if (wanted("decode"))
        for (const std::string& dtype : dtypes) {
        Workload w;
        w.dtype = dtype;
        w.kind = "decode", w.model = gpt, w.prompt = quick ? 4 : 16, w.new_tokens = quick ? 8 : 128;
        w.label = "decode " + gpt_name + " " + std::to_string(w.prompt) + "+" + std::to_string(w.new_tokens);
        w.measured = "greedy generation with the KV cache; timed: new tokens 2.." + std::to_string(w.new_tokens) +
                     " (single-token steps); the prompt step that gives token 1 is reported separately (prompt_ms)";
        w.rate = true, w.per_call = double(w.new_tokens - 1), w.unit = "tok/s";
        w.bound = Bound::bandwidth;
        const TransformerConfig c = gpt_config(gpt);
        w.weight_bytes = bytes_per_weight(w.dtype) * double(parameter_count(c) - c.max_positions * c.d_model);
        list.push_back(w);
        }
    if (wanted("prefill"))
        for (const std::string& dtype : dtypes) {
        Workload w;
        w.dtype = dtype;
        w.kind = "prefill", w.model = gpt, w.T = quick ? 32 : 512;
        w.label = "prefill " + gpt_name + " T=" + std::to_string(w.T);
        w.measured = "one forward pass of T tokens through the blocks and the final norm, then the lm head on the "
                     "last position only (Transformer::hidden_states + head)";
        w.rate = true, w.per_call = double(w.T), w.unit = "tok/s";
        w.bound = Bound::sgemm;
        w.flops = block_flops_per_token(gpt) * double(w.T) + causal_attention_flops(gpt, w.T) +
                  head_flops_per_position(gpt);
        list.push_back(w);
        }
    if (wanted("train"))
        for (const std::string& dtype : dtypes) {
        // f32, and bf16 mixed precision (`attend train --precision bf16`) where the CPU has
        // AVX512-BF16; int8 is for inference only.
        if (dtype == "int8" || (dtype == "bf16" && !cpu_has_bf16_matmul())) continue;
        Workload w;
        w.dtype = dtype;
        // nanoGPT shakespeare_char's model (6 × 384, 6 heads, block 256) at batch 4, 65 characters.
        w.kind = "train", w.model = quick ? GptShape{2, 64, 2, 65, 32} : GptShape{6, 384, 6, 65, 256};
        w.T = w.model.context, w.batch = quick ? 2 : 4;
        w.label = "train " + std::to_string(w.model.layers) + "x" + std::to_string(w.model.d) + " block " +
                  std::to_string(w.T) + " batch " + std::to_string(w.batch);
        w.measured = "one AdamW step: forward, cross-entropy, backward, clip to norm 1, AdamW(0.9, 0.99, wd 0.1); "
                     "bf16: the linear layers' products in bf16, fp32 weights and optimizer (train --precision bf16); "
                     "torch: f32";
        w.unit = "ms/step";
        w.bound = Bound::sgemm;
        const GptShape& s = w.model;
        w.flops = 3.0 * double(w.batch) *
                  (block_flops_per_token(s) * double(w.T) + causal_attention_flops(s, w.T) +
                   head_flops_per_position(s) * double(w.T));
        list.push_back(w);
        }
    if (wanted("attention")) {
        const std::vector<int64_t> lengths = quick ? std::vector<int64_t>{512} : std::vector<int64_t>{512, 2048, 8192};
        for (bool causal : {false, true})
            for (bool backward : {false, true})
                for (int64_t T : lengths) {
                    Workload w;
                    w.kind = "attention", w.T = T, w.heads = 12, w.head_dim = 64, w.causal = causal,
                    w.backward = backward;
                    w.label = "attention T=" + std::to_string(T) + (causal ? " causal" : "") +
                              (backward ? " fwd+bwd" : " fwd");
                    w.measured = "attend::attention (fused) on q, k, v (1, 12, T, 64); torch: softmax(QKᵀ/√D + mask) V";
                    w.unit = "ms";
                    w.bound = Bound::fma;
                    w.flops = 4.0 * double(T) * double(T) * double(w.head_dim * w.heads) * (causal ? 0.5 : 1.0) *
                              (backward ? 3.0 : 1.0);
                    list.push_back(w);
                }
    }
    return list;
}

// ---- attend's side -----------------------------------------------------------------------

struct AttendRunner::Models {
    std::map<std::string, std::unique_ptr<Transformer>> inference;  // by gpt_label
    struct Training {
        std::unique_ptr<Transformer> model;
        NamedParameters params;
        std::unique_ptr<AdamW> optimizer;
        Generator dropout{7};
    };
    std::map<std::string, Training> training;

    // The same random model in each weight type (the low-precision ones converted from it).
    const Transformer& inference_model(const GptShape& s, const std::string& dtype) {
        auto& m = inference[gpt_label(s) + " " + dtype];
        if (!m) {
            m = std::make_unique<Transformer>(gpt_config(s), uint64_t(0));
            m->convert_weights(parse_weight_type(dtype));
        }
        return *m;
    }
    Training& training_model(const GptShape& s) {
        Training& t = training[gpt_label(s) + " train"];
        if (!t.model) {
            t.model = std::make_unique<Transformer>(train_config(s), uint64_t(0));
            t.params = t.model->parameters();
            for (auto& [name, p] : t.params) p->requires_grad_(true);
            t.optimizer = std::make_unique<AdamW>(t.params, AdamWOptions{0.9f, 0.99f, 1e-8f, 0.1f});
        }
        return t;
    }
};

AttendRunner::AttendRunner() : models_(std::make_unique<Models>()) {}
AttendRunner::~AttendRunner() = default;

namespace {

// Per-call seconds of fn: one untimed call when warmup, then calls until min_time has passed.
// A warm-up call of kLongCallSeconds or more is the sample itself (bench.hpp).
template <class Fn>
double timed(Fn&& fn, bool warmup, double min_time) {
    if (warmup) {
        const auto start = Clock::now();
        fn();
        if (const double first = since(start); first >= kLongCallSeconds) return first;
    }
    int64_t calls = 0;
    const auto start = Clock::now();
    for (;;) {
        fn();
        ++calls;
        const double elapsed = since(start);
        if (elapsed >= min_time) return elapsed / double(calls);
    }
}

std::vector<int64_t> random_ids(int64_t n, int64_t vocab, uint64_t seed) {
    Generator gen(seed);
    const Tensor u = Tensor::uniform({n}, gen, 0.f, float(vocab));
    std::vector<int64_t> ids(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = std::min<int64_t>(vocab - 1, int64_t(u.data()[i]));
    return ids;
}

}  // namespace

Sample AttendRunner::run(const Workload& w, bool warmup, double min_time) {
    if (w.kind == "decode") {
        const Transformer& model = models_->inference_model(w.model, w.dtype);
        const std::vector<std::vector<int64_t>> prompt = {random_ids(w.prompt, w.model.vocab, 1)};
        GenerateOptions options;
        options.max_new_tokens = w.new_tokens;
        options.temperature = 0.f;  // greedy
        // Token 1 comes from the prompt step; tokens 2..N each from one single-token step.
        auto once = [&] {
            std::vector<Clock::time_point> at;
            const auto start = Clock::now();
            const auto out = generate(model, prompt, options, [&](int64_t, int64_t) { at.push_back(Clock::now()); });
            ATTEND_CHECK(int64_t(at.size()) == w.new_tokens, "attend bench: decode made ", at.size(), " tokens, not ",
                         w.new_tokens);
            Sample s;
            s.prompt_seconds = std::chrono::duration<double>(at.front() - start).count();
            s.seconds = std::chrono::duration<double>(at.back() - at.front()).count();
            return s;
        };
        if (warmup) once();
        return once();
    }
    if (w.kind == "prefill") {
        const Transformer& model = models_->inference_model(w.model, w.dtype);
        TokenBatch tokens{random_ids(w.T, w.model.vocab, 2), {1, w.T}, {}, {}};
        return {timed(
            [&] {
                NoGradGuard no_grad;
                const Tensor h = model.hidden_states(tokens);             // (1, T, E)
                const Tensor logits = model.head(h.slice(1, w.T - 1, w.T));  // (1, 1, V)
                (void)logits;
            },
            warmup, min_time)};
    }
    if (w.kind == "train") {
        Models::Training& t = models_->training_model(w.model);
        // Random characters: the step's cost does not depend on the text.
        TokenBatch x{random_ids(w.batch * w.T, w.model.vocab, 3), {w.batch, w.T}, {}, {}};
        const std::vector<int64_t> y = random_ids(w.batch * w.T, w.model.vocab, 4);
        const ForwardMode mode{true, &t.dropout, AttentionPath::fused};
        const BufferReuse reuse;  // as `attend train` steps (attend/buffer_reuse.hpp)
        const MatmulPrecisionScope precision(w.dtype == "bf16" ? MatmulPrecision::bf16 : MatmulPrecision::f32);
        return {timed(
            [&] {
                t.optimizer->zero_grad();
                Tensor loss = Transformer::loss(t.model->forward(x, mode), y);  // logits (B, T, V)
                loss.backward();
                clip_grad_norm(t.params, 1.f);
                t.optimizer->step(1e-3f);
            },
            warmup, min_time)};
    }
    if (w.kind == "attention") {
        Generator gen(0);
        const Shape shape{1, w.heads, w.T, w.head_dim};
        Tensor q = Tensor::randn(shape, gen), k = Tensor::randn(shape, gen), v = Tensor::randn(shape, gen),
               dout = Tensor::randn(shape, gen);
        if (w.backward) {
            q.requires_grad_();
            k.requires_grad_();
            v.requires_grad_();
        }
        AttentionMask mask;
        mask.causal = w.causal;
        return {timed(
            [&] {
                const Tensor out = attention(q, k, v, mask).output;  // (1, H, T, D)
                if (w.backward) {
                    out.backward(dout);
                    q.zero_grad();
                    k.zero_grad();
                    v.zero_grad();
                }
            },
            warmup, min_time)};
    }
    throw Error("attend bench: unknown workload " + w.kind);
}

}  // namespace attend::cli::bench
